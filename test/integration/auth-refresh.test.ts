import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import type { Authenticator, AuthResult } from '../../src/auth/authenticator.js';
import { getUser } from '../../src/db/repos/users.js';
import { upsertClient } from '../../src/db/repos/oauth.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { trivialSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';

const KEY = 'cd'.repeat(32);

/**
 * Header login with a refresh the test steers: `fail` (null: log in again),
 * `throw` (the identity provider is down), `unchanged`, or `update` (a new
 * auth state, and admin from the `admins` group).
 */
class RefreshingAuthenticator implements Authenticator {
  readonly kind = 'test-refresh';
  readonly loginHeader = 'X-Test-User';
  mode: 'fail' | 'throw' | 'unchanged' | 'update' = 'unchanged';
  readonly refreshes: Array<{ name: string; force: boolean; authState: Record<string, unknown> | null }> = [];
  async authenticateRequest(req: FastifyRequest): Promise<AuthResult | null> {
    const name = req.headers['x-test-user'];
    return typeof name === 'string' ? { name, authState: { token: 'first' }, groups: [] } : null;
  }
  async refreshUser(user: { name: string; authState: Record<string, unknown> | null }, opts: { force: boolean }): Promise<AuthResult | 'unchanged' | null> {
    this.refreshes.push({ name: user.name, force: opts.force, authState: user.authState });
    if (this.mode === 'fail') return null;
    if (this.mode === 'throw') throw new Error('identity provider unreachable');
    if (this.mode === 'unchanged') return 'unchanged';
    return { name: user.name, authState: { token: `refreshed-${this.refreshes.length}` }, groups: ['admins'] };
  }
}

async function login(t: TestHub, name: string): Promise<string> {
  const r = await fetch(`${t.hubUrl}/hub/login`, { headers: { 'X-Test-User': name }, redirect: 'manual' });
  assert.equal(r.status, 302);
  const cookie = r.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('jupyterhub-hub-login='));
  assert.ok(cookie);
  return cookie;
}

const page = (t: TestHub, path: string, cookie: string) => fetch(`${t.hubUrl}${path}`, { headers: { Cookie: cookie }, redirect: 'manual' });

async function sessionsOf(t: TestHub, name: string): Promise<number> {
  const user = await getUser(t.hub.db, name);
  return (await t.hub.db.selectFrom('sessions').select('id').where('user_id', '=', user!.id).execute()).length;
}

describe('refresh_pre_spawn', () => {
  let t: TestHub;
  let spawner: TrivialSpawner;
  const auth = new RefreshingAuthenticator();
  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = KEY;
    spawner = trivialSpawner();
    t = await startTestHub({ auth: { kind: 'shared-password', refresh_pre_spawn: true, auth_refresh_age: 0, admin_groups: ['admins'] } }, { authenticator: auth, spawner });
  });
  after(async () => {
    await spawner.killAll();
    await t.stop();
    delete process.env['GANYMEDE_CRYPT_KEY'];
  });

  it('a failed refresh refuses the API spawn with 401 "please log in again" and ends the sessions', async () => {
    const cookie = await login(t, 'sam');
    auth.mode = 'fail';
    const r = await t.api('POST', '/users/sam/server', { token: await t.tokenFor('sam') });
    assert.equal(r.status, 401);
    assert.match((r.body as { message: string }).message, /please log in again/);
    assert.equal(auth.refreshes.at(-1)?.force, true);
    assert.equal(spawner.calls.length, 0, 'nothing reached the spawner');
    assert.equal(await sessionsOf(t, 'sam'), 0);
    assert.equal((await page(t, '/hub/home', cookie)).status, 302, 'the cookie no longer logs in');
  });

  it('a failed refresh refuses the page spawn with a 401 page; an error of the backend too, never a 500', async () => {
    for (const mode of ['fail', 'throw'] as const) {
      auth.mode = 'unchanged';
      const cookie = await login(t, 'tess');
      auth.mode = mode;
      const r = await page(t, '/hub/spawn', cookie);
      assert.equal(r.status, 401, mode);
      assert.match(await r.text(), /please log in again/);
      assert.equal(await sessionsOf(t, 'tess'), 0);
    }
  });

  it('a successful refresh hands the new auth state to the spawner and applies admin_groups', async () => {
    auth.mode = 'unchanged';
    await login(t, 'uma');
    assert.equal((await getUser(t.hub.db, 'uma'))?.admin, 0);
    auth.mode = 'update';
    const r = await t.api('POST', '/users/uma/server', { token: await t.tokenFor('uma') });
    assert.ok(r.status === 201 || r.status === 202, `${r.status} ${r.text}`);
    assert.deepEqual(auth.refreshes.at(-1)?.authState, { token: 'first' }, 'refreshUser got the stored auth state');
    assert.match(String(spawner.calls.at(-1)?.request.authState?.['token']), /^refreshed-/);
    assert.equal((await getUser(t.hub.db, 'uma'))?.admin, 1);
  });
});

describe('refresh by auth_refresh_age on cookie requests', () => {
  let t: TestHub;
  const auth = new RefreshingAuthenticator();
  const age = async (name: string, iso: string | null) => {
    await t.hub.db.updateTable('users').set({ last_refresh: iso }).where('name', '=', name).execute();
    t.hub.identities.clear();
  };
  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = KEY;
    t = await startTestHub({ auth: { kind: 'shared-password', auth_refresh_age: 300, admin_groups: ['admins'] } }, { authenticator: auth });
  });
  after(async () => {
    await t.stop();
    delete process.env['GANYMEDE_CRYPT_KEY'];
  });

  it('a young login is not refreshed, and the request writes nothing', async () => {
    auth.mode = 'unchanged';
    const cookie = await login(t, 'vic');
    const stamp = (await getUser(t.hub.db, 'vic'))?.last_refresh;
    assert.ok(stamp, 'login sets last_refresh');
    const before = auth.refreshes.length;
    assert.equal((await page(t, '/hub/home', cookie)).status, 200);
    assert.equal((await page(t, '/hub/api/user', cookie)).status, 200);
    assert.equal(auth.refreshes.length, before);
    assert.equal((await getUser(t.hub.db, 'vic'))?.last_refresh, stamp);
  });

  it('an old login is refreshed: auth state, admin and last_refresh updated', async () => {
    const cookie = await login(t, 'wes');
    await age('wes', '2000-01-01T00:00:00.000Z');
    auth.mode = 'update';
    assert.equal((await page(t, '/hub/home', cookie)).status, 200);
    assert.equal(auth.refreshes.at(-1)?.name, 'wes');
    assert.equal(auth.refreshes.at(-1)?.force, false);
    const row = await getUser(t.hub.db, 'wes');
    assert.equal(row?.admin, 1);
    assert.ok(row?.last_refresh && row.last_refresh > '2020');
    assert.match(JSON.stringify(t.hub.crypt.decrypt(row.auth_state!)), /refreshed-/);
  });

  it('a failed refresh by age ends the session: 401 "please log in again" page, and JSON on the API', async () => {
    auth.mode = 'unchanged';
    let cookie = await login(t, 'xia');
    await age('xia', null);
    auth.mode = 'fail';
    const r = await page(t, '/hub/home', cookie);
    assert.equal(r.status, 401);
    assert.match(await r.text(), /please log in again/);
    assert.equal(await sessionsOf(t, 'xia'), 0);

    auth.mode = 'unchanged';
    cookie = await login(t, 'xia');
    await age('xia', '2000-01-01T00:00:00.000Z');
    auth.mode = 'throw';
    const api = await page(t, '/hub/api/user', cookie);
    assert.equal(api.status, 401);
    assert.match(((await api.json()) as { message: string }).message, /please log in again/);
    assert.equal(await sessionsOf(t, 'xia'), 0);
  });

  it("the OAuth authorize step of a user's server refreshes an old login too", async () => {
    auth.mode = 'unchanged';
    const cookie = await login(t, 'yan');
    const user = await getUser(t.hub.db, 'yan');
    await upsertClient(t.hub.db, {
      identifier: 'jupyterhub-user-yan',
      secret: 'secret-of-yan',
      redirectUri: '/user/yan/oauth_callback',
      description: 'test',
      allowedScopes: ['access:servers!server=yan/'],
      userId: user!.id,
      serverName: '',
    });
    const authorize = '/hub/api/oauth2/authorize?client_id=jupyterhub-user-yan&redirect_uri=%2Fuser%2Fyan%2Foauth_callback&response_type=code&state=s';
    await age('yan', '2000-01-01T00:00:00.000Z');
    const before = auth.refreshes.length;
    const ok = await page(t, authorize, cookie);
    assert.equal(ok.status, 302);
    assert.equal(auth.refreshes.length, before + 1);
    await age('yan', '2000-01-01T00:00:00.000Z');
    auth.mode = 'fail';
    const refused = await page(t, authorize, cookie);
    assert.equal(refused.status, 401);
    assert.match(await refused.text(), /please log in again/);
    assert.equal(await sessionsOf(t, 'yan'), 0);
  });
});
