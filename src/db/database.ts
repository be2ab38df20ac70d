import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Migration, type MigrationProvider } from 'kysely';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { ConfigError } from '../lib/errors.js';
import type { DB } from './schema.js';
import * as m0001 from './migrations/0001-initial.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<DB>;
  dialect: Dialect;
  close(): Promise<void>;
}

/**
 * Opens the store named by `db.url`: `sqlite:///rel.sqlite` (relative to the
 * data dir), `sqlite:////abs.sqlite`, `sqlite://:memory:`, or `postgres://...`.
 */
export function openDatabase(url: string, dataDir: string): Database {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000 });
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: 'postgres', close: () => db.destroy() };
  }
  if (url.startsWith('sqlite://')) {
    const rest = url.slice('sqlite://'.length);
    let file: string;
    if (rest === ':memory:' || rest === '/:memory:') file = ':memory:';
    else if (rest.startsWith('//')) file = rest.slice(1);
    else if (rest.startsWith('/')) file = path.resolve(dataDir, rest.slice(1));
    else throw new ConfigError(`config: db.url: expected sqlite:///file or sqlite:////abs/file, got ${JSON.stringify(url)}`);
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    const sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: sqlite }) });
    return { db, dialect: 'sqlite', close: () => db.destroy() };
  }
  throw new ConfigError(`config: db.url: expected a sqlite:// or postgres:// URL, got ${JSON.stringify(url.replace(/:[^:@/]*@/, ':***@'))}`);
}

function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001-initial': { up: (db) => m0001.up(db, dialect), down: (db) => m0001.down(db) },
  };
}

/**
 * Brings the schema up to date. Kysely's Migrator holds a lock table while it
 * runs, so several hub processes starting together migrate once.
 */
export async function migrate(database: Database): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(database.dialect) };
  const migrator = new Migrator({ db: database.db, provider, migrationTableName: 'ganymede_migrations', migrationLockTableName: 'ganymede_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw new Error(`database migration failed: ${(error as Error).message}`, { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** True when the schema is older than this version of ganymede. */
export async function pendingMigrations(database: Database): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(database.dialect) };
  const migrator = new Migrator({ db: database.db, provider, migrationTableName: 'ganymede_migrations', migrationLockTableName: 'ganymede_migrations_lock' });
  const list = await migrator.getMigrations();
  return list.filter((m) => !m.executedAt).map((m) => m.name);
}

export { sql };
