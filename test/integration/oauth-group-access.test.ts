import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { loginCookieHeader } from '../helpers/browser.js';
import { upsertClient } from '../../src/db/repos/oauth.js';
import { ensureUser } from '../../src/db/repos/users.js';

/** Logs in through the login form and returns the cookies to send. */
async function login(t: TestHub, name: string): Promise<string> {
  return loginCookieHeader(t.hubUrl, name, 'test-password');
}

/**
 * Issue 9, 1.6 and 1.3: OAuth access to another user's server through a
 * group-filtered `access:servers!group=team` follows the server OWNER's
 * groups (not the visitor's), and the token it gives really grants it; the
 * spawn page does the same for `servers!group=team`.
 */
describe('access to a teammate\'s server through access:servers!group= and servers!group=', () => {
  let t: TestHub;
  let bob: string;
  const secret = (owner: string): string => `${owner}-client-secret`;
  const authorize = (owner: string): Promise<Response> =>
    fetch(`${t.hubUrl}/hub/api/oauth2/authorize?${new URLSearchParams({ client_id: `jupyterhub-user-${owner}`, redirect_uri: `/user/${owner}/oauth_callback`, response_type: 'code' })}`, {
      redirect: 'manual',
      headers: { Cookie: bob },
    });

  before(async () => {
    t = await startTestHub({ roles: [{ name: 'team-access', scopes: ['access:servers!group=team', 'servers!group=team'], groups: ['team'] }] });
    const admin = await t.tokenFor('root', { admin: true });
    for (const name of ['alice', 'bob', 'carol']) {
      const u = await ensureUser(t.hub.db, name);
      await upsertClient(t.hub.db, { identifier: `jupyterhub-user-${name}`, secret: secret(name), redirectUri: `/user/${name}/oauth_callback`, description: '', allowedScopes: [`access:servers!server=${name}/`], userId: u.id, serverName: '' });
    }
    // bob and alice are in team; carol is not
    assert.equal((await t.api('POST', '/groups/team/users', { token: admin, body: { users: ['alice', 'bob'] } })).status, 200);
    bob = await login(t, 'bob');
  });
  after(async () => t.stop());

  it('a member gets no code for the server of a user outside the group', async () => {
    const r = await authorize('carol');
    assert.equal(r.status, 403);
    assert.match(((await r.json()) as { message: string }).message, /not allowed to access carol's server/);
  });

  it("a member's OAuth token for a teammate's server carries the access scope at use", async () => {
    const r = await authorize('alice');
    assert.equal(r.status, 302);
    const code = new URL(r.headers.get('location')!, t.hubUrl).searchParams.get('code')!;
    const tok = await fetch(`${t.hubUrl}/hub/api/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'jupyterhub-user-alice', client_secret: secret('alice'), grant_type: 'authorization_code', code, redirect_uri: '/user/alice/oauth_callback' }).toString(),
    });
    assert.equal(tok.status, 200);
    const { access_token: accessToken } = (await tok.json()) as { access_token: string };
    // what a single-user server asks the hub with that token
    const me = await t.api('GET', '/user', { token: accessToken });
    assert.equal(me.status, 200);
    const model = me.body as { name: string; scopes: string[] };
    assert.equal(model.name, 'bob');
    assert.ok(model.scopes.includes('access:servers!server=alice/'), JSON.stringify(model.scopes));
    // and once alice leaves the group, the same token no longer does
    const admin = await t.tokenFor('root', { admin: true });
    assert.equal((await t.api('DELETE', '/groups/team/users', { token: admin, body: { users: ['alice'] } })).status, 200);
    const after = (await t.api('GET', '/user', { token: accessToken })).body as { scopes: string[] };
    assert.ok(!after.scopes.includes('access:servers!server=alice/'), JSON.stringify(after.scopes));
  });

  it("the spawn page follows the owner's groups too: a teammate's server, not an outsider's", async () => {
    const admin = await t.tokenFor('root', { admin: true });
    assert.equal((await t.api('POST', '/groups/team/users', { token: admin, body: { users: ['alice'] } })).status, 200);
    const spawn = (owner: string): Promise<Response> => fetch(`${t.hubUrl}/hub/spawn/${owner}`, { redirect: 'manual', headers: { Cookie: bob } });
    assert.equal((await spawn('carol')).status, 403);
    const r = await spawn('alice');
    assert.notEqual(r.status, 403, await r.text());
    assert.ok(r.status < 400, String(r.status));
  });
});
