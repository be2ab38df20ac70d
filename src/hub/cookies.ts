import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { safeEqual } from '../lib/crypto.js';

/** The hub's login cookie (JupyterHub's name), holding the signed session id. */
export const LOGIN_COOKIE = 'jupyterhub-hub-login';
/** The session id, recorded on OAuth tokens so logout can revoke them. */
export const SESSION_COOKIE = 'jupyterhub-session-id';
export const XSRF_COOKIE = '_xsrf';

function secure(req: FastifyRequest): boolean {
  return req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';
}

export function setLoginCookies(req: FastifyRequest, reply: FastifyReply, sessionId: string, hubPrefix: string, maxAgeDays: number): void {
  const common = { httpOnly: true, sameSite: 'lax' as const, secure: secure(req), maxAge: Math.round(maxAgeDays * 86400) };
  reply.setCookie(LOGIN_COOKIE, sessionId, { ...common, path: hubPrefix, signed: true });
  reply.setCookie(SESSION_COOKIE, sessionId, { ...common, path: '/' });
}

export function clearLoginCookies(reply: FastifyReply, hubPrefix: string): void {
  reply.clearCookie(LOGIN_COOKIE, { path: hubPrefix });
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}

/**
 * The XSRF token of this browser: a random value kept in a signed HttpOnly
 * cookie and echoed in every form (`_xsrf` field) or in the `X-XSRFToken`
 * header; a POST whose echo does not match is refused.
 */
export function ensureXsrf(req: FastifyRequest, reply: FastifyReply, hubPrefix: string): string {
  const existing = readXsrf(req);
  if (existing) return existing;
  const value = randomBytes(16).toString('hex');
  reply.setCookie(XSRF_COOKIE, value, { httpOnly: true, sameSite: 'lax', secure: secure(req), path: hubPrefix, signed: true });
  return value;
}

function readXsrf(req: FastifyRequest): string | undefined {
  const raw = req.cookies[XSRF_COOKIE];
  if (!raw) return undefined;
  const unsigned = req.unsignCookie(raw);
  return unsigned.valid && unsigned.value ? unsigned.value : undefined;
}

export function checkXsrf(req: FastifyRequest, submitted: string | undefined): boolean {
  const expected = readXsrf(req);
  return !!expected && !!submitted && safeEqual(expected, submitted);
}
