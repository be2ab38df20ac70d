import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';

/**
 * Issue 9, 1.5: a token's scopes are within both its owner's and the
 * requester's, `inherit` included; at use, within its owner's current ones.
 */
describe('token scopes stay within owner and requester', () => {
  let t: TestHub;
  let admin: string;
  let minter: string; // tokens!user=bob only
  let groupMinter: string; // tokens!group=team only
  let deputy: string; // tokens!user=bob + servers!user=bob
  let twin: string; // holds everything bob holds, and tokens for bob
  let bob: string;
  const message = (r: { body: unknown }): string => (r.body as { message: string }).message;
  const running = async (): Promise<boolean> => {
    const m = (await t.api('GET', '/users/bob', { token: admin })).body as { servers: Record<string, { ready: boolean }> };
    return m.servers['']?.ready === true;
  };

  before(async () => {
    t = await startTestHub({
      roles: [
        { name: 'minter', scopes: ['tokens!user=bob'], users: ['minter'] },
        { name: 'group-minter', scopes: ['tokens!group=team'], users: ['gminter'] },
        { name: 'deputy', scopes: ['tokens!user=bob', 'servers!user=bob'], users: ['deputy'] },
        {
          name: 'twin',
          scopes: ['tokens!user=bob', 'read:users!user=bob', 'users:shares!user=bob', 'users:activity!user=bob', 'servers!user=bob', 'access:servers!user=bob', 'read:shares!user=bob'],
          users: ['twin'],
        },
      ],
    });
    admin = await t.tokenFor('root', { admin: true });
    minter = await t.tokenFor('minter');
    groupMinter = await t.tokenFor('gminter');
    deputy = await t.tokenFor('deputy');
    twin = await t.tokenFor('twin');
    bob = await t.tokenFor('bob');
    await t.api('POST', '/groups/team', { token: admin });
    await t.api('POST', '/groups/team/users', { token: admin, body: { users: ['bob'] } });
    assert.equal((await t.api('POST', '/users/bob/server', { token: bob })).status, 201);
  });
  after(async () => t.stop());

  it('tokens!user=bob cannot mint an inherit token for bob (and so cannot stop his server)', async () => {
    for (const body of [{}, { scopes: ['inherit'] }, { roles: ['token'] }]) {
      const r = await t.api('POST', '/users/bob/tokens', { token: minter, body });
      assert.equal(r.status, 403, JSON.stringify(body));
      assert.match(message(r), /not held by the requester/);
      assert.match(message(r), /servers!user=bob/);
    }
    assert.equal(await running(), true);
  });

  it('nor one with explicit scopes it lacks, by scope or by role', async () => {
    for (const body of [{ scopes: ['servers!user=bob'] }, { scopes: ['self'] }, { scopes: ['access:servers!server=bob/'] }, { roles: ['user'] }, { roles: ['server'] }]) {
      const r = await t.api('POST', '/users/bob/tokens', { token: minter, body });
      assert.equal(r.status, 403, JSON.stringify(body));
      assert.match(message(r), /not held by the requester/);
    }
  });

  it('the same through a group filter', async () => {
    const r = await t.api('POST', '/users/bob/tokens', { token: groupMinter, body: {} });
    assert.equal(r.status, 403);
    assert.match(message(r), /not held by the requester/);
    // what it holds it may hand out: an identify-only token
    const ok = await t.api('POST', '/users/bob/tokens', { token: groupMinter, body: { scopes: ['read:users:name!user=bob'] } });
    assert.equal(ok.status, 201);
  });

  it('scopes the requester holds are fine; inherit is still refused to a partial holder', async () => {
    const ok = await t.api('POST', '/users/bob/tokens', { token: deputy, body: { scopes: ['servers!user=bob'] } });
    assert.equal(ok.status, 201);
    const narrower = await t.api('POST', '/users/bob/tokens', { token: deputy, body: { scopes: ['delete:servers!server=bob/'] } });
    assert.equal(narrower.status, 201);
    const inherit = await t.api('POST', '/users/bob/tokens', { token: deputy, body: {} });
    assert.equal(inherit.status, 403);
    assert.match(message(inherit), /access:servers!user=bob/);
    assert.match(message(inherit), /inherit stands for all of bob's scopes/);
  });

  it('an inherit token minted by someone else keeps what was checked, not whatever bob gets later', async () => {
    const r = await t.api('POST', '/users/bob/tokens', { token: twin, body: {} });
    assert.equal(r.status, 201, message(r));
    const created = r.body as { token: string; scopes: string[] };
    assert.ok(!created.scopes.includes('inherit'));
    assert.ok(created.scopes.includes('servers!user=bob'));
    // bob becomes admin: the twin's token for bob does not
    assert.equal((await t.api('PATCH', '/users/bob', { token: admin, body: { admin: true } })).status, 200);
    assert.equal((await t.api('GET', '/users', { token: created.token })).status, 403);
    assert.equal((await t.api('PATCH', '/users/bob', { token: admin, body: { admin: false } })).status, 200);
  });

  it('a limited token of the owner cannot mint a broader token for the owner', async () => {
    const limited = (await t.api('POST', '/users/bob/tokens', { token: bob, body: { scopes: ['tokens!user=bob', 'read:users!user=bob'] } })).body as { token: string };
    const r = await t.api('POST', '/users/bob/tokens', { token: limited.token, body: {} });
    assert.equal(r.status, 403);
    assert.match(message(r), /servers!user=bob/);
    const s = await t.api('POST', '/users/bob/tokens', { token: limited.token, body: { scopes: ['servers!user=bob'] } });
    assert.equal(s.status, 403);
    assert.equal((await t.api('POST', '/users/bob/tokens', { token: limited.token, body: { scopes: ['read:users!user=bob'] } })).status, 201);
    // the owner's full token may
    assert.equal((await t.api('POST', '/users/bob/tokens', { token: bob, body: {} })).status, 201);
  });

  it('a token never exceeds its owner, whoever asks', async () => {
    for (const body of [{ scopes: ['admin:users'] }, { roles: ['admin'] }, { scopes: ['servers!user=root'] }]) {
      const r = await t.api('POST', '/users/bob/tokens', { token: admin, body });
      assert.equal(r.status, 403, JSON.stringify(body));
      assert.match(message(r), /not held by bob/);
    }
    // an admin may mint inherit for bob, which follows bob
    const r = await t.api('POST', '/users/bob/tokens', { token: admin, body: {} });
    assert.equal(r.status, 201);
    assert.deepEqual((r.body as { scopes: string[] }).scopes, ['inherit']);
  });

  it("at use, a token's scopes shrink with its owner's", async () => {
    const held = await t.tokenFor('temp-admin', { admin: true, scopes: ['admin:users'] });
    assert.equal((await t.api('GET', '/users', { token: held })).status, 200);
    assert.equal((await t.api('PATCH', '/users/temp-admin', { token: admin, body: { admin: false } })).status, 200);
    assert.equal((await t.api('GET', '/users', { token: held })).status, 403);
    assert.equal((await t.api('POST', '/users/someone', { token: held })).status, 403);
  });
});
