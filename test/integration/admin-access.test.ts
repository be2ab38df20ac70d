import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { loginCookieHeader } from '../helpers/browser.js';

/**
 * `admin_access` (JupyterHub's name, off by default): only with it does the
 * admin role open other users' servers in the browser (the OAuth authorize
 * step) and the admin page link to them. Read live from the configuration.
 */
describe('admin_access', () => {
  let t: TestHub;
  let ada: string;
  const authorize = (owner: string): Promise<Response> =>
    fetch(`${t.hubUrl}/hub/api/oauth2/authorize?${new URLSearchParams({ client_id: `jupyterhub-user-${owner}`, redirect_uri: `/user/${owner}/oauth_callback`, response_type: 'code' })}`, {
      redirect: 'manual',
      headers: { Cookie: ada },
    });
  const adminPage = async (): Promise<string> => (await fetch(`${t.hubUrl}/hub/admin?q=bob`, { headers: { Cookie: ada } })).text();

  before(async () => {
    t = await startTestHub({ admin_users: ['ada'], auth: { kind: 'shared-password', shared_password: 'test-password', admin_password: 'ada-admin-password' } });
    const root = await t.tokenFor('root', { admin: true });
    await t.tokenFor('bob');
    assert.equal((await t.api('POST', '/users/bob/server', { token: root })).status, 201);
    ada = await loginCookieHeader(t.hubUrl, 'ada', 'ada-admin-password');
  });
  after(async () => t.stop());

  it("off (the default): an admin gets no code for another user's server and the page has no link to it", async () => {
    assert.equal(t.hub.config.admin_access, false);
    const r = await authorize('bob');
    assert.equal(r.status, 403);
    const body = await adminPage();
    assert.match(body, /class="state">running</);
    assert.doesNotMatch(body, /class="open"/);
  });

  it('on: the admin is let in and the page links to the server', async () => {
    t.hub.config = { ...t.hub.config, admin_access: true };
    const r = await authorize('bob');
    assert.equal(r.status, 302, await r.text());
    assert.match(r.headers.get('location') ?? '', /code=/);
    assert.match(await adminPage(), /<a class="open" href="\/user\/bob\/">open<\/a>/);
  });
});
