/**
 * The culler's database parts on every dialect: the lease across hub
 * processes, the `cull-idle` service with its role and per-round tokens, and
 * a server's activity source with the "only newer wins" rule.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { releaseLease, takeLease } from '../../src/services/culler/cull-lease.js';
import { CULLER_SERVICE, revokeRoundToken, roundToken } from '../../src/services/culler/culler-service.js';
import { identifyService } from '../../src/hub/service-identity.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { createServer, getServer, touchServerActivity } from '../../src/db/repos/servers.js';
import { migratedStore, STORE_DIALECTS } from '../helpers/store-dialects.js';

for (const dialect of STORE_DIALECTS) {
  describe(`culler store on ${dialect.name}`, () => {
    const store = migratedStore(dialect);

    it('one lease holder at a time; renewed by its holder; free once expired or released', async (t) => {
      const database = store.database;
      if (!database) return t.skip('dialect not available here');
      const db = database.db;
      const t0 = new Date('2026-12-04T10:00:00Z');
      assert.equal(await takeLease(db, 'a', 60, t0), true);
      assert.equal(await takeLease(db, 'b', 60, t0), false);
      assert.equal(await takeLease(db, 'a', 60, new Date(t0.getTime() + 30_000)), true);
      assert.equal(await takeLease(db, 'b', 60, new Date(t0.getTime() + 80_000)), false, 'renewed at +30 s: held until +90 s');
      assert.equal(await takeLease(db, 'b', 60, new Date(t0.getTime() + 91_000)), true);
      await releaseLease(db, 'a'); // not the holder: nothing
      assert.equal(await takeLease(db, 'a', 60, new Date(t0.getTime() + 92_000)), false);
      await releaseLease(db, 'b');
      assert.equal(await takeLease(db, 'a', 60, new Date(t0.getTime() + 92_000)), true);
      // two takers at once: exactly one wins
      await releaseLease(db, 'a');
      const wins = await Promise.all(['x', 'y', 'z'].map((o) => takeLease(db, o, 60)));
      assert.equal(wins.filter(Boolean).length, 1);
    });

    it("a round's token has the culler's scopes only, and is gone once revoked", async (t) => {
      const database = store.database;
      if (!database) return t.skip('dialect not available here');
      const db = database.db;
      const first = await roundToken(db, { cullUsers: false, ttlSeconds: 60, services: [], roles: [] });
      const who = await identifyService(db, first.token);
      assert.equal(who?.service.name, CULLER_SERVICE);
      for (const s of ['list:users', 'read:users:activity', 'read:servers', 'delete:servers']) assert.ok(who!.scopes.has(s), s);
      assert.equal(who!.scopes.has('delete:users'), false);
      assert.equal(who!.scopes.has('admin:users'), false);
      await revokeRoundToken(db, first.id);
      assert.equal(await identifyService(db, first.token), null);
      const second = await roundToken(db, { cullUsers: true, ttlSeconds: 60, services: [], roles: [] });
      assert.ok((await identifyService(db, second.token))!.scopes.has('delete:users'));
      await revokeRoundToken(db, second.id);
      await assert.rejects(roundToken(db, { cullUsers: false, ttlSeconds: 60, services: [{ name: CULLER_SERVICE }], roles: [] }), /cull-idle is the built-in culler's/);
    });

    it("a server's last activity moves forward only, with its source", async (t) => {
      const database = store.database;
      if (!database) return t.skip('dialect not available here');
      const db = database.db;
      const user = await ensureUser(db, 'activity-user');
      const row = await createServer(db, user.id, '', 'default');
      await touchServerActivity(db, row.id, '2026-12-04T10:00:00.000Z', 'proxy');
      await touchServerActivity(db, row.id, '2026-12-04T09:00:00.000Z', 'server');
      let s = await getServer(db, user.id, '');
      assert.deepEqual([s?.last_activity, s?.last_activity_source], ['2026-12-04T10:00:00.000Z', 'proxy']);
      await touchServerActivity(db, row.id, '2026-12-04T10:05:00.000Z', 'server');
      s = await getServer(db, user.id, '');
      assert.deepEqual([s?.last_activity, s?.last_activity_source], ['2026-12-04T10:05:00.000Z', 'server']);
    });
  });
}
