import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Where a server's last activity came from (issue 14, item 1):
 * `servers.last_activity_source` is 'server' (the single-user server's own
 * report, `POST /hub/api/users/NAME/activity`), 'proxy' (the proxy's
 * per-route activity, read every `last_activity_interval`), 'start' (set when
 * the server became ready), or null (not known: rows from before this).
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('servers').addColumn('last_activity_source', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('servers').dropColumn('last_activity_source').execute();
}
