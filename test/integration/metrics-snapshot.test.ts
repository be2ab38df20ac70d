import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readSnapshot } from '../../src/metrics/db-snapshot.js';
import { queueLength } from '../../src/db/repos/spawn-queue.js';
import { migratedStore, STORE_DIALECTS } from '../helpers/store-dialects.js';

/** The database gauges of /hub/metrics read the same on every dialect (PostgreSQL answers counts as strings). */
for (const dialect of STORE_DIALECTS) {
  describe(`metrics gauges on ${dialect.name}`, () => {
    const store = migratedStore(dialect);

    it('counts users, active users by period, ready servers and pending spawns', async (t) => {
      const database = store.database;
      if (!database) return t.skip('PostgreSQL not available');
      const { db } = database;
      const now = Date.parse('2026-12-04T12:00:00Z');
      const ago = (hours: number) => new Date(now - hours * 3600_000).toISOString();
      const activity = [ago(1), ago(23.9), ago(24.1), ago(6 * 24), ago(29 * 24), ago(31 * 24), null];
      const ids: number[] = [];
      for (const [i, at] of activity.entries()) {
        const row = await db.insertInto('users').values({ name: `u${i}`, admin: 0, created: ago(1000), last_activity: at }).returning('id').executeTakeFirstOrThrow();
        ids.push(row.id);
      }
      const server = (i: number, ready: number, pending: 'spawn' | 'stop' | null) =>
        db.insertInto('servers').values({ user_id: ids[i]!, name: '', ready, pending, state: '{}', user_options: '{}', spawner: 'default' }).returning('id').executeTakeFirstOrThrow();
      await server(0, 1, null);
      await server(1, 1, null);
      const queued = await server(2, 0, 'spawn');
      // a spawn waiting in the queue (src/db/repos/spawn-queue.ts)
      await db.insertInto('spawn_queue').values({ server_id: queued.id, owner: 'test', enqueued: ago(5), seen: ago(1) }).execute();
      await server(3, 1, 'stop');
      assert.deepEqual(await readSnapshot(db, queueLength, now), {
        totalUsers: 7,
        activeUsers: { '24h': 2, '7d': 4, '30d': 5 },
        runningServers: 3,
        queueLength: 1,
      });
    });
  });
}
