import type { Kysely } from 'kysely';

import type { Dialect } from '../database.js';

/** The first schema: users, groups, roles, servers, tokens, OAuth, sessions, settings. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  // An auto-incrementing integer key: `serial` on PostgreSQL, `integer primary key autoincrement` on SQLite.
  const serial = dialect === 'postgres' ? 'serial' : 'integer';
  await db.schema
    .createTable('users')
    .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('admin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created', 'text', (c) => c.notNull())
    .addColumn('last_activity', 'text')
    .addColumn('auth_state', 'text')
    .execute();
  await db.schema
    .createTable('groups')
    .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('properties', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema
    .createTable('user_groups')
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('user_groups_pk', ['user_id', 'group_id'])
    .execute();
  await db.schema
    .createTable('roles')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('scopes', 'text', (c) => c.notNull().defaultTo('[]'))
    .execute();
  await db.schema
    .createTable('user_roles')
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('user_roles_pk', ['user_id', 'role'])
    .execute();
  await db.schema
    .createTable('group_roles')
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('group_roles_pk', ['group_id', 'role'])
    .execute();
  await db.schema
    .createTable('servers')
    .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('url', 'text')
    .addColumn('spawner', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('started', 'text')
    .addColumn('last_activity', 'text')
    .addColumn('user_options', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('pending', 'text')
    .addColumn('ready', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('owner', 'text')
    .addUniqueConstraint('servers_user_name', ['user_id', 'name'])
    .execute();
  await db.schema
    .createTable('api_tokens')
    .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('hashed', 'text', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text')
    .addColumn('last_activity', 'text')
    .addColumn('session_id', 'text')
    .addColumn('client_id', 'text')
    .addColumn('server_name', 'text')
    .execute();
  await db.schema.createIndex('api_tokens_prefix').on('api_tokens').column('prefix').execute();
  await db.schema.createIndex('api_tokens_session').on('api_tokens').column('session_id').execute();
  await db.schema
    .createTable('oauth_clients')
    .addColumn('identifier', 'text', (c) => c.primaryKey())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('allowed_scopes', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('server_name', 'text')
    .execute();
  await db.schema
    .createTable('oauth_codes')
    .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('code_hash', 'text', (c) => c.notNull().unique())
    .addColumn('client_id', 'text', (c) => c.notNull().references('oauth_clients.identifier').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text')
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('xsrf', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('hub_settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['hub_settings', 'sessions', 'oauth_codes', 'oauth_clients', 'api_tokens', 'servers', 'group_roles', 'user_roles', 'roles', 'user_groups', 'groups', 'users']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
