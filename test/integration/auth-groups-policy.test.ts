import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import type { Authenticator, AuthResult } from '../../src/auth/authenticator.js';
import type { ConfigHooks } from '../../src/config/schema.js';
import { getUser } from '../../src/db/repos/users.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

/** Header login with groups: `X-Test-User: name`, `X-Test-Groups: a,b` (absent: no groups claim). */
class GroupsAuthenticator implements Authenticator {
  readonly kind = 'test-groups';
  readonly loginHeader = 'X-Test-User';
  async authenticateRequest(req: FastifyRequest): Promise<AuthResult | null> {
    const name = req.headers['x-test-user'];
    if (typeof name !== 'string') return null;
    const groups = req.headers['x-test-groups'];
    return { name, ...(typeof groups === 'string' ? { groups: groups ? groups.split(',') : [] } : {}) };
  }
}

async function login(t: TestHub, name: string, groups?: string): Promise<Response> {
  return fetch(`${t.hubUrl}/hub/login`, { headers: { 'X-Test-User': name, ...(groups === undefined ? {} : { 'X-Test-Groups': groups }) }, redirect: 'manual' });
}

async function groupsOf(t: TestHub, name: string): Promise<string[]> {
  const rows = await t.hub.db
    .selectFrom('user_groups')
    .innerJoin('groups', 'groups.id', 'user_groups.group_id')
    .innerJoin('users', 'users.id', 'user_groups.user_id')
    .select('groups.name')
    .where('users.name', '=', name)
    .execute();
  return rows.map((r) => r.name).sort();
}

describe('groups policy for every backend: allowed_groups, admin_groups, manage_groups', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub(
      { auth: { kind: 'shared-password', allowed_groups: ['staff', 'students'], admin_groups: ['admins'], manage_groups: true }, admin_users: ['root'] },
      { authenticator: new GroupsAuthenticator() },
    );
  });
  after(async () => t.stop());

  it('admin_groups sets admin at a login in the group and unsets it at a login without', async () => {
    assert.equal((await login(t, 'ada', 'staff,admins')).status, 302);
    assert.equal((await getUser(t.hub.db, 'ada'))?.admin, 1);
    assert.equal((await login(t, 'ada', 'staff')).status, 302);
    assert.equal((await getUser(t.hub.db, 'ada'))?.admin, 0);
    assert.equal((await login(t, 'ada', 'admins')).status, 302, 'admin_groups members are let in');
    assert.equal((await getUser(t.hub.db, 'ada'))?.admin, 1);
  });

  it('admin_users stay admin without an admin group', async () => {
    assert.equal((await login(t, 'root', '')).status, 302);
    assert.equal((await getUser(t.hub.db, 'root'))?.admin, 1);
  });

  it('a user in none of allowed_groups gets a 403 page saying so; no user, no cookie', async () => {
    const r = await login(t, 'eve', 'guests');
    assert.equal(r.status, 403);
    assert.match(await r.text(), /not in a group allowed to use this hub/);
    assert.ok(!r.headers.getSetCookie().some((c) => c.startsWith('jupyterhub-hub-login=')));
    assert.equal(await getUser(t.hub.db, 'eve'), undefined);
    assert.equal((await login(t, 'eve2')).status, 403, 'no groups claim at all: refused too');
  });

  it('manage_groups makes the hub groups those of the login: created, joined, left', async () => {
    assert.equal((await login(t, 'gus', 'staff,physics')).status, 302);
    assert.deepEqual(await groupsOf(t, 'gus'), ['physics', 'staff']);
    assert.equal((await login(t, 'gus', 'students,chemistry')).status, 302);
    assert.deepEqual(await groupsOf(t, 'gus'), ['chemistry', 'students']);
    assert.ok(await t.hub.db.selectFrom('groups').select('id').where('name', '=', 'physics').executeTakeFirst(), 'a group left is not deleted');
  });

  it('manage_groups skips a group name the name rules refuse (logged), keeps the others', async () => {
    assert.equal((await login(t, 'hal', `staff,bad/name,${'x'.repeat(300)}`)).status, 302);
    assert.deepEqual(await groupsOf(t, 'hal'), ['staff']);
    assert.equal(await t.hub.db.selectFrom('groups').select('id').where('name', '=', 'bad/name').executeTakeFirst(), undefined);
  });
});

describe('postAuthHook', () => {
  let t: TestHub;
  const seen: AuthResult[] = [];
  const hooks: ConfigHooks = {
    postAuthHook: (result) => {
      seen.push(result);
      if (result.name === 'banned') return null;
      if (result.name === 'renamed') return { ...result, name: 'newname' };
      if (result.name === 'badrename') return { ...result, name: '../x' };
      if (result.name === 'promoted') return { ...result, admin: true, groups: ['from-hook'] };
      if (result.name === 'crash') throw new Error('hook bug');
      return result;
    },
  };
  before(async () => {
    t = await startTestHub({ auth: { kind: 'shared-password', manage_groups: true } }, { authenticator: new GroupsAuthenticator(), hooks });
  });
  after(async () => t.stop());

  it('sees the result after the policy (normalised name)', async () => {
    assert.equal((await login(t, 'Ivy', 'x')).status, 302);
    assert.equal(seen.at(-1)?.name, 'ivy');
    assert.deepEqual(seen.at(-1)?.groups, ['x']);
  });

  it('may refuse: 403 page, nothing stored', async () => {
    const r = await login(t, 'banned');
    assert.equal(r.status, 403);
    assert.equal(await getUser(t.hub.db, 'banned'), undefined);
  });

  it('may change the name (checked again by the name rules) and admin and groups', async () => {
    assert.equal((await login(t, 'renamed')).status, 302);
    assert.ok(await getUser(t.hub.db, 'newname'));
    assert.equal(await getUser(t.hub.db, 'renamed'), undefined);
    assert.equal((await login(t, 'badrename')).status, 400);
    assert.equal((await login(t, 'promoted')).status, 302);
    assert.equal((await getUser(t.hub.db, 'promoted'))?.admin, 1);
    assert.deepEqual(await groupsOf(t, 'promoted'), ['from-hook']);
  });

  it('a hook that throws refuses the login with a page, not a 500', async () => {
    const r = await login(t, 'crash');
    assert.equal(r.status, 403);
    assert.equal(await getUser(t.hub.db, 'crash'), undefined);
  });
});
