/**
 * The users' own access tokens for back-ends that act as the user
 * (FirecREST): read from the encrypted auth state, refreshed through the
 * authenticator when they are about to expire or were refused, the rotated
 * tokens saved by the refresh itself (refresh.ts). Nothing is cached in the
 * process: every hub process reads the same row.
 */
import type { Logger } from 'pino';
import type { Hub } from '../hub/context.js';
import { getUser } from '../db/repos/users.js';
import type { UserAccessToken, UserTokens } from '../spawners/spawner.js';
import { decryptAuthState } from './auth-state.js';
import { LOGIN_AGAIN, refreshAuth } from './refresh.js';

/** Seconds of validity a handed-out token must still have; less, and it is refreshed first (a call must not carry a token that expires on the way). */
export const TOKEN_MIN_VALIDITY_S = 60;

/** The hub's {@link UserTokens}, reading `hub()` at each call (the hub is built after its spawners). */
export function hubUserTokens(hub: () => Hub): UserTokens {
  return {
    accessToken: (userName, opts) => accessToken(hub(), userName, opts),
  };
}

async function accessToken(hub: Hub, userName: string, opts: { refresh?: boolean; log: Logger }): Promise<UserAccessToken> {
  const log = opts.log.child({ user: userName });
  try {
    const user = await getUser(hub.db, userName);
    if (!user) return { loginAgain: `There is no hub user ${JSON.stringify(userName)}.` };
    const stored = tokenOf(decryptAuthState(hub.crypt, user.auth_state, log));
    const nowS = Math.floor(Date.now() / 1000);
    if (stored && !opts.refresh && (stored.expiresAt === undefined || stored.expiresAt - TOKEN_MIN_VALIDITY_S > nowS)) return stored;
    if (!hub.authenticator.refreshUser) {
      return stored && !opts.refresh ? stored : { loginAgain: `${LOGIN_AGAIN} (the login of this hub cannot renew an access token)` };
    }
    const fresh = await refreshAuth(hub, user, { force: true, log });
    if (!fresh) return { loginAgain: LOGIN_AGAIN };
    const renewed = tokenOf(decryptAuthState(hub.crypt, fresh.auth_state, log));
    return renewed ?? { loginAgain: `${LOGIN_AGAIN} (the identity provider gave no access token)` };
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not read or renew the user access token');
    return { loginAgain: `${LOGIN_AGAIN} (${(err as Error).message})` };
  }
}

/** The access token (and its expiry, Unix seconds) in an auth state, when it holds one. */
function tokenOf(authState: Record<string, unknown> | null): { token: string; expiresAt?: number } | undefined {
  const token = authState?.['access_token'];
  if (typeof token !== 'string' || token === '') return undefined;
  const exp = authState?.['expires_at'];
  return typeof exp === 'number' && Number.isFinite(exp) ? { token, expiresAt: exp } : { token };
}
