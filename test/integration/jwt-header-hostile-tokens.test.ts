/**
 * The JWT-header login with tokens an outside attacker could craft, beyond
 * jwt-header-authenticator.test.ts: keys embedded in or pointed at by the
 * header (`jwk`, `jku`, `x5u`) are ignored, a
 * `kid` is only a name, and a `projects` claim with prototype keys, odd
 * shapes or thousands of entries is handled as data.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import pino from 'pino';
import { createServer } from 'node:http';
import { exportJWK, SignJWT } from 'jose';
import { freePort } from '../../src/lib/free-port.js';
import { AuthError } from '../../src/auth/authenticator.js';
import { JwtHeaderAuthenticator } from '../../src/auth/jwt-header/jwt-header-authenticator.js';
import { startTestIssuer, TEST_PLATFORM, type TestIssuer } from '../helpers/jwt-issuer.js';

const log = pino({ level: 'silent' });
const req = (token: string) => ({ headers: { 'x-auth-id-token': token } }) as unknown as FastifyRequest;

async function outcome(p: Promise<unknown>): Promise<{ ok: true; value: unknown } | { ok: false; status: number; message: string }> {
  try {
    return { ok: true, value: await p };
  } catch (err) {
    assert.ok(err instanceof AuthError, `expected an AuthError, got ${String((err as Error)?.stack ?? err)}`);
    return { ok: false, status: err.status, message: err.message };
  }
}

describe('jwt-header login: hostile tokens', () => {
  let issuer: TestIssuer;
  let auth: JwtHeaderAuthenticator;
  before(async () => {
    issuer = await startTestIssuer();
    auth = new JwtHeaderAuthenticator({
      header: 'X-Auth-Id-Token',
      oidcServer: issuer.issuer,
      audience: issuer.audience,
      leewaySec: 5,
      platform: TEST_PLATFORM,
      logoutRedirectUrl: '',
      invalidJwtLogout: false,
      log,
      provider: { jwksCooldownMs: 0, timeoutMs: 1000, retryMs: 0 },
    });
  });
  after(() => issuer.stop());

  async function signed(header: Record<string, unknown>, claims: Record<string, unknown> = {}, key?: { privateKey: CryptoKey }) {
    const now = Math.floor(Date.now() / 1000);
    const k = key ?? undefined;
    const body = { iss: issuer.issuer, aud: issuer.audience, iat: now, exp: now + 300, short_name: 'test_user', projects: { p1: { name: 'P', resources: [{ name: TEST_PLATFORM, username: 'test_user.p1' }] } }, ...claims };
    if (k) return new SignJWT(body).setProtectedHeader({ alg: 'RS256', ...header } as { alg: string }).sign(k.privateKey);
    return issuer.token(body, {});
  }

  it('a key embedded in the header (jwk), or pointed at (jku, x5u), is ignored: the token is refused', async () => {
    const stray = await issuer.strayKey('RS256');
    const pub = await exportJWK(stray.privateKey);
    delete pub.d; delete pub.p; delete pub.q; delete pub.dp; delete pub.dq; delete pub.qi;
    for (const header of [{ jwk: pub, kid: stray.kid }, { jwk: pub }, { jku: `${issuer.issuer}/protocol/openid-connect/certs`, kid: stray.kid }, { x5u: 'http://127.0.0.1:1/x', kid: stray.kid }]) {
      const r = await outcome(auth.authenticateRequest(req(await signed(header, {}, stray))));
      assert.equal(r.ok, false, JSON.stringify(header).slice(0, 80));
      if (!r.ok) assert.equal(r.status, 401);
    }
  });


  it('a kid that looks like a path is only a name: an unknown key, 401', async () => {
    const stray = await issuer.strayKey('RS256');
    for (const kid of ['../../../etc/passwd', '/dev/zero', `${issuer.currentKid()}/..`, 'x'.repeat(5000)]) {
      const r = await outcome(auth.authenticateRequest(req(await signed({ kid }, {}, stray))));
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.status, 401, r.message);
    }
  });

  it('short_name that is uppercase is lower-cased; "..", "/" and look-alikes are refused by the hub policy, not here', async () => {
    const r = await outcome(auth.authenticateRequest(req(await signed({}, { short_name: 'Test_User' }))));
    assert.equal(r.ok, true);
  });

  for (const [what, projects] of [
    ['__proto__ key', JSON.parse(`{"__proto__": {"name": "x", "resources": [{"name": "${TEST_PLATFORM}", "username": "evil"}]}, "p1": {"name": "P", "resources": [{"name": "${TEST_PLATFORM}", "username": "u.p1"}]}}`)],
    ['constructor key', { constructor: { name: 'x', resources: [{ name: TEST_PLATFORM, username: 'evil' }] } }],
    ['as a JSON string with __proto__', `{"__proto__": {"name": "x", "resources": [{"name": "${TEST_PLATFORM}", "username": "evil"}]}}`],
  ] as Array<[string, unknown]>) {
    it(`projects with a ${what}: kept as a plain key, nothing polluted`, async () => {
      const r = await outcome(auth.authenticateRequest(req(await signed({}, { projects }))));
      assert.equal(({} as Record<string, unknown>)['username'], undefined);
      assert.equal(({} as Record<string, unknown>)['name'], undefined);
      if (r.ok) {
        const state = (r.value as { authState: Record<string, unknown> }).authState;
        assert.equal(Object.getPrototypeOf(state), Object.prototype);
        for (const [k, v] of Object.entries(state)) assert.equal(typeof (v as { username: string }).username, 'string', k);
      }
    });
  }

  for (const [what, projects] of [
    ['a username with shell metacharacters', { p1: { name: 'P', resources: [{ name: TEST_PLATFORM, username: 'u;rm -rf ~' }] } }],
    ['a username ..', { p1: { name: 'P', resources: [{ name: TEST_PLATFORM, username: '..' }] } }],
    ['a project id with /', { 'a/../b': { name: 'P', resources: [{ name: TEST_PLATFORM, username: 'u.p' }] } }],
    ['a project that is a list', { p1: [1, 2] }],
    ['resources that is an object', { p1: { name: 'P', resources: { name: TEST_PLATFORM, username: 'u.p' } } }],
    ['a number', 42],
    ['a list', [{ name: 'P' }]],
    ['null', null],
  ] as Array<[string, unknown]>) {
    it(`projects with ${what}: a 4xx naming the projects claim`, async () => {
      const r = await outcome(auth.authenticateRequest(req(await signed({}, { projects }))));
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.ok(r.status >= 400 && r.status < 500, `${r.status}`);
        assert.match(r.message, /project/i);
      }
    });
  }

  it('a token longer than 16 kB (thousands of projects) is refused as too long; a hundred are fine', async () => {
    const many: Record<string, unknown> = {};
    for (let i = 0; i < 5000; i++) many[`p${i}`] = { name: `P${i}`, resources: [{ name: TEST_PLATFORM, username: `u.p${i}` }] };
    const long = await outcome(auth.authenticateRequest(req(await signed({}, { projects: many }))));
    assert.equal(long.ok, false);
    if (!long.ok) assert.match(long.message, /too long/);
    const projects: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) projects[`p${i}`] = { name: `P${i}`, resources: [{ name: i % 2 ? 'other' : TEST_PLATFORM, username: `u.p${i}` }] };
    const started = Date.now();
    const r = await outcome(auth.authenticateRequest(req(await signed({}, { projects }))));
    assert.ok(Date.now() - started < 2000);
    assert.equal(r.ok, true);
    if (r.ok) assert.equal(Object.keys((r.value as { authState: object }).authState).length, 50);
  });
});

describe('jwt-header login: a hostile discovery document or key set', () => {
  it('a discovery document that redirects elsewhere, is not JSON, is huge, or points at a key set that does: 503 within the timeout', async () => {
    let mode = 'redirect';
    const port = await freePort('127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    const server = createServer((req, res) => {
      req.resume();
      const wellKnown = req.url?.endsWith('/.well-known/openid-configuration');
      if (mode === 'redirect') return void res.writeHead(302, { location: 'http://127.0.0.1:1/evil' }).end();
      if (mode === 'html') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hi</html>');
      if (mode === 'huge' && wellKnown) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const more = () => {
          while (sent < 4 * 1024 * 1024) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', more);
          }
          res.end('{}');
        };
        return void more();
      }
      if (wellKnown) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks`, id_token_signing_alg_values_supported: ['RS256'] }));
      // the key set redirects to another host
      res.writeHead(302, { location: 'http://127.0.0.1:1/keys' }).end();
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    try {
      const stray = await (await startTestIssuerOnce()).strayKey('RS256');
      for (const m of ['redirect', 'html', 'huge', 'jwks-redirect']) {
        mode = m;
        const auth = new JwtHeaderAuthenticator({
          header: 'X-Auth-Id-Token', oidcServer: base, audience: 'aud', leewaySec: 5, platform: TEST_PLATFORM,
          logoutRedirectUrl: '', invalidJwtLogout: false, log, provider: { jwksCooldownMs: 0, timeoutMs: 1000, retryMs: 0 },
        });
        const now = Math.floor(Date.now() / 1000);
        const token = await new SignJWT({ iss: base, aud: 'aud', iat: now, exp: now + 60, short_name: 'u', projects: {} })
          .setProtectedHeader({ alg: 'RS256', kid: stray.kid })
          .sign(stray.privateKey);
        const started = Date.now();
        const r = await outcome(auth.authenticateRequest(req(token)));
        assert.equal(r.ok, false, m);
        if (!r.ok) assert.equal(r.status, 503, `${m}: ${r.status} ${r.message}`);
        assert.ok(Date.now() - started < 3000, m);
      }
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await stopIssuers();
    }
  });
});

const issuers: TestIssuer[] = [];
async function startTestIssuerOnce(): Promise<TestIssuer> {
  const i = await startTestIssuer();
  issuers.push(i);
  return i;
}
async function stopIssuers(): Promise<void> {
  for (const i of issuers.splice(0)) await i.stop();
}

