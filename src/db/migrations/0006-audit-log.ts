import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * The audit log (issue 14, item 6): who did what, when, for admin actions and
 * every token creation (`src/db/repos/audit.ts`), read by `GET /hub/api/audit`
 * and the admin page, newest first (hence the index on `at`, with `id` to
 * break ties).
 *
 * Also the indexes the admin page's sorts and filters need at 50,000 users:
 * `users.last_activity` (sort by last activity) and `servers.ready` /
 * `servers.pending` (the `state=` filters and the "running first" sort read
 * the few active servers through them instead of scanning every row).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const serial = dialect === 'postgres' ? 'serial' : 'integer';
  await db.schema
    .createTable('audit_log')
    .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor_kind', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').columns(['at', 'id']).execute();
  await db.schema.createIndex('audit_log_actor').on('audit_log').columns(['actor', 'at']).execute();
  await db.schema.createIndex('audit_log_action').on('audit_log').columns(['action', 'at']).execute();
  // NULLs (never active) first in ascending order, as SQLite orders them and as listUsers asks (JupyterHub's
  // order): then both directions of the sort walk the index
  if (dialect === 'postgres') await sql`create index users_last_activity on users (last_activity asc nulls first, id asc)`.execute(db);
  else await db.schema.createIndex('users_last_activity').on('users').columns(['last_activity', 'id']).execute();
  await db.schema.createIndex('servers_ready').on('servers').columns(['ready', 'user_id']).execute();
  await db.schema.createIndex('servers_pending').on('servers').columns(['pending', 'user_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('servers_pending').execute();
  await db.schema.dropIndex('servers_ready').execute();
  await db.schema.dropIndex('users_last_activity').execute();
  await db.schema.dropTable('audit_log').execute();
}
