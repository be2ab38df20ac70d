import type { CullConfig } from './culler-config.js';

/** The options a culling decision needs (`cull:` without `enabled`, or `ganymede cull`'s flags). */
export type CullRules = Pick<CullConfig, 'timeout' | 'max_age' | 'admin_users'>;

/**
 * A server as the decision needs it: a database row (`ready` 0/1) or a REST
 * server model (`ready` boolean) both fit. Times are ISO-8601 strings.
 */
export interface CullableServer {
  started?: string | null | undefined;
  last_activity?: string | null | undefined;
  pending?: string | null | undefined;
  ready?: boolean | number | undefined;
}

/** Its owner: a row (`admin` 0/1) or a REST user model (`admin` boolean, absent without the scope). */
export interface CullableUser {
  admin?: boolean | number | undefined;
}

/** When and why a server is culled. */
export interface CullTime {
  at: Date;
  reason: 'inactive' | 'max_age';
}

const parse = (iso: string | null | undefined): number | undefined => {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
};

/**
 * When the culler stops `server` under `rules`, and why, as
 * jupyterhub-idle-culler decides: `timeout` seconds after its last activity
 * (its start when it has none), or `max_age` seconds after its start (when
 * set), whichever comes first. Null when it is never culled: not running, an
 * action pending (a spawn or stop in flight is left alone), an admin's with
 * `admin_users: false`, or no time known at all. `enabled` is not looked at.
 */
export function cullTime(server: CullableServer, user: CullableUser, rules: CullRules): CullTime | null {
  if (server.pending) return null;
  if (server.ready !== undefined && !server.ready) return null;
  if (!rules.admin_users && (user.admin === true || user.admin === 1)) return null;
  const started = parse(server.started);
  const last = parse(server.last_activity) ?? started;
  let best: CullTime | null = last === undefined ? null : { at: new Date(last + rules.timeout * 1000), reason: 'inactive' };
  if (rules.max_age > 0 && started !== undefined) {
    const old = started + rules.max_age * 1000;
    if (!best || old < best.at.getTime()) best = { at: new Date(old), reason: 'max_age' };
  }
  return best;
}

/**
 * When the hub's built-in culler would stop `server` (for the admin page):
 * null when culling is off (`cull.enabled: false`) or the server is never
 * culled (see {@link cullTime}). A time at or before `now` means the next
 * round (within `cull.every` seconds) stops it.
 */
export function cullAt(server: CullableServer, user: CullableUser, cull: CullConfig, now: Date = new Date()): Date | null {
  if (!cull.enabled) return null;
  void now; // the time is absolute; `now` is kept in the signature for callers that show "in 5 min"
  return cullTime(server, user, cull)?.at ?? null;
}

/** Whether `server` is due at `now`, and why (the culler's per-server decision). */
export function cullDue(server: CullableServer, user: CullableUser, rules: CullRules, now: Date): CullTime | null {
  const t = cullTime(server, user, rules);
  return t && t.at.getTime() <= now.getTime() ? t : null;
}

/**
 * Whether a user with no server running is to be deleted (`cull.users`):
 * idle `timeout` seconds since their last activity (or creation, when the
 * token may read it and there is no activity). Admins are never deleted
 * when `admin_users` is false; a user whose times are unknown is kept.
 */
export function userCullDue(user: CullableUser & { last_activity?: string | null; created?: string | null }, rules: CullRules, now: Date): boolean {
  if (!rules.admin_users && (user.admin === true || user.admin === 1)) return false;
  const last = parse(user.last_activity) ?? parse(user.created);
  return last !== undefined && last + rules.timeout * 1000 <= now.getTime();
}
