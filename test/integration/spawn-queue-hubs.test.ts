import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { countingSpawner, type CountingSpawner } from '../helpers/spawner-doubles.js';
import { eventually } from '../helpers/server-state.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { queueLength } from '../../src/db/repos/spawn-queue.js';

/**
 * Two hub processes (two hubs built in this process, each with its own
 * connection pool) on one PostgreSQL share one spawn queue: together they
 * never admit more spawns at once than `concurrent_spawn_limit`, and every
 * queued spawn ends ready. The spawner double is shared, so it sees the
 * starts of both.
 */
describe('spawn queue across two hubs on one PostgreSQL', () => {
  let pg: TestPostgres | undefined;
  before(async () => {
    pg = await startPostgres();
  });
  after(() => pg?.stop());

  it('never admits more than the limit, and admits every waiting spawn of both', async (ctx) => {
    if (!pg) return ctx.skip('PostgreSQL is not installed');
    const spawner: CountingSpawner = countingSpawner(150);
    const hubs: TestHub[] = [];
    try {
      const raw = { db: { url: pg.url }, concurrent_spawn_limit: 3, slow_spawn_timeout: 0, spawn_queue: { check_interval: 0.1 } };
      hubs.push(await startTestHub(raw, { spawner }));
      hubs.push(await startTestHub(raw, { spawner }));
      const names = Array.from({ length: 24 }, (_, i) => `h${i}`);
      const tokens = await Promise.all(names.map((n) => hubs[0]!.tokenFor(n)));
      // every other user goes through the other hub, all at once
      const results = await Promise.all(names.map((n, i) => hubs[i % 2]!.api('POST', `/users/${n}/server`, { token: tokens[i]! })));
      assert.deepEqual(
        results.map((r) => r.status).filter((s) => s !== 202 && s !== 201),
        [],
      );
      await eventually(
        async () => {
          const r = await hubs[0]!.hub.db.selectFrom('servers').select('id').where('ready', '=', 1).where('pending', 'is', null).execute();
          return r.length === names.length;
        },
        30_000,
        'every server ready',
      );
      assert.ok(spawner.maxInProgress <= 3, `most starts at once over both hubs: ${spawner.maxInProgress}`);
      assert.equal(spawner.order.length, names.length);
      assert.equal(await queueLength(hubs[0]!.hub.db), 0);
    } finally {
      for (const t of hubs) await t.stop();
      await spawner.close();
    }
  });
});
