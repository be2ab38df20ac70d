import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * `spawn_queue`: spawns waiting for a slot under `concurrent_spawn_limit`, in
 * FIFO order of `id`. A row exists only while its spawn waits (admission
 * deletes it); its server is `pending = 'spawn'` meanwhile. `owner` is the
 * hub process that runs the spawn once admitted, `seen` when that process
 * last said it is alive (a row not seen for a while belongs to a dead
 * process and is removed).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('spawn_queue')
    .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('server_id', 'integer', (c) => c.notNull().unique().references('servers.id').onDelete('cascade'))
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('enqueued', 'text', (c) => c.notNull())
    .addColumn('seen', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('spawn_queue').execute();
}
