import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';

/**
 * Issue 9, 1.4: nobody grants, removes or touches admin without being admin,
 * and a group-filtered holder stays inside its group, on every route.
 */
describe('privilege escalation: admin and group filters', () => {
  let t: TestHub;
  let admin: string;
  let manager: string; // admin:users, not admin
  let g1Users: string; // admin:users!group=g1
  let g1Groups: string; // admin:groups!group=g1
  let g1Both: string; // admin:users!group=g1 + groups!group=g1
  let limitedAdmin: string; // an admin's token limited to admin:users

  const isAdmin = async (name: string): Promise<boolean> => ((await t.api('GET', `/users/${name}`, { token: admin })).body as { admin: boolean }).admin;
  const exists = async (name: string): Promise<boolean> => (await t.api('GET', `/users/${name}`, { token: admin })).status === 200;
  const message = (r: { body: unknown }): string => (r.body as { message: string }).message;

  before(async () => {
    t = await startTestHub({
      roles: [
        { name: 'user-manager', scopes: ['admin:users'], users: ['manager'] },
        { name: 'g1-users', scopes: ['admin:users!group=g1'], users: ['g1u'] },
        { name: 'g1-groups', scopes: ['admin:groups!group=g1'], users: ['g1g'] },
        { name: 'g1-both', scopes: ['admin:users!group=g1', 'groups!group=g1', 'admin:servers!group=g1'], users: ['g1b'] },
        { name: 'admin', users: [], groups: ['admins'] },
        { name: 'server-starter', scopes: ['servers'], groups: ['starters'] },
        { name: 'group-editor', scopes: ['groups', 'list:users'], users: ['groupsholder'] },
        { name: 'group-deleter', scopes: ['delete:groups'], users: ['deleter'] },
      ],
    });
    admin = await t.tokenFor('root', { admin: true });
    manager = await t.tokenFor('manager');
    g1Users = await t.tokenFor('g1u');
    g1Groups = await t.tokenFor('g1g');
    g1Both = await t.tokenFor('g1b');
    limitedAdmin = await t.tokenFor('root2', { admin: true, scopes: ['admin:users'] });
    await t.tokenFor('alice');
    await t.tokenFor('bob');
    await t.tokenFor('realadmin', { admin: true });
    for (const g of ['g1', 'g2']) assert.equal((await t.api('POST', `/groups/${g}`, { token: admin })).status, 201);
    assert.equal((await t.api('POST', '/groups/g1/users', { token: admin, body: { users: ['alice', 'g1b'] } })).status, 200);
  });
  after(async () => t.stop());

  it('PATCH /users/<self> {admin: true} by an admin:users holder is refused', async () => {
    const r = await t.api('PATCH', '/users/manager', { token: manager, body: { admin: true } });
    assert.equal(r.status, 403);
    assert.match(message(r), /Only admins can grant admin permissions/);
    assert.equal(await isAdmin('manager'), false);
  });

  it('PATCH another user to admin is refused; name-only changes still work', async () => {
    assert.equal((await t.api('PATCH', '/users/bob', { token: manager, body: { admin: true } })).status, 403);
    assert.equal(await isAdmin('bob'), false);
    // admin: false on a plain user is not a grant
    assert.equal((await t.api('PATCH', '/users/bob', { token: manager, body: { admin: false } })).status, 200);
  });

  it('POST /users {admin: true} and POST /users/{name} {admin: true} are refused to non-admins', async () => {
    const many = await t.api('POST', '/users', { token: manager, body: { usernames: ['eve1', 'eve2'], admin: true } });
    assert.equal(many.status, 403);
    assert.match(message(many), /Only admins can grant admin permissions/);
    const one = await t.api('POST', '/users/eve3', { token: manager, body: { admin: true } });
    assert.equal(one.status, 403);
    for (const n of ['eve1', 'eve2', 'eve3']) assert.equal(await exists(n), false, n);
    // creating plain users is what admin:users is for
    assert.equal((await t.api('POST', '/users/eve4', { token: manager, body: { admin: false } })).status, 201);
    assert.equal(await isAdmin('eve4'), false);
  });

  it('a non-admin cannot demote, rename, change or delete a real admin', async () => {
    for (const body of [{ admin: false }, { name: 'pwned' }, { groups: [] }]) {
      const r = await t.api('PATCH', '/users/realadmin', { token: manager, body });
      assert.equal(r.status, 403, JSON.stringify(body));
      assert.match(message(r), /Only admins can modify other admins/);
    }
    const del = await t.api('DELETE', '/users/realadmin', { token: manager });
    assert.equal(del.status, 403);
    assert.match(message(del), /Only admins can delete admins/);
    assert.equal(await isAdmin('realadmin'), true);
  });

  it("an admin's token limited to admin:users does not count as admin", async () => {
    const r = await t.api('PATCH', '/users/bob', { token: limitedAdmin, body: { admin: true } });
    assert.equal(r.status, 403);
    assert.equal((await t.api('POST', '/users/eve5', { token: limitedAdmin, body: { admin: true } })).status, 403);
    assert.equal(await exists('eve5'), false);
  });

  it('an admin grants and removes admin', async () => {
    assert.equal((await t.api('PATCH', '/users/bob', { token: admin, body: { admin: true } })).status, 200);
    assert.equal(await isAdmin('bob'), true);
    assert.equal((await t.api('PATCH', '/users/bob', { token: admin, body: { admin: false } })).status, 200);
    assert.equal(await isAdmin('bob'), false);
    assert.equal((await t.api('POST', '/users', { token: admin, body: { usernames: ['newadmin'], admin: true } })).status, 201);
    assert.equal(await isAdmin('newadmin'), true);
  });

  it('nobody deletes themselves (as in JupyterHub)', async () => {
    const r = await t.api('DELETE', '/users/manager', { token: manager });
    assert.equal(r.status, 400);
    assert.equal(await exists('manager'), true);
  });

  it('admin:users!group=g1 cannot create users, with or without admin', async () => {
    for (const [method, path, body] of [
      ['POST', '/users', { usernames: ['g1new'] }],
      ['POST', '/users/g1new', {}],
      ['POST', '/users/g1new', { admin: true }],
    ] as const) {
      const r = await t.api(method, path, { token: g1Users, body });
      assert.equal(r.status, 403, `${method} ${path}`);
    }
    assert.equal(await exists('g1new'), false);
    // it still manages g1's members
    assert.equal((await t.api('PATCH', '/users/alice', { token: g1Users, body: { admin: false } })).status, 200);
    assert.equal((await t.api('PATCH', '/users/bob', { token: g1Users, body: { admin: false } })).status, 404);
  });

  it('a filter naming the new user does not allow creating it either', async () => {
    const t2 = await startTestHub({ roles: [{ name: 'one-user', scopes: ['admin:users!user=future'], users: ['narrow'] }] });
    try {
      const narrow = await t2.tokenFor('narrow');
      assert.equal((await t2.api('POST', '/users/future', { token: narrow })).status, 403);
      assert.equal((await t2.api('POST', '/users', { token: narrow, body: { usernames: ['future'] } })).status, 403);
    } finally {
      await t2.stop();
    }
  });

  it('admin:groups!group=g1 cannot create groups, inside or outside its filter, nor touch other groups', async () => {
    assert.equal((await t.api('POST', '/groups', { token: g1Groups, body: { groups: ['g3'] }, validate: false })).status, 403);
    assert.equal((await t.api('POST', '/groups/g3', { token: g1Groups })).status, 403);
    assert.equal((await t.api('POST', '/groups/g2/users', { token: g1Groups, body: { users: ['bob'] } })).status, 404);
    assert.equal((await t.api('DELETE', '/groups/g2', { token: g1Groups })).status, 404);
    assert.equal((await t.api('GET', '/groups/g3', { token: admin })).status, 404);
    // a group-scoped list still works (post-filtered)
    const list = await t.api('GET', '/groups', { token: g1Groups });
    assert.equal(list.status, 200);
    assert.deepEqual((list.body as { name: string }[]).map((g) => g.name), ['g1']);
  });

  it('a group-filtered holder cannot pull outside users into its group', async () => {
    const r = await t.api('POST', '/groups/g1/users', { token: g1Both, body: { users: ['bob'] } });
    assert.equal(r.status, 403);
    assert.match(message(r), /outside/);
    const g1 = (await t.api('GET', '/groups/g1', { token: admin })).body as { users: string[] };
    assert.ok(!g1.users.includes('bob'));
    // nor through PATCH /users/{name} groups (it cannot reach bob at all)
    assert.equal((await t.api('PATCH', '/users/bob', { token: g1Both, body: { groups: ['g1'] } })).status, 404);
    // nor move its own member into a group it has no scope on
    const move = await t.api('PATCH', '/users/alice', { token: g1Both, body: { groups: ['g1', 'g2'] } });
    assert.equal(move.status, 403);
    const alice = (await t.api('GET', '/users/alice', { token: admin })).body as { groups: string[] };
    assert.deepEqual(alice.groups, ['g1']);
  });

  it("membership of a group with roles cannot be handed out by someone who lacks the roles' scopes", async () => {
    // 'admins' has the admin role, 'starters' has servers (config)
    const promote = await t.api('PATCH', '/users/manager', { token: manager, body: { groups: ['admins'] } });
    assert.equal(promote.status, 403);
    assert.equal(await isAdmin('manager'), false);
    const t3 = await t.api('GET', '/users/manager', { token: admin });
    assert.ok(!(t3.body as { roles: string[] }).roles.includes('admin'));
    // with groups scope on every group, via the group route: still refused
    const groupsHolder = await t.tokenFor('groupsholder');
    const viaGroup = await t.api('POST', '/groups/admins/users', { token: groupsHolder, body: { users: ['groupsholder'] } });
    assert.equal(viaGroup.status, 403);
    assert.match(message(viaGroup), /Only admins can/);
    const starters = await t.api('POST', '/groups/starters/users', { token: groupsHolder, body: { users: ['bob'] } });
    assert.equal(starters.status, 403);
    assert.match(message(starters), /servers/);
    // an admin can
    assert.equal((await t.api('POST', '/groups/starters/users', { token: admin, body: { users: ['bob'] } })).status, 200);
    // and removing bob from it again needs the scopes it takes away
    assert.equal((await t.api('DELETE', '/groups/starters/users', { token: groupsHolder, body: { users: ['bob'] } })).status, 403);
    assert.equal((await t.api('DELETE', '/groups/starters', { token: await t.tokenFor('deleter') })).status, 403);
  });
  it("a token limited to groups!group=g1 cannot pull outside users into g1 for its owner's group-filtered scopes", async () => {
    // g1b holds admin:users!group=g1: a token of g1b holding only groups!group=g1 gains nothing itself, its owner does
    const limited = await t.tokenFor('g1b', { scopes: ['groups!group=g1'] });
    await t.tokenFor('outsider');
    const add = await t.api('POST', '/groups/g1/users', { token: limited, body: { users: ['outsider'] } });
    assert.equal(add.status, 403);
    assert.match(message(add), /outside/);
    assert.match(message(add), /admin:users!user=outsider/);
    const g1 = (await t.api('GET', '/groups/g1', { token: admin })).body as { users: string[] };
    assert.ok(!g1.users.includes('outsider'));
    assert.equal((await t.api('PATCH', '/users/outsider', { token: g1Both, body: { name: 'taken' } })).status, 404, 'still out of reach');
    // a member already within the owner's reach is fine
    const alice = await t.api('POST', '/groups/g1/users', { token: limited, body: { users: ['alice'] } });
    assert.equal(alice.status, 200);
  });

  it('renaming a user to a name the requester holds filtered scopes on is refused when that gives it more', async () => {
    const t2 = await startTestHub({
      roles: [
        { name: 'bob-keeper', scopes: ['admin:users!user=bob'], users: ['keeper'] },
        { name: 'carol-servers', scopes: ['servers!user=carol', 'access:servers!server=carol/'], users: ['keeper'] },
        { name: 'dave-keeper', scopes: ['admin:users!user=dave', 'admin:users!user=erin'], users: ['keeper2'] },
      ],
    });
    try {
      const root = await t2.tokenFor('root', { admin: true });
      const keeper = await t2.tokenFor('keeper');
      const keeperNarrow = await t2.tokenFor('keeper', { scopes: ['admin:users!user=bob'] });
      await t2.tokenFor('bob');
      await t2.tokenFor('dave');
      // carol does not exist: bob renamed to carol would give keeper servers and access on bob's account
      assert.equal((await t2.api('GET', '/users/carol', { token: root })).status, 404);
      for (const token of [keeper, keeperNarrow]) {
        const r = await t2.api('PATCH', '/users/bob', { token, body: { name: 'carol' } });
        assert.equal(r.status, 403);
        assert.match(message(r), /servers!user=bob/);
        assert.match(message(r), /access:servers!server=bob\//);
      }
      assert.equal((await t2.api('GET', '/users/bob', { token: root })).status, 200, 'not renamed');
      // a rename that gives nothing new is fine: keeper2 holds admin:users on both names
      const keeper2 = await t2.tokenFor('keeper2');
      assert.equal((await t2.api('PATCH', '/users/dave', { token: keeper2, body: { name: 'erin' } })).status, 200);
      // and to a name nobody's scopes name
      assert.equal((await t2.api('PATCH', '/users/bob', { token: keeper, body: { name: 'robert' } })).status, 200);
    } finally {
      await t2.stop();
    }
  });

  it('names the configuration makes privileged cannot be created or taken by renaming without those privileges', async () => {
    const t2 = await startTestHub({
      admin_users: ['chief'],
      roles: [
        { name: 'user-manager', scopes: ['admin:users', 'admin:groups'], users: ['manager'] },
        { name: 'operator', scopes: ['admin:servers'], users: ['op'], groups: ['ops'] },
      ],
    });
    try {
      const root = await t2.tokenFor('root', { admin: true });
      const mgr = await t2.tokenFor('manager');
      // simulate accounts deleted since the last start
      for (const n of ['chief', 'op']) assert.ok([204, 404].includes((await t2.api('DELETE', `/users/${n}`, { token: root })).status));
      assert.equal((await t2.api('DELETE', '/groups/ops', { token: root })).status, 204);
      for (const [method, path, body] of [
        ['POST', '/users/chief', {}],
        ['POST', '/users', { usernames: ['chief'] }],
        ['POST', '/users/op', {}],
        ['POST', '/users', { usernames: ['newbie', 'op'] }],
      ] as const) {
        const r = await t2.api(method, path, { token: mgr, body });
        assert.equal(r.status, 403, `${method} ${path} ${JSON.stringify(body)}`);
      }
      assert.equal((await t2.api('GET', '/users/newbie', { token: root })).status, 404, 'nothing created when one name is refused');
      await t2.api('POST', '/users/mine', { token: mgr });
      for (const newName of ['chief', 'op']) {
        const r = await t2.api('PATCH', '/users/mine', { token: mgr, body: { name: newName } });
        assert.equal(r.status, 403, newName);
      }
      assert.notEqual((await t2.api('PATCH', '/users/mine', { token: mgr, body: { name: 'Chief' } })).status, 200);
      assert.equal((await t2.api('POST', '/groups/ops', { token: mgr })).status, 403);
      assert.equal((await t2.api('POST', '/groups', { token: mgr, body: { groups: ['ops'] }, validate: false })).status, 403);
      // an admin may
      assert.equal((await t2.api('POST', '/users/chief', { token: root })).status, 201);
    } finally {
      await t2.stop();
    }
  });
});
