/**
 * "Log in again": what the hub offers a user whose stored login no longer
 * works for a back-end acting as them (FirecREST refused their token, their
 * refresh token expired). A spawner says so with an error of HTTP status 401.
 */
import type { Hub } from './context.js';

/** True for an error of a spawner (or the hub) that means "the user must log in again": one carrying HTTP status 401. */
export function needsLoginAgain(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { status?: unknown }).status === 401;
}

/**
 * Where a fresh login starts and comes back to `next` (a local path): the
 * redirect login (`oauth_login`, which asks the identity provider again even
 * while the hub session lasts, so new tokens are stored), else the login page.
 */
export function loginAgainUrl(hub: Pick<Hub, 'authenticator' | 'urls'>, next: string): string {
  const a = hub.authenticator;
  const path = a.startLogin && a.finishLogin ? 'oauth_login' : 'login';
  return `${hub.urls.hub}${path}?next=${encodeURIComponent(next)}`;
}
