import type { Kysely } from 'kysely';

/**
 * `servers.reported_port`: the port a starting server reported to the hub
 * (`POST /hub/api/batchspawner`, `/hub/api/firecrestspawner`), cleared when
 * a spawn is claimed. In the database so that a report reaching another hub
 * process, or arriving while the hub restarts, is not lost.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('servers').addColumn('reported_port', 'integer').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('servers').dropColumn('reported_port').execute();
}
