import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { loginCookieHeader } from '../helpers/browser.js';

/** Logs in through the login form and returns the cookies to send. */
async function login(t: TestHub, name: string): Promise<string> {
  return loginCookieHeader(t.hubUrl, name, 'test-password');
}

/**
 * The admin page (`admin-ui`) shows only what its viewer's own scopes let it
 * read, as JupyterHub's admin page (which reads through the API) does:
 * `admin-ui` alone opens the page and lists nobody.
 */
describe('the admin page follows the viewer\'s scopes', () => {
  let t: TestHub;
  const adminPage = async (name: string): Promise<string> => {
    const r = await fetch(`${t.hubUrl}/hub/admin`, { headers: { Cookie: await login(t, name) }, redirect: 'manual' });
    assert.equal(r.status, 200);
    return r.text();
  };
  const listed = (body: string): string[] => [...body.matchAll(/<tr data-user="[^"]*"><td class="wrap">([^<]*)<\/td>/g)].map((m) => m[1]!).sort();

  before(async () => {
    t = await startTestHub({
      roles: [
        { name: 'ui-only', scopes: ['admin-ui'], users: ['uionly'] },
        { name: 'ui-team', scopes: ['admin-ui', 'list:users!group=team', 'read:users:name!group=team'], users: ['uiteam'] },
        { name: 'ui-all', scopes: ['admin-ui', 'list:users', 'read:users', 'read:servers'], users: ['uiall'] },
      ],
    });
    const admin = await t.tokenFor('root', { admin: true });
    for (const n of ['alice', 'bob', 'chief']) await t.tokenFor(n, { admin: n === 'chief' });
    assert.equal((await t.api('POST', '/groups/team', { token: admin, body: { users: ['alice'] } })).status, 201);
    assert.equal((await t.api('POST', '/users/bob/server', { token: admin })).status, 201);
  });
  after(async () => t.stop());

  it('admin-ui alone lists no users', async () => {
    const body = await adminPage('uionly');
    assert.deepEqual(listed(body), []);
    for (const n of ['alice', 'bob', 'chief']) assert.ok(!body.includes(`>${n}<`), n);
  });

  it('a group-filtered list:users lists that group only, without activity or servers it cannot read', async () => {
    const body = await adminPage('uiteam');
    assert.deepEqual(listed(body), ['alice']);
    assert.ok(!body.includes('running'));
  });

  it('with the scopes, everything', async () => {
    const body = await adminPage('uiall');
    assert.deepEqual(listed(body), ['alice', 'bob', 'chief', 'root', 'uiall', 'uionly', 'uiteam']);
    assert.match(body, /<td class="admin-flag">yes<\/td>/, 'the admin flag');
    assert.match(body, /class="state">running</, "bob's server");
  });
});
