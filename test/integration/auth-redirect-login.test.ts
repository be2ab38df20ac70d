import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AuthError, type Authenticator, type LoginContext } from '../../src/auth/authenticator.js';
import { getUser } from '../../src/db/repos/users.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser } from '../helpers/browser.js';

/**
 * A redirect login (as OIDC does) whose "identity provider" is the hub's own
 * callback: startLogin sets a state cookie and sends the browser to
 * `<hub>/oauth_callback?user=…&state=…`; finishLogin checks the state against
 * the cookie and says who the user is. `user=refused` is refused by the
 * provider (AuthError 403).
 */
class RedirectAuthenticator implements Authenticator {
  readonly kind = 'test-redirect';
  readonly loginService = 'Test IdP';
  logoutTarget: string | undefined;
  nextUser = 'alice';
  startFails = false;

  async startLogin(ctx: LoginContext): Promise<string> {
    if (this.startFails) throw new Error('getaddrinfo ENOTFOUND idp.invalid');
    const state = `s${Math.random().toString(36).slice(2)}`;
    ctx.reply.setCookie('test-state', `${state}|${ctx.next ?? ''}`, { path: '/', httpOnly: true });
    return `${ctx.hubUrl}oauth_callback?user=${encodeURIComponent(this.nextUser)}&state=${state}`;
  }

  async finishLogin(ctx: LoginContext) {
    const q = ctx.req.query as Record<string, string>;
    const [state, next] = (ctx.req.cookies['test-state'] ?? '').split('|');
    ctx.reply.clearCookie('test-state', { path: '/' });
    if (!state || q['state'] !== state) throw new AuthError(400, 'The login state does not match: start the login again.');
    if (q['user'] === 'crash') throw new TypeError('a library error for a bad callback');
    if (q['user'] === 'refused') throw new AuthError(403, 'The identity provider refused this login.');
    return { result: { name: q['user'] ?? '' }, ...(next ? { next } : {}) };
  }

  logoutUrl(): string | undefined {
    return this.logoutTarget;
  }
}

async function followLogin(b: Browser, start: string): Promise<Response> {
  const toIdp = await b.get(start);
  assert.equal(toIdp.status, 302, 'oauth_login redirects to the identity provider');
  return b.get(toIdp.headers.get('location')!);
}

describe('redirect login (startLogin/finishLogin) through the hub', () => {
  let t: TestHub;
  const auth = new RedirectAuthenticator();
  before(async () => {
    t = await startTestHub({}, { authenticator: auth });
  });
  after(async () => t.stop());

  it('shows only the login service button, no password field', async () => {
    const html = await (await new Browser(t.hubUrl).get('/hub/login?next=/hub/token')).text();
    assert.match(html, /Sign in with Test IdP/);
    assert.match(html, /href="\/hub\/oauth_login\?next=%2Fhub%2Ftoken"/);
    assert.doesNotMatch(html, /type="password"/);
  });

  it('logs in end to end and goes to next', async () => {
    const b = new Browser(t.hubUrl);
    auth.nextUser = 'Alice';
    const done = await followLogin(b, '/hub/oauth_login?next=%2Fhub%2Ftoken');
    assert.equal(done.status, 302);
    assert.equal(done.headers.get('location'), '/hub/token');
    assert.ok(b.cookies.has('jupyterhub-hub-login'));
    assert.ok(await getUser(t.hub.db, 'alice'), 'the name was normalised and the user created');
    assert.equal((await b.get('/hub/home')).status, 200);
  });

  it('drops an unsafe next (another site) for the home page', async () => {
    const b = new Browser(t.hubUrl);
    auth.nextUser = 'alice';
    const done = await followLogin(b, `/hub/oauth_login?next=${encodeURIComponent('//evil.example/x')}`);
    assert.equal(done.headers.get('location'), '/hub/home');
  });

  it('a refusal by the provider is a page with its status and message, nothing stored', async () => {
    const b = new Browser(t.hubUrl);
    auth.nextUser = 'refused';
    const done = await followLogin(b, '/hub/oauth_login');
    assert.equal(done.status, 403);
    assert.match(await done.text(), /The identity provider refused this login/);
    assert.ok(!b.cookies.has('jupyterhub-hub-login'));
    assert.equal(await getUser(t.hub.db, 'refused'), undefined);
  });

  it('a tampered callback (state) is a 400 page, not a 500', async () => {
    const b = new Browser(t.hubUrl);
    const r = await b.get('/hub/oauth_callback?user=mallory&state=forged');
    assert.equal(r.status, 400);
    assert.match(await r.text(), /login state does not match/);
    assert.equal(await getUser(t.hub.db, 'mallory'), undefined);
  });

  it('any other error of the backend is a page, never a 500: 502 when the provider cannot be reached, 400 for the callback', async () => {
    const b = new Browser(t.hubUrl);
    auth.startFails = true;
    try {
      const r = await b.get('/hub/oauth_login');
      assert.equal(r.status, 502);
      assert.match(await r.text(), /could not be reached/);
    } finally {
      auth.startFails = false;
    }
    auth.nextUser = 'crash';
    const done = await followLogin(b, '/hub/oauth_login');
    assert.equal(done.status, 400);
    assert.match(await done.text(), /could not be completed/);
    assert.ok(!b.cookies.has('jupyterhub-hub-login'));
  });

  it('a name the name rules refuse is a 400 page, no user', async () => {
    const b = new Browser(t.hubUrl);
    auth.nextUser = '../etc';
    const done = await followLogin(b, '/hub/oauth_login');
    assert.equal(done.status, 400);
    assert.match(await done.text(), /user name cannot be used/);
  });

  it('the login form is not offered (POST /hub/login is 404)', async () => {
    const r = await new Browser(t.hubUrl).post('/hub/login', { username: 'alice', password: 'x' });
    assert.equal(r.status, 404);
  });

  it('logout ends the session and goes to the backend logout URL, else logout_redirect_url, else the login page', async () => {
    const b = new Browser(t.hubUrl);
    auth.nextUser = 'alice';
    await followLogin(b, '/hub/oauth_login');
    auth.logoutTarget = 'https://idp.example/logout?client=hub';
    const r = await b.get('/hub/logout');
    assert.equal(r.headers.get('location'), 'https://idp.example/logout?client=hub');
    assert.equal((await b.get('/hub/home')).status, 302, 'the session is ended');
    auth.logoutTarget = undefined;
    assert.equal((await new Browser(t.hubUrl).get('/hub/logout')).headers.get('location'), '/hub/login');
  });
});

describe('logout_redirect_url', () => {
  it('is where logout goes when the backend names no URL', async () => {
    const t = await startTestHub({ auth: { kind: 'shared-password', shared_password: 'test-password', logout_redirect_url: 'https://tunnel.example/signout' } });
    try {
      const b = new Browser(t.hubUrl);
      await b.login('bob', 'test-password');
      const r = await b.get('/hub/logout');
      assert.equal(r.headers.get('location'), 'https://tunnel.example/signout');
    } finally {
      await t.stop();
    }
  });
});

