import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser } from '../helpers/browser.js';

describe('login, pages and the OAuth provider', () => {
  let t: TestHub;

  before(async () => {
    t = await startTestHub({ admin_users: ['root-admin'], auth: { kind: 'shared-password', shared_password: 'test-password', admin_password: 'admin-password' } });
  });
  after(async () => t.stop());

  it('logs in with the shared password and sets signed HttpOnly cookies', async () => {
    const b = new Browser(t.hubUrl);
    const xsrf = await b.xsrf('/hub/login');
    const res = await b.post('/hub/login', { _xsrf: xsrf, username: 'Alice', password: 'test-password' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/hub/home');
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('jupyterhub-hub-login='))!;
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Lax/);
    assert.match(setCookie, /Path=\/hub\//);
    const home = await b.get('/hub/home');
    assert.equal(home.status, 200);
    assert.match(await home.text(), /alice/);
  });

  it('refuses a wrong password, a wrong XSRF token and a cross-site post, with a message', async () => {
    const b = new Browser(t.hubUrl);
    const bad = await b.login('alice', 'wrong-password');
    assert.equal(bad.status, 403);
    assert.match(await bad.text(), /Invalid username or password/);
    const wrongXsrf = await b.post('/hub/login', { _xsrf: 'forged', username: 'alice', password: 'test-password' });
    assert.equal(wrongXsrf.status, 403);
    assert.match(await wrongXsrf.text(), /_xsrf/);
    // a cross-site form post without the field is refused
    const crossSite = await fetch(`${t.hubUrl}/hub/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'https://evil.example' },
      body: 'username=alice&password=test-password',
    });
    assert.equal(crossSite.status, 403);
    // a script written for JupyterHub 3 (no _xsrf on its login form, no Origin) logs in
    const script = await fetch(`${t.hubUrl}/hub/login`, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'username=alice&password=test-password' });
    assert.equal(script.status, 302);
  });

  it('ignores a forged or stale login cookie', async () => {
    const forged = new Browser(t.hubUrl);
    forged.cookies.set('jupyterhub-hub-login', 'abc.def');
    const res = await forged.get('/hub/home');
    assert.equal(res.status, 302);
    assert.match(res.headers.get('location')!, /\/hub\/login/);
    const b = new Browser(t.hubUrl);
    await b.login('stale', 'test-password');
    const cookie = b.cookies.get('jupyterhub-hub-login')!;
    await b.get('/hub/logout');
    const stale = new Browser(t.hubUrl);
    stale.cookies.set('jupyterhub-hub-login', cookie);
    assert.equal((await stale.get('/hub/home')).status, 302);
    // the API refuses it too
    const api = await fetch(`${t.hubUrl}/hub/api/user`, { headers: { Cookie: `jupyterhub-hub-login=${cookie}` } });
    assert.equal(api.status, 403);
  });

  it('only lets admin_users be admins, and shows them the admin page', async () => {
    const b = new Browser(t.hubUrl);
    await b.login('root-admin', 'admin-password');
    assert.equal((await b.get('/hub/admin')).status, 200);
    const u = new Browser(t.hubUrl);
    await u.login('plain', 'test-password');
    assert.equal((await u.get('/hub/admin')).status, 403);
  });

  it('starts a server from the home page and shows the pending page, then stops it', async () => {
    const b = new Browser(t.hubUrl);
    await b.login('pat', 'test-password');
    const spawn = await b.get('/hub/spawn/pat');
    assert.equal(spawn.status, 302);
    assert.equal(spawn.headers.get('location'), '/hub/spawn-pending/pat');
    let ready = false;
    for (let i = 0; i < 50 && !ready; i++) {
      const res = await b.get('/hub/spawn-pending/pat');
      ready = res.status === 302 && res.headers.get('location') === '/user/pat/';
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ready, 'server became ready');
    const xsrf = await b.xsrf('/hub/home');
    const stop = await b.post('/hub/home/stop', { _xsrf: xsrf, server: '' });
    assert.equal(stop.status, 302);
    assert.match(await (await b.get('/hub/home')).text(), /Status: <strong id="server-status">stopped/);
  });

  it('runs the OAuth code flow for a server and refuses bad redirect URIs, secrets and codes', async () => {
    const admin = await t.tokenFor('admin', { admin: true });
    await t.tokenFor('olive');
    assert.equal((await t.api('POST', '/users/olive/server', { token: admin })).status, 201);
    const clientId = 'jupyterhub-user-olive';
    const b = new Browser(t.hubUrl);
    // not logged in: redirected to the login page, with next
    const anon = await b.get(`/hub/api/oauth2/authorize?client_id=${clientId}&redirect_uri=/user/olive/oauth_callback&response_type=code&state=s1`);
    assert.equal(anon.status, 302);
    assert.match(anon.headers.get('location')!, /^\/hub\/login\?next=/);
    await b.login('olive', 'test-password');
    const badRedirect = await b.get(`/hub/api/oauth2/authorize?client_id=${clientId}&redirect_uri=https://evil.example/cb&response_type=code&state=s1`);
    assert.equal(badRedirect.status, 400);
    assert.match(((await badRedirect.json()) as { message: string }).message, /redirect_uri/);
    const unknownClient = await b.get('/hub/api/oauth2/authorize?client_id=nope&redirect_uri=/x&response_type=code');
    assert.equal(unknownClient.status, 400);
    const ok = await b.get(`/hub/api/oauth2/authorize?client_id=${clientId}&redirect_uri=/user/olive/oauth_callback&response_type=code&state=s1`);
    assert.equal(ok.status, 302);
    const location = new URL(ok.headers.get('location')!, t.hubUrl);
    assert.equal(location.pathname, '/user/olive/oauth_callback');
    assert.equal(location.searchParams.get('state'), 's1');
    const code = location.searchParams.get('code')!;
    const tokenUrl = `${t.hubUrl}/hub/api/oauth2/token`;
    const form = (over: Record<string, string>) =>
      new URLSearchParams({ client_id: clientId, client_secret: 'wrong', grant_type: 'authorization_code', code, redirect_uri: '/user/olive/oauth_callback', ...over }).toString();
    const post = (body: string) => fetch(tokenUrl, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
    const wrongSecret = await post(form({}));
    assert.equal(wrongSecret.status, 401);
    assert.equal(((await wrongSecret.json()) as { error: string }).error, 'invalid_client');
    // another user's authorization is refused: bob may not access olive's server
    const bob = new Browser(t.hubUrl);
    await bob.login('bobby', 'test-password');
    const denied = await bob.get(`/hub/api/oauth2/authorize?client_id=${clientId}&redirect_uri=/user/olive/oauth_callback&response_type=code&state=s2`);
    assert.equal(denied.status, 403);
    await t.api('DELETE', '/users/olive/server', { token: admin });
    // after the stop, the server's client secret is revoked, so no code can be exchanged
    const afterStop = await post(form({ client_secret: 'anything' }));
    assert.equal(afterStop.status, 401);
    const badGrant = await post(form({ grant_type: 'password' }));
    assert.equal(badGrant.status, 400);
  });

  it('logout revokes the tokens issued in that session', async () => {
    const b = new Browser(t.hubUrl);
    await b.login('quinn', 'test-password');
    const session = b.cookies.get('jupyterhub-session-id')!;
    const user = await t.hub.db.selectFrom('users').select('id').where('name', '=', 'quinn').executeTakeFirstOrThrow();
    const { createToken } = await import('../../src/db/repos/tokens.js');
    const { token } = await createToken(t.hub.db, user.id, { kind: 'oauth', scopes: ['read:users:name!user=quinn'], sessionId: session });
    assert.equal((await t.api('GET', '/user', { token })).status, 200);
    await b.get('/hub/logout');
    assert.equal((await t.api('GET', '/user', { token })).status, 403);
  });
});
