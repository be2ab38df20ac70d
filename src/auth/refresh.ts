import type { Logger } from 'pino';
import type { Hub } from '../hub/context.js';
import { deleteSession } from '../db/repos/sessions.js';
import { deleteTokensOfSession } from '../db/repos/tokens.js';
import { getUserById, type UserRow } from '../db/repos/users.js';
import { isoNow } from '../lib/time.js';
import { AuthError } from './auth-error.js';
import { decryptAuthState, encryptAuthState } from './auth-state.js';
import { admitUser } from './admit-user.js';

/** The message of every failed refresh: the user must log in again. */
export const LOGIN_AGAIN = 'Your login has expired or is no longer valid: please log in again.';

/** The refusal a failed refresh becomes (401, "please log in again"): a page or JSON by the request's URL. */
export function loginAgainError(): AuthError {
  return new AuthError(401, LOGIN_AGAIN);
}

/**
 * Asks the authenticator to refresh a user's credentials
 * (`Authenticator.refreshUser`). Returns the user as updated (auth state,
 * groups, admin re-evaluated by {@link admitUser}), or null when the user
 * must log in again: then every session of the user has been ended. A
 * backend without `refreshUser` is never asked (the user is returned as is).
 * An error of the backend (identity provider unreachable, bad answer) counts
 * as a failed refresh, logged; it never becomes a 500. Requests of one user
 * arriving while a refresh of theirs is under way wait for it and share its
 * outcome (single-use refresh tokens are spent once).
 */
export async function refreshAuth(hub: Hub, user: UserRow, opts: RefreshOptions): Promise<UserRow | null> {
  if (!hub.authenticator.refreshUser) return user;
  // One refresh per user at a time: requests arriving together share it. Providers that rotate
  // refresh tokens refuse a token used twice, so a second refresh at once would log the user out.
  let running = inFlight.get(hub);
  if (!running) inFlight.set(hub, (running = new Map()));
  const joined = running.get(user.id);
  if (joined) return joined;
  const p = refreshOnce(hub, user, opts).finally(() => running.delete(user.id));
  running.set(user.id, p);
  return p;
}

/** How {@link refreshAuth} runs. */
export interface RefreshOptions {
  force: boolean;
  log: Logger;
  /**
   * Not on behalf of a request of the user (a spawner renewing the user's
   * token for a poll): an identity provider that cannot be reached, or an
   * error of the backend, ends none of the user's sessions (the next request
   * of theirs tries again); only a refusal does.
   */
  background?: boolean;
}

/** The refreshes under way, per hub and user id (see {@link refreshAuth}). */
const inFlight = new WeakMap<Hub, Map<number, Promise<UserRow | null>>>();

async function refreshOnce(hub: Hub, given: UserRow, opts: RefreshOptions): Promise<UserRow | null> {
  const a = hub.authenticator;
  if (!a.refreshUser) return given;
  const log = opts.log.child({ user: given.name });
  // the row as stored now: a refresh that ended just before this one began has spent the old tokens
  const user = (await getUserById(hub.db, given.id)) ?? given;
  if (!opts.force && user.last_refresh !== given.last_refresh) return user;
  try {
    const authState = decryptAuthState(hub.crypt, user.auth_state, log);
    const result = await a.refreshUser({ name: user.name, authState }, { force: opts.force, log });
    if (result === 'unchanged') {
      const now = isoNow();
      await hub.db.updateTable('users').set({ last_refresh: now }).where('id', '=', user.id).execute();
      hub.identities.clear();
      return { ...user, last_refresh: now };
    }
    if (result) return await admitUser(hub, result, { log, expectName: user.name });
    log.info('refresh failed: the user must log in again');
    // refused: the refresh token is spent, so it is dropped (no later call asks the provider with it again)
    if (authState && typeof authState['refresh_token'] === 'string') await dropRefreshToken(hub, user.id, authState, log);
  } catch (err) {
    log.warn({ err: (err as Error).message, status: (err as AuthError).status }, 'refresh failed: the user must log in again');
    if (opts.background) return null;
  }
  await endUserSessions(hub, user.id);
  return null;
}

/**
 * On a request authenticated by the login cookie: refreshes the user when
 * the last refresh is older than `auth.auth_refresh_age` (never otherwise,
 * so an ordinary request writes nothing). Throws the 401 "please log in
 * again" refusal when the refresh fails (the sessions are ended).
 */
export async function refreshIfStale(hub: Hub, user: UserRow, log: Logger): Promise<UserRow> {
  const age = hub.config.auth.auth_refresh_age;
  if (!age || !hub.authenticator.refreshUser) return user;
  const last = user.last_refresh ? Date.parse(user.last_refresh) : Number.NaN;
  if (Number.isFinite(last) && Date.now() - last < age * 1000) return user;
  const fresh = await refreshAuth(hub, user, { force: false, log });
  if (!fresh) throw loginAgainError();
  return fresh;
}

/**
 * `auth.refresh_pre_spawn`: refreshes the user (forced) before a spawn.
 * Throws the 401 "please log in again" refusal when it fails (sessions ended).
 */
export async function refreshBeforeSpawn(hub: Hub, user: UserRow, log: Logger): Promise<UserRow> {
  if (!hub.config.auth.refresh_pre_spawn || !hub.authenticator.refreshUser) return user;
  const current = (await getUserById(hub.db, user.id)) ?? user;
  const fresh = await refreshAuth(hub, current, { force: true, log });
  if (!fresh) throw loginAgainError();
  return fresh;
}

/** Saves the user's auth state without its refresh token (one the provider refused). */
async function dropRefreshToken(hub: Hub, userId: number, authState: Record<string, unknown>, log: Logger): Promise<void> {
  const rest = { ...authState };
  delete rest['refresh_token'];
  const stored = encryptAuthState(hub.crypt, rest, log);
  if (stored !== undefined) await hub.db.updateTable('users').set({ auth_state: stored }).where('id', '=', userId).execute();
}

/** Ends every login session of a user (and the tokens issued to them). */
export async function endUserSessions(hub: Hub, userId: number): Promise<void> {
  const sessions = await hub.db.selectFrom('sessions').select('id').where('user_id', '=', userId).execute();
  for (const s of sessions) {
    await deleteTokensOfSession(hub.db, s.id);
    await deleteSession(hub.db, s.id);
  }
  hub.identities.clear();
}
