import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';

/** Who may do what: the scope matrix of the issue, checked on real routes. */
describe('scopes on every route', () => {
  let t: TestHub;
  let admin: string;
  let alice: string;
  let bob: string;
  let readOnly: string;

  before(async () => {
    t = await startTestHub({ roles: [{ name: 'idle-culler', scopes: ['list:users', 'read:users:activity', 'read:servers', 'delete:servers'], users: ['culler'] }] });
    admin = await t.tokenFor('admin', { admin: true });
    alice = await t.tokenFor('alice');
    bob = await t.tokenFor('bob');
    readOnly = await t.tokenFor('reader', { admin: true, scopes: ['read:users', 'list:users'] });
    assert.equal((await t.api('POST', '/users/bob/server', { token: bob })).status, 201);
  });
  after(async () => t.stop());

  it('alice cannot read, start, stop or access bob\'s server', async () => {
    const read = await t.api('GET', '/users/bob', { token: alice });
    assert.equal(read.status, 404);
    assert.equal((await t.api('POST', '/users/bob/server', { token: alice })).status, 404);
    assert.equal((await t.api('DELETE', '/users/bob/server', { token: alice })).status, 404);
    assert.equal((await t.api('GET', '/users/bob/tokens', { token: alice })).status, 404);
    assert.equal((await t.api('POST', '/users/bob/tokens', { token: alice, body: {} })).status, 404);
    // access: alice's token does not carry access:servers for bob, so an OAuth code is refused
    const who = (await t.api('GET', '/user', { token: alice })).body as { scopes: string[] };
    assert.ok(!who.scopes.some((s) => s.startsWith('access:servers') && !s.endsWith('=alice')));
    // bob's server is still running
    const model = (await t.api('GET', '/users/bob', { token: admin })).body as { servers: Record<string, { ready: boolean }> };
    assert.equal(model.servers['']!.ready, true);
  });

  it('a token limited to read:users cannot start servers', async () => {
    assert.equal((await t.api('GET', '/users/bob', { token: readOnly })).status, 200);
    const r = await t.api('POST', '/users/reader/server', { token: readOnly });
    assert.equal(r.status, 403);
    assert.match((r.body as { message: string }).message, /requires any of \[servers\]/);
    assert.equal((await t.api('POST', '/users/bob/server', { token: readOnly })).status, 403);
  });

  it('a user cannot list users (as in JupyterHub); admin lists everyone', async () => {
    assert.equal((await t.api('GET', '/users', { token: alice })).status, 403);
    const all = (await t.api('GET', '/users', { token: admin })).body as { name: string }[];
    assert.ok(all.length >= 4);
  });

  it('admin can read, start and stop anyone\'s server', async () => {
    assert.equal((await t.api('DELETE', '/users/bob/server', { token: admin })).status, 204);
    assert.equal((await t.api('POST', '/users/alice/server', { token: admin })).status, 201);
    assert.equal((await t.api('GET', '/users/alice', { token: admin })).status, 200);
    assert.equal((await t.api('DELETE', '/users/alice/server', { token: admin })).status, 204);
  });

  it('no credentials, or a forged token, get 403', async () => {
    assert.equal((await t.api('GET', '/users')).status, 403);
    assert.equal((await t.api('GET', '/users', { token: 'f'.repeat(32) })).status, 403);
    assert.equal((await t.api('GET', '/user', { token: 'f'.repeat(32) })).status, 403);
    assert.equal((await t.api('GET', '/users', { headers: { Authorization: 'Basic YTpi' } })).status, 403);
  });

  it('users and non-admins cannot touch admin-only routes', async () => {
    assert.equal((await t.api('POST', '/users/newbie', { token: alice })).status, 403);
    assert.equal((await t.api('GET', '/proxy', { token: alice })).status, 403);
    assert.equal((await t.api('POST', '/groups/g1', { token: alice })).status, 403);
    assert.equal((await t.api('GET', '/info', { token: alice })).status, 403);
    assert.equal((await t.api('PATCH', '/users/alice', { token: alice, body: { admin: true } })).status, 403);
  });

  it('a filtered token reaches only its filter', async () => {
    const t2 = await t.tokenFor('admin', { admin: true, scopes: ['read:users!user=alice', 'list:users!user=alice'] });
    assert.equal((await t.api('GET', '/users/alice', { token: t2 })).status, 200);
    assert.equal((await t.api('GET', '/users/bob', { token: t2 })).status, 404);
    const listed = (await t.api('GET', '/users', { token: t2 })).body as { name: string }[];
    assert.deepEqual(listed.map((u) => u.name), ['alice']);
  });

  it('a configured role grants its scopes: the idle culler can list and stop, not create', async () => {
    const culler = await t.tokenFor('culler');
    const listed = await t.api('GET', '/users?state=ready', { token: culler, headers: { Accept: 'application/jupyterhub-pagination+json' } });
    assert.equal(listed.status, 200);
    assert.equal((await t.api('POST', '/users/someone', { token: culler })).status, 403);
    const model = (await t.api('GET', '/users/culler', { token: culler })).body as { roles: string[] };
    assert.deepEqual(model.roles, ['idle-culler', 'user']);
  });
});
