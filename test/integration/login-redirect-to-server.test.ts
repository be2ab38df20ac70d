/** Issue 9 §2: `redirect_to_server` sends a user whose default server runs to it after login (JupyterHub's behaviour). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser, parseForm } from '../helpers/e2e.js';

/** Posts the login form; returns the redirect's Location. */
async function loginLocation(b: Browser, name: string, query = ''): Promise<string> {
  const page = await b.navigate(`/hub/login${query}`);
  const form = parseForm(page.text);
  const res = await b.request(form.action ?? '/hub/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...form.fields, username: name, password: 'test-password' }).toString(),
  });
  await res.body?.cancel();
  assert.equal(res.status, 302);
  return res.headers.get('location') ?? '';
}

describe('redirect_to_server after login', () => {
  let t: TestHub;

  before(async () => {
    t = await startTestHub();
    const token = await t.tokenFor('runner');
    const start = await t.api('POST', '/users/runner/server', { token });
    assert.ok(start.status === 201 || start.status === 202, `start: ${start.status}`);
  });
  after(async () => t.stop());

  it('sends a user whose default server runs to that server', async () => {
    assert.equal(await loginLocation(new Browser(t.publicUrl), 'runner'), '/user/runner/');
  });

  it('also from the login page of a user already logged in', async () => {
    const b = new Browser(t.publicUrl);
    await loginLocation(b, 'runner');
    const again = await b.request('/hub/login');
    await again.body?.cancel();
    assert.equal(again.status, 302);
    assert.equal(again.headers.get('location'), '/user/runner/');
  });

  it('an explicit next wins over the server', async () => {
    assert.equal(await loginLocation(new Browser(t.publicUrl), 'runner', `?next=${encodeURIComponent('/hub/token')}`), '/hub/token');
  });

  it('a user whose server does not run goes home', async () => {
    assert.equal(await loginLocation(new Browser(t.publicUrl), 'idle'), '/hub/home');
  });

  it('with redirect_to_server off, everyone goes home', async () => {
    t.hub.config.redirect_to_server = false;
    try {
      assert.equal(await loginLocation(new Browser(t.publicUrl), 'runner'), '/hub/home');
    } finally {
      t.hub.config.redirect_to_server = true;
    }
  });
});
