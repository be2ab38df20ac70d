/**
 * The response cache of GET /users and GET /users/{name}
 * (src/api/response-cache.ts) never serves a stale answer or another
 * requester's: after each kind of write the next GET shows it, requesters
 * with other scopes get their own answers, and the cache stays bounded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { OTHER_WRITERS_CHECK_MS } from '../../src/db/change-stamp.js';
import path from 'node:path';
import { sql } from 'kysely';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { loadRoles } from '../../src/hub/roles-loader.js';
import { CryptKeeper } from '../../src/lib/crypto.js';
import { responseCacheOf, RESPONSE_CACHE_MAX_ENTRIES } from '../../src/api/response-cache.js';

interface UserModel {
  name?: string;
  admin?: boolean;
  roles?: string[];
  groups?: string[];
  last_activity?: string | null;
  servers?: Record<string, { ready: boolean; stopped: boolean; last_activity: string | null }>;
}

describe('API response cache: fresh after every write, per visibility, bounded', () => {
  let t: TestHub;
  let admin: string;
  const get = async (p: string, token = admin) => {
    const r = await t.api('GET', p, { token });
    return r;
  };
  const user = async (name: string, token = admin) => (await get(`/users/${name}`, token)).body as UserModel;
  const list = async (token = admin) => (await get('/users', token)).body as UserModel[];
  const listed = async (name: string, token = admin) => (await list(token)).find((u) => u.name === name);
  /** The answer twice (the second one from the cache), the two equal; the first returned. */
  const warm = async (p: string, token = admin) => {
    const a = await get(p, token);
    const b = await get(p, token);
    assert.equal(b.text, a.text, `${p}: the cached answer is the built one`);
    assert.equal(b.headers.get('content-type'), a.headers.get('content-type'));
    return a;
  };

  before(async () => {
    t = await startTestHub();
    admin = await t.tokenFor('root', { admin: true });
    for (const n of ['ann', 'bob', 'cat']) assert.equal((await t.api('POST', `/users/${n}`, { token: admin })).status, 201);
  });
  after(async () => t?.stop());

  it('answers from the cache when nothing changed, with the same bytes', async () => {
    await warm('/users');
    await warm('/users/ann');
    await warm('/users?offset=1&limit=2');
    const cache = responseCacheOf(t.hub);
    assert.ok(cache, 'SQLite: the cache is on');
    assert.ok(cache.stats.entries >= 3, `${cache.stats.entries} entries`);
  });

  it('shows user creation, admin flag, rename and deletion at once', async () => {
    await warm('/users');
    assert.equal((await get('/users/dan')).status, 404);
    assert.equal((await t.api('POST', '/users/dan', { token: admin })).status, 201);
    assert.ok(await listed('dan'));
    assert.equal((await user('dan')).name, 'dan');

    await warm('/users/dan');
    assert.equal((await t.api('PATCH', '/users/dan', { token: admin, body: { admin: true } })).status, 200);
    assert.equal((await user('dan')).admin, true);
    assert.equal((await listed('dan'))?.admin, true);

    await warm('/users/dan');
    assert.equal((await t.api('PATCH', '/users/dan', { token: admin, body: { name: 'dana', admin: false } })).status, 200);
    assert.equal((await get('/users/dan')).status, 404);
    assert.equal((await user('dana')).admin, false);
    assert.equal(await listed('dan'), undefined);

    await warm('/users/dana');
    assert.equal((await t.api('DELETE', '/users/dana', { token: admin })).status, 204);
    assert.equal((await get('/users/dana')).status, 404);
    assert.equal(await listed('dana'), undefined);
  });

  it('shows group membership and roles loaded as a reload does', async () => {
    await warm('/users/ann');
    assert.equal((await t.api('POST', '/groups/team', { token: admin })).status, 201);
    assert.equal((await t.api('POST', '/groups/team/users', { token: admin, body: { users: ['ann'] } })).status, 200);
    assert.deepEqual((await user('ann')).groups, ['team']);
    assert.deepEqual((await listed('ann'))?.groups, ['team']);

    await warm('/users/ann');
    await loadRoles(t.hub.db, [{ name: 'auditor', description: '', scopes: ['read:users'], users: ['ann'], groups: [], services: [] }], []);
    assert.ok((await user('ann')).roles?.includes('auditor'));
    assert.ok((await listed('ann'))?.roles?.includes('auditor'));
    await warm('/users/ann');
    await loadRoles(t.hub.db, [{ name: 'auditor', description: '', scopes: ['read:users'], users: [], groups: [], services: [] }], []);
    assert.ok(!(await user('ann')).roles?.includes('auditor'));
  });

  it('shows a server starting, ready and stopped, and reported activity', async () => {
    await warm('/users/bob');
    await warm('/users?include_stopped_servers=1');
    const started = await t.api('POST', '/users/bob/server', { token: admin });
    assert.ok([201, 202].includes(started.status), `start: ${started.status} ${started.text}`);
    const deadline = Date.now() + 10_000;
    let model = await user('bob');
    while (!model.servers?.['']?.ready && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      model = await user('bob');
    }
    assert.equal(model.servers?.['']?.ready, true, 'the server is seen ready');
    assert.equal((await listed('bob'))?.servers?.['']?.ready, true);

    // later than the start's activity: the user's last_activity only moves forward
    const when = new Date(Date.now() + 86_400_000).toISOString();
    await warm('/users/bob');
    assert.equal((await t.api('POST', '/users/bob/activity', { token: admin, body: { servers: { '': { last_activity: when } } } })).status, 200);
    assert.equal((await user('bob')).servers?.['']?.last_activity, when);
    assert.equal((await listed('bob'))?.last_activity, when);

    await warm('/users/bob');
    assert.ok([202, 204].includes((await t.api('DELETE', '/users/bob/server', { token: admin })).status));
    const stopDeadline = Date.now() + 10_000;
    while ((await user('bob')).servers?.[''] && Date.now() < stopDeadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual((await user('bob')).servers, {}, 'a stopped server is not listed');
    assert.deepEqual((await listed('bob'))?.servers, {});
  });

  it('shows a raw SQL write and a write committed by another process on the same file', async () => {
    await warm('/users/cat');
    await warm('/users');
    const when = '2026-02-03T04:05:06.000Z';
    await sql`update users set last_activity = ${when} where name = 'cat'`.execute(t.hub.db);
    assert.equal((await user('cat')).last_activity, when);
    assert.equal((await listed('cat'))?.last_activity, when);

    await warm('/users/cat');
    await warm('/users');
    const file = path.join(t.dataDir, 'ganymede.sqlite');
    const script = "const D = require('better-sqlite3'); const db = new D(process.argv[1]); db.pragma('busy_timeout = 5000'); db.prepare(\"update users set admin = 1 where name = 'cat'\").run(); db.close();";
    execFileSync(process.execPath, ['-e', script, file], { cwd: process.cwd(), timeout: 10_000 });
    // another process's commit is seen within OTHER_WRITERS_CHECK_MS (src/db/change-stamp.ts)
    await new Promise((r) => setTimeout(r, OTHER_WRITERS_CHECK_MS + 10));
    assert.equal((await user('cat')).admin, true, 'the other process committed: the next GET shows it');
    assert.equal((await listed('cat'))?.admin, true);
  });

  it('never gives one requester the answer built for another with other scopes', async () => {
    // tokens of an admin, each with fewer scopes than its owner's
    const names = await t.tokenFor('root', { scopes: ['list:users', 'read:users:name'] });
    const self = await t.tokenFor('root', { scopes: ['list:users!user=bob', 'read:users!user=bob'] });
    const none = await t.tokenFor('root', { scopes: ['read:users:name!user=cat'] });
    for (let round = 0; round < 2; round++) {
      const full = await list();
      assert.ok(full.some((u) => u.roles !== undefined && u.last_activity !== undefined), 'the admin sees roles and activity');
      const short = await list(names);
      assert.ok(short.length >= 3, `${short.length} users listed with list:users`);
      for (const u of short) assert.deepEqual(Object.keys(u).sort(), ['admin', 'kind', 'name'], 'read:users:name shows three keys');
      const own = await list(self);
      assert.deepEqual(own.map((u) => u.name), ['bob'], 'list:users!user=bob lists bob only');
      assert.ok(own[0]!.roles !== undefined, 'read:users!user=bob shows bob in full');
      assert.deepEqual(Object.keys(await user('ann', names)).sort(), ['admin', 'kind', 'name']);
      assert.ok((await user('ann')).roles !== undefined);
      // the scope check still runs before the cache: warmed answers are refused to a token without the scope
      assert.ok([403, 404].includes((await get('/users/ann', none)).status));
      assert.equal((await get('/users', none)).status, 403);
      assert.ok([403, 404].includes((await get('/users/ann', self)).status));
    }
  });

  it('does not keep decrypted auth state: answers that show it are built every time', async () => {
    const saved = t.hub.crypt;
    t.hub.crypt = new CryptKeeper([Buffer.alloc(32, 7)]);
    try {
      assert.equal((await t.api('PATCH', '/users/ann', { token: admin, body: { auth_state: { secret: 'one' } } })).status, 200);
      const cache = responseCacheOf(t.hub)!;
      cache.clear();
      assert.deepEqual(((await user('ann')) as { auth_state?: unknown }).auth_state, { secret: 'one' });
      await list();
      assert.equal(cache.stats.entries, 0, 'nothing stored for a requester who reads auth state');
      const names = await t.tokenFor('root', { scopes: ['read:users:name'] });
      await user('ann', names);
      await user('ann', names);
      assert.equal(cache.stats.entries, 1, 'a requester without admin:auth_state is still cached');
    } finally {
      t.hub.crypt = saved;
    }
  });

  it('stays bounded by entries', async () => {
    const cache = responseCacheOf(t.hub)!;
    for (let i = 0; i < RESPONSE_CACHE_MAX_ENTRIES + 50; i += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, j) => get(`/users?limit=1&x=${i + j}`)));
    }
    assert.ok(cache.stats.entries <= RESPONSE_CACHE_MAX_ENTRIES, `${cache.stats.entries} entries`);
    assert.ok(cache.stats.bytes <= cache.maxBytes);
  });
});

describe('API response cache on PostgreSQL: off', { skip: postgresAvailable() ? false : 'PostgreSQL is not installed (scripts/test.sh installs it)' }, () => {
  let pg: TestPostgres | undefined;
  let t: TestHub | undefined;
  after(async () => {
    await t?.stop();
    pg?.stop();
  });

  it('caches nothing (no cheap way to see another process commit) and answers fresh', async () => {
    pg = await startPostgres();
    assert.ok(pg, 'PostgreSQL started');
    t = await startTestHub({ db: { url: pg.url } });
    const admin = await t.tokenFor('root', { admin: true });
    assert.equal((await t.api('POST', '/users/ann', { token: admin })).status, 201);
    assert.equal(((await t.api('GET', '/users/ann', { token: admin })).body as UserModel).admin, false);
    assert.equal((await t.api('PATCH', '/users/ann', { token: admin, body: { admin: true } })).status, 200);
    assert.equal(((await t.api('GET', '/users/ann', { token: admin })).body as UserModel).admin, true);
    assert.ok(((await t.api('GET', '/users', { token: admin })).body as UserModel[]).some((u) => u.name === 'ann' && u.admin));
    assert.equal(responseCacheOf(t.hub), undefined);
  });
});
