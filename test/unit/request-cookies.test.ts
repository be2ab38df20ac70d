import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { signerFactory } from '@fastify/cookie';
import { installCookies } from '../../src/hub/request-cookies.js';

const SECRET = 'test-cookie-secret-0123456789abcdef';

function app() {
  const a = Fastify({ logger: false });
  installCookies(a, SECRET);
  return a;
}

describe('cookies without per-request hooks', () => {
  it('adds no onRequest or onSend hook to any route', async () => {
    const a = app();
    a.get('/x', async () => 'ok');
    await a.ready();
    const routes = a.printRoutes({ includeHooks: true, commonPrefix: false, method: 'GET' });
    assert.doesNotMatch(routes, /onRequest|onSend|preParsing|preHandler/, routes);
  });

  it('parses the Cookie header on first read, and an absent header as no cookies', async () => {
    const a = app();
    a.get('/read', async (req) => ({ cookies: req.cookies, again: req.cookies === req.cookies }));
    const res = await a.inject({ url: '/read', headers: { cookie: 'a=1; b=two%20words; a=ignored' } });
    assert.deepEqual(res.json(), { cookies: { a: '1', b: 'two words' }, again: true });
    assert.deepEqual((await a.inject({ url: '/read' })).json(), { cookies: {}, again: true });
  });

  it('writes Set-Cookie when set, the later value of one name, domain and path winning; sameSite is lax unless said', async () => {
    const a = app();
    a.get('/set', async (_req, reply) => {
      reply.setCookie('s', 'first', { path: '/hub/', httpOnly: true });
      reply.setCookie('s', 'second', { path: '/hub/', httpOnly: true });
      reply.setCookie('s', 'root', { path: '/' });
      reply.setCookie('t', 'strict', { sameSite: 'strict', secure: true, maxAge: 60 });
      return 'ok';
    });
    const res = await a.inject({ url: '/set' });
    const set = res.headers['set-cookie'] as string[];
    assert.deepEqual(set, ['s=second; Path=/hub/; HttpOnly; SameSite=Lax', 's=root; Path=/; SameSite=Lax', 't=strict; Max-Age=60; Secure; SameSite=Strict']);
  });

  it('signs and checks signed cookies with the secret, as @fastify/cookie does', async () => {
    const a = app();
    a.get('/sign', async (_req, reply) => reply.setCookie('login', 'session-1', { signed: true, path: '/' }).send('ok'));
    a.get('/check', async (req) => req.unsignCookie(req.cookies['login'] ?? ''));
    const set = (await a.inject({ url: '/sign' })).headers['set-cookie'] as string;
    const value = /^login=([^;]+);/.exec(set)![1]!;
    assert.equal(decodeURIComponent(value), signerFactory(SECRET, 'sha256').sign('session-1'));
    assert.deepEqual((await a.inject({ url: '/check', headers: { cookie: `login=${value}` } })).json(), { valid: true, renew: false, value: 'session-1' });
    const forged = (await a.inject({ url: '/check', headers: { cookie: 'login=session-1.AAAA' } })).json() as { valid: boolean };
    assert.equal(forged.valid, false);
  });

  it('clears a cookie with an expiry in the past, keeping other cookies of the answer', async () => {
    const a = app();
    a.get('/clear', async (_req, reply) => {
      reply.setCookie('keep', 'v', { path: '/' });
      reply.clearCookie('gone', { path: '/hub/' });
      return 'ok';
    });
    const set = (await a.inject({ url: '/clear' })).headers['set-cookie'] as string[];
    assert.equal(set.length, 2);
    assert.equal(set[0], 'keep=v; Path=/; SameSite=Lax');
    const parts = set[1]!.split('; ').sort();
    assert.deepEqual(parts, ['Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'Max-Age=0', 'Path=/hub/', 'SameSite=Lax', 'gone=']);
  });
});
