import type { Hub } from './context.js';
import type { Requester } from './service-identity.js';
import { touchUserActivity } from '../db/repos/users.js';

/** A user's last activity is written at most this often by their requests (JupyterHub's `activity_resolution`, 30 s). */
export const REQUEST_ACTIVITY_RESOLUTION_MS = 30_000;

/** A user row's last_activity as a time, parsed once per row and value (a cached identity's row is read by every request). */
const parsedActivity = new WeakMap<object, { text: string; at: number }>();
function activityTime(user: { last_activity: string | null }): number {
  if (!user.last_activity) return Number.NaN;
  const seen = parsedActivity.get(user);
  if (seen && seen.text === user.last_activity) return seen.at;
  const at = Date.parse(user.last_activity);
  parsedActivity.set(user, { text: user.last_activity, at });
  return at;
}

/**
 * Records an authenticated request as its user's activity, as JupyterHub
 * does for every request with a login cookie or a token: a user who uses
 * the hub's pages or API without a running server is active (the idle
 * culler's `cull.users` must not delete them). Not for the calls a server
 * makes with its own token (kind `server`: activity reports, token checks),
 * nor for services. Written at most every
 * {@link REQUEST_ACTIVITY_RESOLUTION_MS} per user, without making the
 * request wait; a failed write is logged.
 */
export function noteRequestActivity(hub: Pick<Hub, 'db' | 'log'>, who: Requester | null, now: number = Date.now()): void {
  if (!who || who.kind !== 'user') return;
  if (who.token?.kind === 'server') return;
  const last = activityTime(who.user);
  if (last > now - REQUEST_ACTIVITY_RESOLUTION_MS) return;
  const when = new Date(now).toISOString();
  who.user.last_activity = when; // the same identity (cached for a second) writes once
  void touchUserActivity(hub.db, who.user.id, when).catch((err: Error) => hub.log.warn({ user: who.user.name, err: err.message }, "could not record the user's activity"));
}
