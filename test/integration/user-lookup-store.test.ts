/**
 * The API's hot lookups (src/db/repos/user-lookup.ts, the id lists of
 * src/db/id-list.ts, the compiled queries of src/db/prepared.ts) give the
 * same answers as the plain repository functions, on every dialect.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createUser, groupsOfUsers, rolesOfUsers } from '../../src/db/repos/users.js';
import { createServer, modelServersOfUsers, serversOfUsers, SERVER_MODEL_COLUMNS, updateServer } from '../../src/db/repos/servers.js';
import { addMembers, createGroup } from '../../src/db/repos/groups.js';
import { contextsOfUsers, serversOfUser, userWithNames } from '../../src/db/repos/user-lookup.js';
import { preparedQuery } from '../../src/db/prepared.js';
import { migratedStore, STORE_DIALECTS } from '../helpers/store-dialects.js';

for (const dialect of STORE_DIALECTS) {
  describe(`user lookups on ${dialect.name}`, () => {
    const store = migratedStore(dialect);

    it('reads a user with its sorted groups and roles in one statement, and its servers', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const db = database.db;
      const ann = await createUser(db, 'ann');
      const bob = await createUser(db, 'bob', true);
      const zeta = await createGroup(db, 'zeta');
      const alpha = await createGroup(db, 'alpha "quoted"');
      await addMembers(db, zeta.id, [ann.id]);
      await addMembers(db, alpha.id, [ann.id]);
      await db.insertInto('user_roles').values({ user_id: ann.id, role: 'auditor' }).execute();
      await createServer(db, ann.id, 'b', 'default');
      const a = await createServer(db, ann.id, '', 'default');
      await updateServer(db, a.id, { ready: 1, url: 'http://127.0.0.1:1' });

      const found = await userWithNames(db, 'ann');
      assert.ok(found);
      assert.equal(found.user.id, ann.id);
      assert.equal(found.user.name, 'ann');
      assert.deepEqual(found.groups, ['alpha "quoted"', 'zeta']);
      assert.deepEqual(found.roles, ['auditor']);
      assert.deepEqual(Object.keys(found.user).sort(), Object.keys(ann).sort(), 'the user row has the columns of getUser, no more');
      const plain = await userWithNames(db, 'bob');
      assert.deepEqual([plain?.user.id, plain?.groups, plain?.roles], [bob.id, [], []]);
      assert.equal(await userWithNames(db, 'nobody'), undefined);
      // the same compiled query, with other values, again
      assert.equal((await userWithNames(db, 'ann'))?.user.id, ann.id);

      const servers = await serversOfUser(db, ann.id);
      assert.deepEqual(servers.map((s) => s.name), ['', 'b']);
      const full = (await serversOfUsers(db, [ann.id])).get(ann.id)!;
      assert.deepEqual(servers, full.map((r) => Object.fromEntries(SERVER_MODEL_COLUMNS.map((c) => [c, r[c]]))));
      assert.deepEqual(servers, (await modelServersOfUsers(db, [ann.id])).get(ann.id));
      assert.deepEqual(await serversOfUser(db, bob.id), []);
    });

    it('reads groups, roles and servers of many users with the id list bound once', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const db = database.db;
      const users = [];
      for (let i = 0; i < 250; i++) users.push(await createUser(db, `many${i}`));
      const g = await createGroup(db, 'many-group');
      await addMembers(db, g.id, [users[3]!.id, users[249]!.id]);
      await db.insertInto('user_roles').values({ user_id: users[7]!.id, role: 'r7' }).execute();
      await createServer(db, users[249]!.id, '', 'default');
      const ids = users.map((u) => u.id);
      const groups = await groupsOfUsers(db, ids);
      assert.deepEqual([...groups.entries()].sort(), [
        [users[3]!.id, ['many-group']],
        [users[249]!.id, ['many-group']],
      ].sort());
      assert.deepEqual([...(await rolesOfUsers(db, ids)).entries()], [[users[7]!.id, ['r7']]]);
      assert.deepEqual([...(await serversOfUsers(db, ids)).keys()], [users[249]!.id]);
      assert.deepEqual([...(await modelServersOfUsers(db, ids)).keys()], [users[249]!.id]);
      assert.equal((await groupsOfUsers(db, [])).size, 0);
      // the compiled statements of the API's pages give the same
      const contexts = await contextsOfUsers(db, ids);
      assert.deepEqual(contexts.groups, groups);
      assert.deepEqual(contexts.roles, await rolesOfUsers(db, ids));
      assert.deepEqual(contexts.servers, await modelServersOfUsers(db, ids));
      assert.deepEqual((await contextsOfUsers(db, [users[7]!.id])).roles, new Map([[users[7]!.id, ['r7']]]));
      assert.equal((await contextsOfUsers(db, [])).servers.size, 0);
    });

    it('refuses a compiled query whose values are not all placeholders', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const bad = preparedQuery(1, (db, [name]) => db.selectFrom('users').select('id').where('name', '=', name!).where('admin', '=', 1));
      await assert.rejects(bad(database.db, 'ann'), /every parameter/);
    });
  });
}
