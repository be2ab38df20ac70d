import type { Kysely } from 'kysely';

import type { Dialect } from '../database.js';

/**
 * Services (JupyterHub's `services`): API clients with their own tokens and
 * roles that are not users, so that no service can be logged in as.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const serial = dialect === 'postgres' ? 'serial' : 'integer';
  await db.schema
    .createTable('services')
    .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('admin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('url', 'text')
    .addColumn('display', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('oauth_no_confirm', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('info', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created', 'text', (c) => c.notNull())
    .addColumn('last_activity', 'text')
    .execute();
  await db.schema
    .createTable('service_roles')
    .addColumn('service_id', 'integer', (c) => c.notNull().references('services.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('service_roles_pk', ['service_id', 'role'])
    .execute();
  await db.schema
    .createTable('service_tokens')
    .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('hashed', 'text', (c) => c.notNull())
    .addColumn('service_id', 'integer', (c) => c.notNull().references('services.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text')
    .addColumn('last_activity', 'text')
    .execute();
  await db.schema.createIndex('service_tokens_prefix').on('service_tokens').column('prefix').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['service_tokens', 'service_roles', 'services']) await db.schema.dropTable(t).ifExists().execute();
}
