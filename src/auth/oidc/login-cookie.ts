import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isSecureRequest } from '../../hub/cookies.js';

/** The short-lived cookie that carries one login attempt from `oauth_login` to `oauth_callback`. */
export const OIDC_LOGIN_COOKIE = 'ganymede-oidc-login';

/** How long a login attempt may take at the provider (seconds). */
export const LOGIN_COOKIE_MAX_AGE = 600;

/** What the hub remembers of a login attempt, signed with the hub's cookie secret. */
export interface PendingLogin {
  state: string;
  nonce: string;
  verifier: string;
  /** The redirect_uri sent to the provider: the token request must repeat it exactly. */
  callback: string;
  next?: string;
  /** Unix seconds after which the attempt is refused, whatever the browser keeps. */
  exp: number;
}

/** Sets the signed, HttpOnly login-attempt cookie, scoped to the hub's prefix. */
export function setPendingLogin(req: FastifyRequest, reply: FastifyReply, hubPath: string, pending: PendingLogin): void {
  reply.setCookie(OIDC_LOGIN_COOKIE, JSON.stringify(pending), {
    httpOnly: true,
    // Lax: the provider sends the browser back with a top-level GET, which carries Lax cookies.
    sameSite: 'lax',
    secure: isSecureRequest(req),
    path: hubPath,
    maxAge: LOGIN_COOKIE_MAX_AGE,
    signed: true,
  });
}

/** Clears the login-attempt cookie (a login attempt is used once, whatever its outcome). */
export function clearPendingLogin(reply: FastifyReply, hubPath: string): void {
  reply.clearCookie(OIDC_LOGIN_COOKIE, { path: hubPath });
}

/**
 * The login attempt in the request's cookie, or a sentence saying why there is
 * none usable: absent, signature wrong (tampered), unreadable or expired.
 */
export function readPendingLogin(req: FastifyRequest, now = Date.now()): PendingLogin | string {
  const raw = req.cookies[OIDC_LOGIN_COOKIE];
  if (!raw) return 'no login is in progress in this browser (the login cookie is missing: cookies blocked, another browser, or the attempt already finished)';
  const unsigned = req.unsignCookie(raw);
  if (!unsigned.valid || unsigned.value === null) return 'the login cookie has a wrong signature';
  let p: Partial<PendingLogin>;
  try {
    p = JSON.parse(unsigned.value) as Partial<PendingLogin>;
  } catch {
    return 'the login cookie cannot be read';
  }
  const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
  if (!str(p.state) || !str(p.nonce) || !str(p.verifier) || !str(p.callback) || typeof p.exp !== 'number') return 'the login cookie cannot be read';
  if (p.exp * 1000 < now) return 'the login attempt expired (it must finish within 10 minutes)';
  return { state: p.state, nonce: p.nonce, verifier: p.verifier, callback: p.callback, exp: p.exp, ...(str(p.next) ? { next: p.next } : {}) };
}
