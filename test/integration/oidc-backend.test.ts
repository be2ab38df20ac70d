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
import { freePort } from '../../src/spawners/local-process.js';

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
});
