/**
 * The OIDC backend (src/auth/oidc/) against a real OpenID provider
 * (npm oidc-provider on loopback), driven through a minimal app calling
 * startLogin/finishLogin (test/helpers/oidc-login-app.ts). The same flows
 * through the whole hub are in oidc-hub.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { finishAppLogin, oidcAuthenticator, oidcLoginApp, startAppLogin, TEST_CALLBACK } from '../helpers/oidc-login-app.js';
import type { OidcAuthenticator } from '../../src/auth/oidc/oidc-authenticator.js';
import { freePort } from '../../src/lib/free-port.js';

const log = pino({ level: 'silent' });

async function login(app: FastifyInstance, op: TestOidcProvider, user: string, opts: { next?: string; rewrite?: (u: URL) => void } = {}) {
  const { authUrl, cookie } = await startAppLogin(app, opts.next);
  const u = new URL(authUrl);
  opts.rewrite?.(u);
  const callback = await op.authorize(u.href, user);
  return { callback, cookie, ...(await finishAppLogin(app, callback, cookie)) };
}

describe('OIDC backend against a real provider', () => {
  let op: TestOidcProvider;
  let dir: string;
  const discovery = (extra: Record<string, unknown> = {}) => ({
    issuer: op.issuer,
    client_id: op.clientId,
    client_secret: op.clientSecret,
    allow_insecure_http: true,
    ...extra,
  });

  before(async () => {
    op = await startOidcProvider({ redirectUris: [TEST_CALLBACK], otherClientIds: ['other-client'], accessTokenTtl: 3600 });
    dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-oidc-'));
  });
  after(async () => {
    await op.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in with discovery: PKCE, state and nonce sent; name, groups and next from the login', async () => {
    const app = await oidcLoginApp(oidcAuthenticator(discovery({ enable_auth_state: true })));
    const { authUrl } = await startAppLogin(app);
    const u = new URL(authUrl);
    assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(u.searchParams.get('state') && u.searchParams.get('nonce') && u.searchParams.get('code_challenge'));
    assert.equal(u.searchParams.get('redirect_uri'), TEST_CALLBACK);
    assert.equal(u.searchParams.get('scope'), 'openid profile email');
    const r = await login(app, op, 'bob', { next: '/user/bob/lab' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const result = r.body['result'] as Record<string, unknown>;
    assert.equal(result['name'], 'bob');
    assert.deepEqual(result['groups'], ['/hpc-users', '/hpc-admins']);
    assert.equal(r.body['next'], '/user/bob/lab');
    const state = result['authState'] as Record<string, unknown>;
    for (const k of ['access_token', 'refresh_token', 'id_token', 'expires_at', 'scope', 'token_response_time']) assert.ok(state[k] !== undefined, k);
    // the login cookie is used once: cleared at the callback
    assert.ok(r.setCookie.some((c) => c.startsWith('ganymede-oidc-login=;')));
    await app.close();
  });

  it('keeps the login cookie under 4 kB: a very long next is dropped, the login still works', async () => {
    const app = await oidcLoginApp(oidcAuthenticator(discovery()));
    const long = `/user/alice/lab/tree/${'d/'.repeat(2000)}`;
    const { authUrl, cookie } = await startAppLogin(app, long);
    assert.ok(cookie.length < 4000, `cookie of ${cookie.length} bytes`);
    const r = await finishAppLogin(app, await op.authorize(authUrl, 'alice'), cookie);
    assert.equal(r.status, 200);
    assert.equal(r.body['next'], undefined);
    await app.close();
  });

  it('keeps no tokens when auth state is not wanted', async () => {
    const app = await oidcLoginApp(oidcAuthenticator(discovery()));
    const r = await login(app, op, 'alice');
    assert.equal(r.status, 200);
    assert.equal((r.body['result'] as Record<string, unknown>)['authState'], undefined);
    await app.close();
  });

  it('maps Keycloak group paths with strip_group_path and groups_map', async () => {
    const app = await oidcLoginApp(oidcAuthenticator(discovery({ strip_group_path: true, groups_map: { '/hpc-admins': 'admins' } })));
    const r = await login(app, op, 'bob');
    assert.deepEqual((r.body['result'] as Record<string, unknown>)['groups'], ['hpc-users', 'admins']);
    await app.close();
  });

  it('logs in with explicit endpoints (eduTEAMS style: scope openid, username_claim sub, userdata_url)', async () => {
    const app = await oidcLoginApp(
      oidcAuthenticator({
        client_id: op.clientId,
        client_secret: op.clientSecret,
        allow_insecure_http: true,
        issuer: op.issuer,
        authorize_url: `${op.issuer}/auth`,
        token_url: `${op.issuer}/token`,
        userdata_url: `${op.issuer}/me`,
        scope: ['openid'],
        username_claim: 'sub',
      }),
    );
    const before = op.requests.length;
    const r = await login(app, op, 'alice');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((r.body['result'] as Record<string, unknown>)['name'], 'alice-sub');
    const asked = op.requests.slice(before);
    assert.ok(asked.some((q) => q.startsWith('GET /me')), 'userdata_url was read');
    assert.ok(!asked.some((q) => q.includes('.well-known')), 'no discovery');
    await app.close();
  });

  it('reads userdata_url with userdata_method POST and userdata_params', async () => {
    const app = await oidcLoginApp(
      oidcAuthenticator({
        client_id: op.clientId,
        client_secret: op.clientSecret,
        allow_insecure_http: true,
        authorize_url: `${op.issuer}/auth`,
        token_url: `${op.issuer}/token`,
        userdata_url: `${op.issuer}/me`,
        userdata_method: 'POST',
        userdata_params: { extra: 'yes' },
        issuer: op.issuer,
        scope: ['openid', 'profile'],
      }),
    );
    const before = op.requests.length;
    const r = await login(app, op, 'carol');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((r.body['result'] as Record<string, unknown>)['name'], 'carol');
    assert.ok(op.requests.slice(before).some((q) => q === 'POST /me'));
    await app.close();
  });

  describe('refuses with a message and keeps nothing', () => {
    let app: FastifyInstance;
    before(async () => {
      app = await oidcLoginApp(oidcAuthenticator(discovery({ enable_auth_state: true })));
    });
    after(async () => app.close());

    it('a tampered state', async () => {
      const { authUrl, cookie } = await startAppLogin(app);
      const callback = new URL(await op.authorize(authUrl, 'alice'));
      callback.searchParams.set('state', 'forged-state');
      const r = await finishAppLogin(app, callback.href, cookie);
      assert.equal(r.status, 400);
      assert.match(String(r.body['message']), /state/);
      assert.equal(r.body['result'], undefined);
    });

    it('a tampered or missing login cookie', async () => {
      const { authUrl, cookie } = await startAppLogin(app);
      const callback = await op.authorize(authUrl, 'alice');
      const tampered = cookie.replace(/ganymede-oidc-login=([^;]*)/, (_m, v: string) => `ganymede-oidc-login=${v.replace(/nonce[^,]*/, 'nonce%22%3A%22x%22')}`);
      const r1 = await finishAppLogin(app, callback, tampered);
      assert.equal(r1.status, 400);
      assert.match(String(r1.body['message']), /signature/);
      const r2 = await finishAppLogin(app, callback, '');
      assert.equal(r2.status, 400);
      assert.match(String(r2.body['message']), /no login is in progress/);
    });

    it('a replayed code', async () => {
      const first = await login(app, op, 'alice');
      assert.equal(first.status, 200);
      const again = await finishAppLogin(app, first.callback, first.cookie);
      assert.equal(again.status, 403);
      assert.match(String(again.body['message']), /invalid_grant/);
      assert.equal(again.body['result'], undefined);
    });

    it('an ID token with another nonce', async () => {
      const r = await login(app, op, 'alice', { rewrite: (u) => u.searchParams.set('nonce', 'attacker-nonce') });
      assert.equal(r.status, 403);
      assert.match(String(r.body['message']), /nonce/);
    });

    it('a refusal by the provider (?error=access_denied)', async () => {
      const { authUrl, cookie } = await startAppLogin(app);
      const callback = await op.authorize(authUrl, 'alice', 'wrong-password');
      assert.match(callback, /error=access_denied/);
      const r = await finishAppLogin(app, callback, cookie);
      assert.equal(r.status, 403);
      assert.match(String(r.body['message']), /access_denied/);
    });

    it('an ID token for another audience (a code issued to another client)', async () => {
      // The browser's authorization request is switched to another client of the same provider, and a
      // relay in front of the token endpoint swaps the hub's client id for it: the ID token's `aud` is not the hub.
      const relayPort = await freePort('127.0.0.1');
      const relay: Server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = new URLSearchParams(Buffer.concat(chunks).toString());
          if (body.get('client_id') === op.clientId) body.set('client_id', 'other-client');
          void fetch(`${op.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() }).then(async (up) => {
            res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' }).end(await up.text());
          });
        });
      });
      await new Promise<void>((r) => relay.listen(relayPort, '127.0.0.1', () => r()));
      try {
        const explicit = await oidcLoginApp(
          oidcAuthenticator({
            client_id: op.clientId,
            client_secret: op.clientSecret,
            allow_insecure_http: true,
            issuer: op.issuer,
            authorize_url: `${op.issuer}/auth`,
            token_url: `http://127.0.0.1:${relayPort}/token`,
            jwks_url: `${op.issuer}/jwks`,
          }),
        );
        const r = await login(explicit, op, 'alice', { rewrite: (u) => u.searchParams.set('client_id', 'other-client') });
        assert.equal(r.status, 403, JSON.stringify(r.body));
        assert.match(String(r.body['message']), /aud/);
        await explicit.close();
      } finally {
        relay.closeAllConnections();
        await new Promise<void>((r) => relay.close(() => r()));
      }
    });

    it('an ID token from another issuer (a second provider)', async () => {
      const second = await startOidcProvider({ redirectUris: [TEST_CALLBACK] });
      try {
        // the hub trusts `op`; the endpoints are the second provider's
        const explicit = await oidcLoginApp(
          oidcAuthenticator({
            client_id: second.clientId,
            client_secret: second.clientSecret,
            allow_insecure_http: true,
            issuer: op.issuer,
            jwks_url: `${op.issuer}/jwks`,
            authorize_url: `${second.issuer}/auth`,
            token_url: `${second.issuer}/token`,
          }),
        );
        const r = await login(explicit, second, 'alice');
        assert.equal(r.status, 403, JSON.stringify(r.body));
        assert.match(String(r.body['message']), /iss/);
        await explicit.close();
      } finally {
        await second.stop();
      }
    });

    it('an ID token whose signature does not verify with the configured key set', async () => {
      const second = await startOidcProvider({ redirectUris: [TEST_CALLBACK] });
      try {
        // same key id (`key-1`), other key: the token from `op` cannot be verified with the second's set
        const explicit = await oidcLoginApp(
          oidcAuthenticator({
            client_id: op.clientId,
            client_secret: op.clientSecret,
            allow_insecure_http: true,
            issuer: op.issuer,
            authorize_url: `${op.issuer}/auth`,
            token_url: `${op.issuer}/token`,
            jwks_url: `${second.issuer}/jwks`,
          }),
        );
        const r = await login(explicit, op, 'alice');
        assert.equal(r.status, 403, JSON.stringify(r.body));
        assert.match(String(r.body['message']), /signature/);
        await explicit.close();
      } finally {
        await second.stop();
      }
    });

    it('a provider that cannot be reached, or does not answer within http_timeout', async () => {
      const deadPort = await freePort('127.0.0.1');
      const dead = await oidcLoginApp(oidcAuthenticator({ issuer: `http://127.0.0.1:${deadPort}`, client_id: 'x', allow_insecure_http: true }));
      const res = await dead.inject({ method: 'GET', url: '/hub/oauth_login' });
      assert.equal(res.statusCode, 503);
      assert.match(res.json<{ message: string }>().message, /could not be reached/);
      await dead.close();
      const silentPort = await freePort('127.0.0.1');
      const silent = createServer(() => undefined); // accepts, never answers
      await new Promise<void>((r) => silent.listen(silentPort, '127.0.0.1', () => r()));
      try {
        const slow = await oidcLoginApp(oidcAuthenticator({ issuer: `http://127.0.0.1:${silentPort}`, client_id: 'x', allow_insecure_http: true, http_timeout: 0.5 }));
        const t0 = Date.now();
        const res2 = await slow.inject({ method: 'GET', url: '/hub/oauth_login' });
        assert.equal(res2.statusCode, 503);
        assert.ok(Date.now() - t0 < 5000, 'bounded by http_timeout');
        await slow.close();
      } finally {
        silent.closeAllConnections();
        await new Promise<void>((r) => silent.close(() => r()));
      }
    });
  });

  it('re-reads client_secret_file when it changes', async () => {
    const file = path.join(dir, 'secret');
    writeFileSync(file, 'a-wrong-secret\n');
    const app = await oidcLoginApp(oidcAuthenticator(discovery({ client_secret: undefined, client_secret_file: file })));
    const wrong = await login(app, op, 'alice');
    assert.equal(wrong.status, 403);
    assert.match(String(wrong.body['message']), /invalid_client/);
    writeFileSync(file, `${op.clientSecret}\n`);
    const right = await login(app, op, 'alice');
    assert.equal(right.status, 200, JSON.stringify(right.body));
    await app.close();
  });
});

describe('OIDC backend: keys, refresh and logout', () => {
  let op: TestOidcProvider;
  let auth: OidcAuthenticator;
  let app: FastifyInstance;
  before(async () => {
    op = await startOidcProvider({ redirectUris: [TEST_CALLBACK], postLogoutRedirectUris: ['http://hub.test/hub/logged-out'], accessTokenTtl: 2 });
    auth = oidcAuthenticator({
      issuer: op.issuer,
      client_id: op.clientId,
      client_secret: op.clientSecret,
      allow_insecure_http: true,
      refresh_pre_spawn: true,
      logout_redirect_url: 'http://hub.test/hub/logged-out',
    });
    app = await oidcLoginApp(auth);
  });
  after(async () => {
    await app.close();
    await op.stop();
  });

  it('accepts an ID token signed with a new key: the key set is fetched again for an unknown kid', async () => {
    const first = await login(app, op, 'alice');
    assert.equal(first.status, 200);
    const jwksBefore = op.requests.filter((q) => q.startsWith('GET /jwks')).length;
    await op.rotateKeys();
    await new Promise((r) => setTimeout(r, 1100)); // the refetch cool-down
    const second = await login(app, op, 'alice');
    assert.equal(second.status, 200, JSON.stringify(second.body));
    const idToken = String(((second.body['result'] as Record<string, unknown>)['authState'] as Record<string, unknown>)['id_token']);
    const header = JSON.parse(Buffer.from(idToken.split('.')[0]!, 'base64url').toString()) as { kid: string };
    assert.equal(header.kid, op.signingKid);
    assert.ok(op.requests.filter((q) => q.startsWith('GET /jwks')).length > jwksBefore, 'the key set was fetched again');
  });

  it('refreshes an expired access token; unchanged while valid; null when the provider refuses', async () => {
    const r = await login(app, op, 'bob');
    const state = (r.body['result'] as Record<string, unknown>)['authState'] as Record<string, unknown>;
    const user = { name: 'bob', authState: state };
    assert.equal(await auth.refreshUser({ ...user, authState: { ...state, expires_at: Math.floor(Date.now() / 1000) + 600 } }, { force: false, log }), 'unchanged');
    await new Promise((res) => setTimeout(res, 2100)); // the access token (TTL 2 s) expires
    const refreshed = await auth.refreshUser(user, { force: false, log });
    assert.ok(refreshed && refreshed !== 'unchanged');
    assert.equal(refreshed.name, 'bob');
    assert.deepEqual(refreshed.groups, ['/hpc-users', '/hpc-admins']);
    const next = refreshed.authState as Record<string, unknown>;
    assert.notEqual(next['access_token'], state['access_token']);
    assert.ok(Number(next['expires_at']) > Math.floor(Date.now() / 1000));
    // the provider forgets its grants: the refresh token is refused, the user must log in again
    await op.forgetTokens();
    assert.equal(await auth.refreshUser({ name: 'bob', authState: next }, { force: true, log }), null);
    assert.equal(await auth.refreshUser({ name: 'bob', authState: null }, { force: true, log }), null);
  });

  it('names the end-session endpoint with id_token_hint and post_logout_redirect_uri for logout', async () => {
    const r = await login(app, op, 'alice');
    const state = (r.body['result'] as Record<string, unknown>)['authState'] as Record<string, unknown>;
    const url = new URL((await auth.logoutUrl({ req: undefined as never, user: 'alice', authState: state, hubUrl: 'http://hub.test/hub/' }))!);
    assert.equal(`${url.origin}${url.pathname}`, `${op.issuer}/session/end`);
    assert.equal(url.searchParams.get('id_token_hint'), state['id_token']);
    assert.equal(url.searchParams.get('post_logout_redirect_uri'), 'http://hub.test/hub/logged-out');
    // the provider accepts it (its confirmation page)
    const res = await fetch(url);
    assert.equal(res.status, 200);
  });
});
