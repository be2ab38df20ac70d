/**
 * `auth.userdata_from_id_token` (OAuthenticator's name) against the real
 * provider: the claims come from the ID token only and the userinfo
 * endpoint (oidc-provider's `/me`) is never asked, neither at login nor at
 * a refresh. FirecREST sites get access tokens for another resource server,
 * which a provider's userinfo endpoint may refuse.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { finishAppLogin, oidcAuthenticator, oidcLoginApp, startAppLogin, TEST_CALLBACK } from '../helpers/oidc-login-app.js';

const log = pino({ level: 'silent' });
const asksUserinfo = (requests: string[], from: number) => requests.slice(from).filter((r) => /^(GET|POST) \/me\b/.test(r));

describe('userdata_from_id_token', () => {
  let op: TestOidcProvider;
  const options = (extra: Record<string, unknown>) => ({
    issuer: op.issuer,
    client_id: op.clientId,
    client_secret: op.clientSecret,
    allow_insecure_http: true,
    enable_auth_state: true,
    ...extra,
  });

  before(async () => {
    op = await startOidcProvider({ redirectUris: [TEST_CALLBACK] });
  });
  after(async () => {
    await op.stop();
  });

  it('logs in and refreshes with the claims of the ID token, never asking the userinfo endpoint', async () => {
    const auth = oidcAuthenticator(options({ userdata_from_id_token: true }));
    const app = await oidcLoginApp(auth);
    const from = op.requests.length;
    const { authUrl, cookie } = await startAppLogin(app);
    const r = await finishAppLogin(app, await op.authorize(authUrl, 'bob'), cookie);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const result = r.body['result'] as { name: string; groups: string[]; authState: Record<string, unknown> };
    assert.equal(result.name, 'bob');
    assert.deepEqual(result.groups, ['/hpc-users', '/hpc-admins'], 'groups from the ID token');
    const refreshed = await auth.refreshUser({ name: 'bob', authState: result.authState }, { force: true, log });
    assert.ok(refreshed && refreshed !== 'unchanged', 'the refresh worked');
    assert.equal(refreshed.name, 'bob');
    assert.notEqual(refreshed.authState?.['access_token'], result.authState['access_token']);
    assert.ok(op.requests.slice(from).some((q) => q.startsWith('POST /token')), 'the provider was used');
    assert.deepEqual(asksUserinfo(op.requests, from), [], 'the userinfo endpoint was never asked');
    await app.close();
  });

  it('without it (the default), the userinfo endpoint is asked at login', async () => {
    const app = await oidcLoginApp(oidcAuthenticator(options({})));
    const from = op.requests.length;
    const { authUrl, cookie } = await startAppLogin(app);
    const r = await finishAppLogin(app, await op.authorize(authUrl, 'alice'), cookie);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(asksUserinfo(op.requests, from).length, 1);
    await app.close();
  });

  it('refuses the option without scope openid (no ID token to read), naming it', () => {
    assert.throws(() => oidcAuthenticator(options({ userdata_from_id_token: true, scope: ['profile'] })), /userdata_from_id_token.*openid/);
  });
});
