/**
 * The users' own access tokens for back-ends that act as the user
 * (FirecREST): read from the encrypted auth state, refreshed through the
 * authenticator when they are about to expire or were refused, the rotated
 * tokens saved by the refresh itself (refresh.ts). Nothing is cached in the
 * process: every hub process reads the same row.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { DB } from '../db/schema.js';
import type { Hub } from '../hub/context.js';
import type { CryptKeeper } from '../lib/crypto.js';
import { getUser, type UserRow } from '../db/repos/users.js';
import type { UserAccessToken, UserTokens } from '../spawners/spawner.js';
import { decryptAuthState } from './auth-state.js';
import { LOGIN_AGAIN, refreshAuth } from './refresh.js';

/** Seconds of validity a handed-out token must still have; less, and it is refreshed first (a call must not carry a token that expires on the way). */
export const TOKEN_MIN_VALIDITY_S = 60;

/** Where tokens are read, and how a user's login is renewed (undefined: it cannot be, e.g. from the command line). */
interface TokenSource {
  db: Kysely<DB>;
  crypt: CryptKeeper;
  /** Renews the user's login (forced); the user as saved after it, or null when they must log in again (their sessions then end). */
  renew?: (user: UserRow, log: Logger) => Promise<UserRow | null>;
}

/** The hub's {@link UserTokens}, reading `hub()` at each call (the hub is built after its spawners). */
export function hubUserTokens(hub: () => Hub): UserTokens {
  return {
    accessToken: (userName, opts) => {
      const h = hub();
      const renew = h.authenticator.refreshUser ? (user: UserRow, log: Logger) => refreshAuth(h, user, { force: true, log, background: true }) : undefined;
      return accessToken({ db: h.db, crypt: h.crypt, ...(renew ? { renew } : {}) }, userName, opts);
    },
  };
}

/**
 * {@link UserTokens} that only read what is stored and never renew a login
 * (`ganymede stop` runs without the hub, its authenticator and its hooks): a
 * token with less than {@link TOKEN_MIN_VALIDITY_S} left, or a refresh asked
 * for, answers `loginAgain`.
 */
export function storedUserTokens(db: Kysely<DB>, crypt: CryptKeeper): UserTokens {
  return { accessToken: (userName, opts) => accessToken({ db, crypt }, userName, opts) };
}

async function accessToken(src: TokenSource, userName: string, opts: { refresh?: boolean; log: Logger }): Promise<UserAccessToken> {
  const log = opts.log.child({ user: userName });
  try {
    const user = await getUser(src.db, userName);
    if (!user) return { loginAgain: `There is no hub user ${JSON.stringify(userName)}: please log in.` };
    const stored = tokenOf(decryptAuthState(src.crypt, user.auth_state, log));
    // no token kept for the user (another login, or none yet): a refresh has nothing to start from, and must not end their sessions
    if (!stored) return { loginAgain: `${LOGIN_AGAIN} (the hub keeps no access token from your login)` };
    if (!opts.refresh && validLongEnough(stored)) return handedOut(stored);
    // no refresh token (none issued, or dropped when the provider refused it): nothing to renew with, no provider to ask
    if (!stored.refreshable) return { loginAgain: LOGIN_AGAIN };
    if (!src.renew) return { loginAgain: `${LOGIN_AGAIN} (your access token ${opts.refresh ? 'was refused' : 'expires'} and cannot be renewed here)` };
    const fresh = await src.renew(user, log);
    if (!fresh) return { loginAgain: LOGIN_AGAIN };
    const renewed = tokenOf(decryptAuthState(src.crypt, fresh.auth_state, log));
    if (!renewed) return { loginAgain: `${LOGIN_AGAIN} (the identity provider gave no access token)` };
    // a backend that answered "unchanged" gives the same token back: no use to a caller that needed a new one
    if (renewed.token === stored.token && (opts.refresh || !validLongEnough(renewed))) {
      return { loginAgain: `${LOGIN_AGAIN} (your access token could not be renewed)` };
    }
    return handedOut(renewed);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not read or renew the user access token');
    return { loginAgain: LOGIN_AGAIN };
  }
}

function validLongEnough(t: { expiresAt?: number }): boolean {
  return t.expiresAt === undefined || t.expiresAt - TOKEN_MIN_VALIDITY_S > Date.now() / 1000;
}

/** What a caller gets of a stored token: the token and its expiry. */
function handedOut(t: { token: string; expiresAt?: number }): UserAccessToken {
  return t.expiresAt === undefined ? { token: t.token } : { token: t.token, expiresAt: t.expiresAt };
}

/** The access token (and its expiry, Unix seconds) in an auth state, when it holds one, and whether a refresh token came with it. */
function tokenOf(authState: Record<string, unknown> | null): { token: string; expiresAt?: number; refreshable: boolean } | undefined {
  const token = authState?.['access_token'];
  if (typeof token !== 'string' || token === '') return undefined;
  const exp = authState?.['expires_at'];
  const refreshable = typeof authState?.['refresh_token'] === 'string' && authState['refresh_token'] !== '';
  return typeof exp === 'number' && Number.isFinite(exp) ? { token, expiresAt: exp, refreshable } : { token, refreshable };
}
