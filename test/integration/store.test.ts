import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { migrate, pendingMigrations } from '../../src/db/database.js';
import { createUser, deleteUser, ensureUser, getUser, listUsers, touchUserActivity, updateUser } from '../../src/db/repos/users.js';
import { claimSpawn, createServer, getServer, serversOfUsers, updateServer } from '../../src/db/repos/servers.js';
import { createToken, findToken, listTokens, deleteTokensOfSession } from '../../src/db/repos/tokens.js';
import { addMembers, createGroup, membersOfGroups } from '../../src/db/repos/groups.js';
import { createCode, getClient, takeCode, upsertClient } from '../../src/db/repos/oauth.js';
import { createSession, getSession } from '../../src/db/repos/sessions.js';
import { getSetting, setSetting } from '../../src/db/repos/settings.js';
import { CryptKeeper } from '../../src/lib/crypto.js';
import { migratedStore, STORE_DIALECTS } from '../helpers/store-dialects.js';

/** The same repository tests on every dialect (Kysely's DIALECTS pattern). */
const dialects = STORE_DIALECTS;

for (const dialect of dialects) {
  describe(`store on ${dialect.name}`, () => {
    const store = migratedStore(dialect);

    it('migrates once, under a lock, and reports nothing pending', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      assert.deepEqual(await migrate(database), []);
      assert.deepEqual(await pendingMigrations(database), []);
    });

    it('creates, renames, lists and deletes users', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const db = database.db;
      const a = await createUser(db, 'alice');
      await createUser(db, 'bob', true);
      await assert.rejects(createUser(db, 'alice'));
      assert.equal((await ensureUser(db, 'alice')).id, a.id);
      await updateUser(db, a.id, { name: 'alicia' });
      assert.equal((await getUser(db, 'alicia'))?.id, a.id);
      await touchUserActivity(db, a.id, '2030-01-01T00:00:00.000Z');
      await touchUserActivity(db, a.id, '2020-01-01T00:00:00.000Z');
      assert.equal((await getUser(db, 'alicia'))?.last_activity, '2030-01-01T00:00:00.000Z');
      const page = await listUsers(db, { offset: 0, limit: 1, sort: 'name', descending: true });
      assert.equal(page.total, 2);
      assert.equal(page.rows[0]!.name, 'bob');
      await deleteUser(db, a.id);
      assert.equal(await getUser(db, 'alicia'), undefined);
    });

    it('keeps servers with versioned state and claims a spawn once', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const db = database.db;
      const u = await ensureUser(db, 'carol');
      const s = await createServer(db, u.id, '', 'local-process');
      assert.equal(await claimSpawn(db, s.id, 'hub-1'), true);
      assert.equal(await claimSpawn(db, s.id, 'hub-2'), false);
      await updateServer(db, s.id, { state: JSON.stringify({ v: 1, pid: 42 }), ready: 1, pending: null, url: 'http://127.0.0.1:1' });
      const row = await getServer(db, u.id, '');
      assert.deepEqual(JSON.parse(row!.state), { v: 1, pid: 42 });
      assert.equal((await serversOfUsers(db, [u.id])).get(u.id)!.length, 1);
      const active = await listUsers(db, { offset: 0, limit: 10, sort: 'id', descending: false, state: 'ready' });
      assert.deepEqual(active.rows.map((r) => r.name), ['carol']);
    });

    it('stores tokens hashed and finds them by prefix', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const db = database.db;
      const u = await ensureUser(db, 'dan');
      const { token, row } = await createToken(db, u.id, { kind: 'api', scopes: ['read:users'], sessionId: 's1' });
      assert.notEqual(row.hashed, token);
      assert.ok(!JSON.stringify(await listTokens(db, u.id)).includes(token));
      assert.equal((await findToken(db, token))?.id, row.id);
      assert.equal(await findToken(db, `${token.slice(0, 4)}${'0'.repeat(28)}`), undefined);
      const expired = await createToken(db, u.id, { kind: 'api', scopes: [], expiresIn: -10 });
      assert.equal(await findToken(db, expired.token), undefined);
      await deleteTokensOfSession(db, 's1');
      assert.equal(await findToken(db, token), undefined);
    });

    it('keeps groups, OAuth clients and one-time codes, sessions and settings', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const db = database.db;
      const u = await ensureUser(db, 'eve');
      const g = await createGroup(db, 'team', { a: 1 });
      await addMembers(db, g.id, [u.id, u.id]);
      assert.deepEqual((await membersOfGroups(db, [g.id])).get(g.id), ['eve']);
      await upsertClient(db, { identifier: 'jupyterhub-user-eve', secret: 's3cret', redirectUri: '/user/eve/oauth_callback', description: '', allowedScopes: [], userId: u.id, serverName: '' });
      await upsertClient(db, { identifier: 'jupyterhub-user-eve', secret: 'other', redirectUri: '/user/eve/oauth_callback', description: 'again', allowedScopes: [], userId: u.id, serverName: '' });
      assert.equal((await getClient(db, 'jupyterhub-user-eve'))?.description, 'again');
      const code = await createCode(db, { clientId: 'jupyterhub-user-eve', userId: u.id, redirectUri: '/user/eve/oauth_callback', scopes: [], sessionId: null });
      assert.ok(await takeCode(db, code));
      assert.equal(await takeCode(db, code), undefined);
      const session = await createSession(db, u.id, 60);
      assert.equal((await getSession(db, session.id))?.user_id, u.id);
      await setSetting(db, 'k', 'v1');
      await setSetting(db, 'k', 'v2');
      assert.equal(await getSetting(db, 'k'), 'v2');
    });

    it('encrypts auth state with rotating keys', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const oldKey = 'a'.repeat(64);
      const newKey = 'b'.repeat(64);
      const before = CryptKeeper.fromEnv({ GANYMEDE_CRYPT_KEY: oldKey });
      const stored = before.encrypt({ access_token: 'x' });
      assert.ok(!stored.includes('access_token'));
      const rotated = CryptKeeper.fromEnv({ GANYMEDE_CRYPT_KEY: `${newKey};${oldKey}` });
      assert.deepEqual(rotated.decrypt(stored), { access_token: 'x' });
      const u = await ensureUser(database.db, 'fred');
      await updateUser(database.db, u.id, { auth_state: rotated.encrypt({ refresh: 'y' }) });
      assert.deepEqual(rotated.decrypt((await getUser(database.db, 'fred'))!.auth_state!), { refresh: 'y' });
      assert.throws(() => CryptKeeper.fromEnv({ GANYMEDE_CRYPT_KEY: 'short' }), /32 bytes/);
    });
  });
}
