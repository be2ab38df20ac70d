/**
 * A minimal Fastify app driving an OIDC authenticator's redirect login, for
 * testing the backend on its own (test/integration/oidc-backend.test.ts):
 * `GET /hub/oauth_login` calls `startLogin`, `GET /hub/oauth_callback` calls
 * `finishLogin` and answers its result as JSON, or `{status, message}` for an
 * AuthError. Requests go through `inject`: nothing listens.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { AuthError, type Authenticator } from '../../src/auth/authenticator.js';
import { OidcAuthenticator } from '../../src/auth/oidc/oidc-authenticator.js';
import { OidcAuthSchema } from '../../src/auth/oidc/schema.js';
import { installCookies } from '../../src/hub/request-cookies.js';
import { Value } from '@sinclair/typebox/value';

/** The hub URL the test app pretends to have; its callback is what the provider must accept. */
export const TEST_HUB_URL = 'http://hub.test/hub/';
export const TEST_CALLBACK = `${TEST_HUB_URL}oauth_callback`;

/** An OIDC authenticator from raw `auth:` options, defaults applied as the config loader does. */
export function oidcAuthenticator(raw: Record<string, unknown>): OidcAuthenticator {
  const opts = Value.Default(OidcAuthSchema, structuredClone({ kind: 'oidc', ...raw }));
  if (!Value.Check(OidcAuthSchema, opts)) throw new Error(`bad test options: ${[...Value.Errors(OidcAuthSchema, opts)].map((e) => `${e.path} ${e.message}`).join('; ')}`);
  return new OidcAuthenticator(opts, pino({ level: 'silent' }));
}

export async function oidcLoginApp(auth: Authenticator): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  installCookies(app, 'test-cookie-secret-0123456789abcdef');
  const log = pino({ level: 'silent' });
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof AuthError) return reply.code(err.status).send({ status: err.status, message: err.message });
    return reply.code(500).send({ status: 500, message: String(err) });
  });
  app.get('/hub/oauth_login', async (req, reply) => {
    const next = (req.query as Record<string, string>)['next'];
    const url = await auth.startLogin!({ req, reply, log, hubUrl: TEST_HUB_URL, ...(next ? { next } : {}) });
    return reply.redirect(url, 302);
  });
  app.get('/hub/oauth_callback', async (req, reply) => {
    const done = await auth.finishLogin!({ req, reply, log, hubUrl: TEST_HUB_URL });
    return reply.send(done);
  });
  return app;
}

/** The `name=value` pairs of a response's Set-Cookie headers, as a Cookie header. */
export function cookieHeader(setCookies: string | string[] | undefined): string {
  const list = Array.isArray(setCookies) ? setCookies : setCookies ? [setCookies] : [];
  return list.map((c) => c.split(';')[0]).filter((c) => !c!.endsWith('=')).join('; ');
}

/** Starts a login on the app: the provider URL to send the browser to and the cookie to return with. */
export async function startAppLogin(app: FastifyInstance, next?: string): Promise<{ authUrl: string; cookie: string }> {
  const res = await app.inject({ method: 'GET', url: `/hub/oauth_login${next ? `?next=${encodeURIComponent(next)}` : ''}` });
  if (res.statusCode !== 302) throw new Error(`oauth_login answered ${res.statusCode}: ${res.body}`);
  return { authUrl: String(res.headers.location), cookie: cookieHeader(res.headers['set-cookie']) };
}

/** Opens the hub's callback URL (as the provider sent it) with the login cookie. */
export async function finishAppLogin(app: FastifyInstance, callbackUrl: string, cookie: string): Promise<{ status: number; body: Record<string, unknown>; setCookie: string[] }> {
  const u = new URL(callbackUrl);
  const res = await app.inject({ method: 'GET', url: `${u.pathname}${u.search}`, headers: cookie ? { cookie } : {} });
  const sc = res.headers['set-cookie'];
  return { status: res.statusCode, body: res.json(), setCookie: Array.isArray(sc) ? sc : sc ? [sc] : [] };
}
