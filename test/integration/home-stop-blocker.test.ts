/**
 * Issue 12 §2: the home page knows, without a hack, whether the user can
 * still stop a server: it asks the back-end (`Spawner.stopBlocker`, bounded in
 * time). A back-end acting as the user (FirecREST) that needs a fresh login
 * shows its reason, the Stop button is disabled and a "Log in again" link
 * offered; a stop refused for that reason (an error of status 401) answers 401
 * and keeps the server; a spawn refused for it links to the login too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser, login, parseForm, waitFor } from '../helpers/e2e.js';
import { LOGIN_BOUND_REASON, loginBoundSpawner, type LoginBoundSpawner } from '../helpers/spawner-doubles.js';
import { assertServerReset, serverRecord } from '../helpers/server-state.js';
import { getServer } from '../../src/db/repos/servers.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { loginAgainUrl } from '../../src/hub/login-again.js';
import { escapeHtml } from '../../src/lib/html-escape.js';
import { HubError } from '../../src/lib/errors.js';

const RELOGIN_HOME = '/hub/login?next=%2Fhub%2Fhome';

describe('a back-end that needs a fresh login to stop a server', () => {
  let t: TestHub;
  let spawner: LoginBoundSpawner;
  let tok: string;
  let b: Browser;

  before(async () => {
    spawner = loginBoundSpawner();
    t = await startTestHub({ allow_named_servers: true }, { spawner });
    tok = await t.tokenFor('stella');
    b = new Browser(t.publicUrl);
    await login(b, 'stella', 'test-password');
    for (const path of ['/users/stella/server', '/users/stella/servers/lab']) assert.equal((await t.api('POST', path, { token: tok })).status, 201);
  });
  after(async () => {
    await t.stop();
    await spawner.killAll();
  });

  it('while the back-end can stop the servers, the page shows working Stop buttons and no reason', async () => {
    const home = (await b.navigate('/hub/home')).text;
    assert.match(home, /<button class="danger" id="stop" type="submit">Stop my server<\/button>/);
    assert.doesNotMatch(home, /stop-blocker|Log in again/);
    assert.deepEqual(new Set(spawner.blockerCalls.map((c) => c.user)), new Set(['stella']), 'the back-end was asked, for this user');
  });

  it("shows the back-end's reason next to each server, disables Stop and Delete, and links to a fresh login", async () => {
    spawner.loginExpired = true;
    const home = (await b.navigate('/hub/home')).text;
    const reason = escapeHtml(LOGIN_BOUND_REASON);
    assert.ok(home.includes(`<span class="stop-blocker" data-server="">${reason} <a class="login-again" href="${RELOGIN_HOME}">Log in again</a></span>`), home);
    assert.ok(home.includes(`<span class="stop-blocker" data-server="lab">${reason}`));
    assert.match(home, /<button class="danger" id="stop" type="submit" disabled[^>]*>Stop my server<\/button>/);
    assert.match(home, /<button class="danger" type="submit" disabled[^>]*>Stop<\/button>/);
    assert.match(home, /<button class="secondary" type="submit" disabled[^>]*>Delete<\/button>/);
    assert.doesNotMatch(home, /<button[^>]*type="submit">Stop/, 'no working stop button');
  });

  it('the API stop answers 401 JSON with the message, and the server is kept as it was', async () => {
    const before = await serverRecord(t, 'stella', '');
    const refused = await t.api('DELETE', '/users/stella/server', { token: tok });
    assert.equal(refused.status, 401);
    const body = refused.body as { status: number; message: string };
    assert.equal(body.status, 401);
    assert.match(body.message, /^Could not stop stella's server: Your login has expired: .*Please log in again\. It is still running\.$/);
    const kept = await serverRecord(t, 'stella', '');
    assert.equal(kept.row!.ready, 1);
    assert.equal(kept.row!.pending, null);
    assert.equal(kept.row!.state, before.row!.state);
    assert.equal(kept.routed, true);
    assert.equal(kept.serverTokens, 1);
    await t.hub.servers.pollRound();
    assert.equal((await serverRecord(t, 'stella', '')).row!.ready, 1, 'still running for the poll loop');
  });

  it('POST /home/stop shows the message with the login link (401), and the server stays', async () => {
    const home = await b.navigate('/hub/home');
    const xsrf = parseForm(home.text).fields['_xsrf']!;
    const res = await b.navigate('/hub/home/stop', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _xsrf: xsrf, server: 'lab' }).toString(),
    });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('content-type') ?? '', /html/);
    assert.match(res.text, /id="login-again-reason">Could not stop stella:lab: Your login has expired/);
    assert.ok(res.text.includes(`<a class="button login-again" href="${RELOGIN_HOME}">Log in again</a>`));
    assert.equal((await serverRecord(t, 'stella', 'lab')).row!.ready, 1);
  });

  it('once the login works again, the page offers Stop and the stop works', async () => {
    spawner.loginExpired = false;
    const home = (await b.navigate('/hub/home')).text;
    assert.doesNotMatch(home, /stop-blocker/);
    assert.equal((await t.api('DELETE', '/users/stella/server', { token: tok })).status, 204);
    await assertServerReset(t, 'stella');
    assert.equal((await t.api('DELETE', '/users/stella/servers/lab', { token: tok })).status, 204);
  });

  it('a back-end that does not answer in time or fails counts as no blocker: the page still comes', async () => {
    assert.equal((await t.api('POST', '/users/stella/server', { token: tok })).status, 201);
    spawner.loginExpired = true;
    spawner.blockerDelayMs = 6000;
    const started = Date.now();
    const slow = await b.navigate('/hub/home');
    assert.equal(slow.status, 200);
    assert.ok(Date.now() - started < 5500, `the page took ${Date.now() - started} ms`);
    assert.doesNotMatch(slow.text, /stop-blocker/);
    spawner.blockerDelayMs = 0;
    spawner.blockerThrows = true;
    const failing = await b.navigate('/hub/home');
    assert.equal(failing.status, 200);
    assert.doesNotMatch(failing.text, /stop-blocker/);
    spawner.blockerThrows = false;
    spawner.loginExpired = false;
    assert.equal((await t.api('DELETE', '/users/stella/server', { token: tok })).status, 204);
  });
});

describe('a spawn the back-end refuses because the user must log in again', () => {
  let t: TestHub;
  let spawner: LoginBoundSpawner;

  before(async () => {
    spawner = loginBoundSpawner();
    spawner.loginExpired = true;
    t = await startTestHub({}, { spawner });
  });
  after(async () => {
    await t.stop();
    await spawner.killAll();
  });

  it('the API spawn answers 401 with the message', async () => {
    const res = await t.api('POST', '/users/sid/server', { token: await t.tokenFor('sid') });
    assert.equal(res.status, 401);
    assert.match((res.body as { message: string }).message, /Your login has expired/);
  });

  it('the progress event and the failure page carry the message and a "Log in again" link back to the spawn page', async () => {
    const b = new Browser(t.publicUrl);
    await login(b, 'rita', 'test-password');
    const spawn = await b.request('/hub/spawn/rita');
    await spawn.body?.cancel();
    assert.equal(spawn.status, 302);
    const user = await ensureUser(t.hub.db, 'rita');
    await waitFor('the spawn to fail', async () => (await getServer(t.hub.db, user.id, ''))?.pending === null, { timeoutMs: 10_000 });
    const relogin = '/hub/login?next=%2Fhub%2Fspawn%2Frita';

    const res = await t.api('GET', '/users/rita/server/progress', { token: await t.tokenFor('rita') });
    const events = res.text
      .split('\n\n')
      .filter((chunk) => chunk.startsWith('data: '))
      .map((chunk) => JSON.parse(chunk.slice(6)) as { failed?: boolean; message: string; html_message?: string });
    const last = events.at(-1)!;
    assert.equal(last.failed, true);
    assert.match(last.message, /^Spawn failed: Your login has expired/);
    assert.ok(last.html_message?.endsWith(`<a class="login-again" href="${escapeHtml(relogin)}">Log in again</a>`), String(last.html_message));

    const page = await b.navigate('/hub/spawn-pending/rita');
    assert.equal(page.status, 200);
    assert.match(page.text, /id="failure" role="alert">Your login has expired/);
    assert.ok(page.text.includes(`<a class="login-again" href="${escapeHtml(relogin)}">Log in again</a>`));
  });

  it('"Log in again" starts the identity provider\'s login for a redirect login, else the login page', () => {
    const urls = t.hub.urls;
    const redirect = { kind: 'oidc', startLogin: async () => '', finishLogin: async () => ({ result: { name: 'x' } }) };
    assert.equal(loginAgainUrl({ urls, authenticator: redirect as never }, '/hub/home'), '/hub/oauth_login?next=%2Fhub%2Fhome');
    assert.equal(loginAgainUrl({ urls, authenticator: t.hub.authenticator }, '/hub/home'), RELOGIN_HOME);
  });
});

describe('a spawn form whose back-end needs a fresh login', () => {
  let t: TestHub;
  let spawner: LoginBoundSpawner;

  before(async () => {
    spawner = loginBoundSpawner();
    spawner.optionsForm = () => {
      if (spawner.loginExpired) throw new HubError(401, LOGIN_BOUND_REASON);
      return '<input name="size">';
    };
    t = await startTestHub({}, { spawner });
  });
  after(async () => {
    await t.stop();
    await spawner.killAll();
  });

  it('GET /hub/spawn answers 401 with the sentence and "Log in again" back to the spawn page', async () => {
    const b = new Browser(t.publicUrl);
    await login(b, 'uli', 'test-password');
    assert.equal((await b.navigate('/hub/spawn/uli')).status, 200);
    spawner.loginExpired = true;
    const res = await b.navigate('/hub/spawn/uli');
    assert.equal(res.status, 401);
    assert.match(res.text, /id="login-again-reason">Your login has expired/);
    assert.ok(res.text.includes('<a class="button login-again" href="/hub/login?next=%2Fhub%2Fspawn%2Fuli">Log in again</a>'), res.text);
  });
});
