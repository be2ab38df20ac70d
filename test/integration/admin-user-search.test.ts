import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { listUsers } from '../../src/db/repos/users.js';
import { listAudit, recordAudit } from '../../src/db/repos/audit.js';
import { adminUserPage } from '../../src/web/admin-query.js';
import { migratedStore, STORE_DIALECTS } from '../helpers/store-dialects.js';
import { insertUsers } from '../helpers/bulk-users.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

/**
 * The admin page's and GET /users' search, sort and paging in the query
 * layer, on every dialect: JupyterHub's `name_filter` (substring, any case,
 * LIKE wildcards taken literally), never-active users first in ascending
 * last-activity order and last in descending, "active first", and a total
 * that counts every match.
 */
for (const dialect of STORE_DIALECTS) {
  describe(`user search on ${dialect.name}`, () => {
    const store = migratedStore(dialect);
    before(async () => {
      const database = store.database;
      if (!database) return;
      // user00000..user00299; even ones have activity; the first 5 run a server
      await insertUsers(database.db, { count: 300, running: 5 });
      await insertUsers(database.db, { count: 3, prefix: 'a_b' });
    });

    it('name_filter finds a substring, in any case, and counts all matches', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const r = await listUsers(database.db, { offset: 0, limit: 5, sort: 'name', descending: false, nameFilter: 'ER0012' });
      assert.equal(r.total, 10);
      assert.deepEqual(r.rows.map((u) => u.name), ['user00120', 'user00121', 'user00122', 'user00123', 'user00124']);
      const next = await listUsers(database.db, { offset: 5, limit: 5, sort: 'name', descending: false, nameFilter: 'er0012' });
      assert.equal(next.rows[0]!.name, 'user00125');
    });

    it('name_filter takes LIKE wildcards literally', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      assert.equal((await listUsers(database.db, { offset: 0, limit: 50, sort: 'id', descending: false, nameFilter: '_' })).total, 3);
      assert.equal((await listUsers(database.db, { offset: 0, limit: 50, sort: 'id', descending: false, nameFilter: '%' })).total, 0);
      assert.equal((await listUsers(database.db, { offset: 0, limit: 50, sort: 'id', descending: false, nameFilter: 'a_b0000' })).total, 3);
    });

    it('sorts by last activity with never-active users first ascending, last descending (same on every dialect)', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const asc = await listUsers(database.db, { offset: 0, limit: 3, sort: 'last_activity', descending: false, nameFilter: 'user' });
      for (const u of asc.rows) assert.equal(u.last_activity, null, u.name);
      const desc = await listUsers(database.db, { offset: 0, limit: 3, sort: 'last_activity', descending: true, nameFilter: 'user' });
      assert.deepEqual(desc.rows.map((u) => u.name), ['user00298', 'user00296', 'user00294']);
    });

    it('the state filter and "active first" read the running users first, then the rest by name', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const ready = await listUsers(database.db, { offset: 0, limit: 50, sort: 'name', descending: false, state: 'ready' });
      assert.equal(ready.total, 5);
      const page1 = await adminUserPage(database.db, { offset: 0, limit: 7, sort: 'active' });
      assert.equal(page1.total, 303);
      assert.deepEqual(page1.rows.map((u) => u.name), ['user00000', 'user00001', 'user00002', 'user00003', 'user00004', 'a_b00000', 'a_b00001']);
      const page2 = await adminUserPage(database.db, { offset: 7, limit: 3, sort: 'active' });
      assert.deepEqual(page2.rows.map((u) => u.name), ['a_b00002', 'user00005', 'user00006']);
      const filtered = await adminUserPage(database.db, { offset: 0, limit: 3, sort: 'active', nameFilter: '0000' });
      assert.deepEqual(filtered.rows.map((u) => u.name), ['user00000', 'user00001', 'user00002']);
    });

    it('keeps audit entries newest first, filtered by actor and by action or action prefix, without secret keys', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const db = database.db;
      await recordAudit(db, { actor: { kind: 'user', name: 'root' }, action: 'server.start', target: 'a/' });
      await recordAudit(db, { actor: { kind: 'service', name: 'culler' }, action: 'server.stop', target: 'a/' });
      await recordAudit(db, { actor: { kind: 'cli', name: 'ops' }, action: 'token.create', target: 'a', detail: { note: 'n', token: 'secret-value' } });
      const all = await listAudit(db, { offset: 0, limit: 10 });
      assert.equal(all.total, 3);
      assert.deepEqual(all.rows.map((r) => r.action), ['token.create', 'server.stop', 'server.start']);
      assert.deepEqual(JSON.parse(all.rows[0]!.detail), { note: 'n' });
      assert.deepEqual((await listAudit(db, { offset: 0, limit: 10, action: 'server.' })).rows.map((r) => r.actor), ['culler', 'root']);
      assert.equal((await listAudit(db, { offset: 0, limit: 10, action: 'server' })).total, 0, 'a prefix ends in a dot');
      assert.deepEqual((await listAudit(db, { offset: 0, limit: 10, actor: 'root' })).rows.map((r) => r.action), ['server.start']);
      assert.deepEqual((await listAudit(db, { offset: 1, limit: 1 })).rows.map((r) => r.action), ['server.stop']);
    });

    it('"-name" pages backwards through the name index and respects the viewer\'s filter', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const r = await adminUserPage(database.db, { offset: 0, limit: 2, sort: '-name', names: ['user00007', 'user00150'], groups: [] });
      assert.equal(r.total, 2);
      assert.deepEqual(r.rows.map((u) => u.name), ['user00150', 'user00007']);
    });
  });
}

describe('GET /hub/api/users with name_filter, state and sort', () => {
  let t: TestHub;
  let admin: string;
  before(async () => {
    t = await startTestHub();
    admin = await t.tokenFor('root', { admin: true });
    await insertUsers(t.hub.db, { count: 120, running: 3 });
  });
  after(async () => t.stop());

  it('filters by a part of the name, any case, with the state filter and a descending sort, and counts the matches', async () => {
    const r = await t.api('GET', '/users?name_filter=USER0001&sort=-name&limit=3', { token: admin, headers: { Accept: 'application/jupyterhub-pagination+json' } });
    assert.equal(r.status, 200, r.text);
    const env = r.body as { items: { name: string }[]; _pagination: { total: number } };
    assert.deepEqual(env.items.map((u) => u.name), ['user00019', 'user00018', 'user00017']);
    assert.equal(env._pagination.total, 10);
    const ready = await t.api('GET', '/users?state=ready&name_filter=0000', { token: admin });
    assert.deepEqual((ready.body as { name: string }[]).map((u) => u.name), ['user00000', 'user00001', 'user00002']);
  });

  it('refuses a repeated or overlong name_filter with a 400 naming it', async () => {
    const r = await t.api('GET', `/users?name_filter=a&name_filter=b`, { token: admin });
    assert.equal(r.status, 400);
    assert.match((r.body as { message: string }).message, /name_filter/);
    assert.equal((await t.api('GET', `/users?name_filter=${'x'.repeat(300)}`, { token: admin })).status, 400);
  });
});
