import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { safeEqual } from '../lib/crypto.js';
import { forwardedProto } from '../lib/forwarded-header.js';

/** The hub's login cookie (JupyterHub's name), holding the signed session id. */
export const LOGIN_COOKIE = 'jupyterhub-hub-login';
/** The session id, recorded on OAuth tokens so logout can revoke them. */
export const SESSION_COOKIE = 'jupyterhub-session-id';
export const XSRF_COOKIE = '_xsrf';

/**
 * The protocol the browser used. Behind TLS-terminating proxies each one
 * appends to `X-Forwarded-Proto` (`https,http`: the client spoke https to the
 * first proxy, which spoke http to the next), so the first value is the
 * client's; a terminator may say it with RFC 7239 `Forwarded: proto=https`
 * instead (the hub's own proxy then adds `X-Forwarded-Proto: http` for its
 * hop). Either claim of https wins. Fastify honours the header only from a
 * trusted proxy (its `trustProxy`) and then reads the last value; this asks
 * Fastify the same question with the header cut to the claimed value, so the
 * trust decision stays Fastify's.
 */
export function clientProtocol(req: FastifyRequest): string {
  const header = req.headers['x-forwarded-proto'];
  const xfp = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim().toLowerCase();
  const fwd = forwardedProto(req.headers.forwarded);
  const claim = xfp === 'https' || fwd === 'https' ? 'https' : xfp || fwd;
  if (!claim) return req.protocol;
  const view = Object.create(req, { headers: { value: { ...req.headers, 'x-forwarded-proto': claim } } }) as FastifyRequest;
  return view.protocol;
}

/** Whether cookies set for this request get the `Secure` flag. */
export function isSecureRequest(req: FastifyRequest): boolean {
  return clientProtocol(req) === 'https';
}

export function setLoginCookies(req: FastifyRequest, reply: FastifyReply, sessionId: string, hubPrefix: string, maxAgeDays: number): void {
  const common = { httpOnly: true, sameSite: 'lax' as const, secure: isSecureRequest(req), maxAge: Math.round(maxAgeDays * 86400) };
  reply.setCookie(LOGIN_COOKIE, sessionId, { ...common, path: hubPrefix, signed: true });
  reply.setCookie(SESSION_COOKIE, sessionId, { ...common, path: '/' });
  // the XSRF token of the new session, so clients reading the cookie can post at once
  setXsrfCookie(req, reply, hubPrefix, sessionId);
}

/**
 * The session id in the request's login cookie when its signature is valid,
 * else null. Whether the session still exists is the store's question
 * (identity.ts); XSRF tokens only need the id the browser holds.
 */
export function loginCookieSession(req: FastifyRequest): string | null {
  const raw = req.cookies[LOGIN_COOKIE];
  if (!raw) return null;
  const unsigned = req.unsignCookie(raw);
  return unsigned.valid && unsigned.value ? unsigned.value : null;
}

export function clearLoginCookies(reply: FastifyReply, hubPrefix: string): void {
  reply.clearCookie(LOGIN_COOKIE, { path: hubPrefix });
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}

/**
 * XSRF tokens bound to the login session. A token is `<nonce>.<mac>`, the MAC
 * (HMAC-SHA256 under the cookie secret, through @fastify/cookie's signer) taken
 * over the login session id and the nonce, so one user's token never
 * validates another user's (or another session's) request. A logged-out
 * browser's token is bound to its own random nonce and must also equal its
 * `_xsrf` cookie (double submit), so a token fetched by another browser does
 * not work either.
 *
 * The `_xsrf` cookie holds the token itself (the token signs itself):
 * clients that post the cookie's value as the `_xsrf` field or the
 * `X-XSRFToken` header, as Tornado-based JupyterHub clients do, send exactly a
 * valid token. `sessionId` below is the request's login session, or null.
 */
function mac(req: FastifyRequest, sessionId: string | null, nonce: string): string {
  const subject = sessionId === null ? 'anonymous' : `session:${sessionId}`;
  const signed = req.signCookie(`ganymede-xsrf:${subject}:${nonce}`);
  return signed.slice(signed.lastIndexOf('.') + 1).replaceAll('+', '-').replaceAll('/', '_');
}

/** Whether `token` was made by this hub for `sessionId` (not whether it is this browser's: see {@link checkXsrf}). */
export function xsrfTokenValid(req: FastifyRequest, sessionId: string | null, token: string): boolean {
  const m = /^([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{43})$/.exec(token);
  return !!m && safeEqual(m[2]!, mac(req, sessionId, m[1]!));
}

function cookieToken(req: FastifyRequest): string | undefined {
  const raw = req.cookies[XSRF_COOKIE];
  return raw || undefined;
}

/**
 * The XSRF token to embed in this request's page: the `_xsrf` cookie's when it
 * is valid for the request's session, else a new one, set as the cookie.
 */
export function ensureXsrf(req: FastifyRequest, reply: FastifyReply, hubPrefix: string, sessionId: string | null): string {
  const existing = cookieToken(req);
  if (existing && xsrfTokenValid(req, sessionId, existing)) return existing;
  return setXsrfCookie(req, reply, hubPrefix, sessionId);
}

/** Sets a fresh `_xsrf` cookie bound to `sessionId` (e.g. right after login) and returns its token. */
export function setXsrfCookie(req: FastifyRequest, reply: FastifyReply, hubPrefix: string, sessionId: string | null): string {
  const nonce = randomBytes(16).toString('base64url');
  const token = `${nonce}.${mac(req, sessionId, nonce)}`;
  reply.setCookie(XSRF_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure: isSecureRequest(req), path: hubPrefix });
  return token;
}

/**
 * Whether `submitted` (the `_xsrf` field or the `X-XSRFToken` header) is a
 * valid token for the request's session; logged out, it must also be this
 * browser's (equal to its `_xsrf` cookie).
 */
export function checkXsrf(req: FastifyRequest, submitted: string | undefined, sessionId: string | null): boolean {
  if (!submitted || !xsrfTokenValid(req, sessionId, submitted)) return false;
  if (sessionId !== null) return true;
  const cookie = cookieToken(req);
  return !!cookie && safeEqual(cookie, submitted);
}

/** The token a request echoes in a header: `X-XSRFToken` (Tornado's name) or `X-CSRFToken`. */
export function xsrfHeader(req: FastifyRequest): string | undefined {
  const value = req.headers['x-xsrftoken'] ?? req.headers['x-csrftoken'];
  return typeof value === 'string' ? value : undefined;
}
