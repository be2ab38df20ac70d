import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';

/**
 * How many spawns wait right now (`ganymede_spawn_queue_length`). Until the
 * spawn queue (issue 14, item 3) exports its own `queueLength(db)`, this
 * counts the servers whose spawn is pending: swap the import in
 * src/hub/app.ts (the `queueLength` option of {@link PrometheusHubMetrics}).
 */
export async function pendingSpawnCount(db: Kysely<DB>): Promise<number> {
  const row = await db.selectFrom('servers').select((eb) => eb.fn.countAll<number>().as('n')).where('pending', '=', 'spawn').executeTakeFirstOrThrow();
  return Number(row.n);
}
