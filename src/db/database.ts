import path from 'node:path';
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Migration, type MigrationProvider, type SqliteDatabase } from 'kysely';
import SQLite from 'better-sqlite3';
import { ConfigError } from '../lib/errors.js';
import type { DB } from './schema.js';
import { registerChangeStamp, SqliteChangeWatch } from './change-stamp.js';
import * as m0001 from './migrations/0001-initial.js';
import * as m0002 from './migrations/0002-services.js';
import * as m0003 from './migrations/0003-auth-refresh.js';
import * as m0004 from './migrations/0004-oauth-pkce.js';
import * as m0005 from './migrations/0005-reported-port.js';
import * as m0006 from './migrations/0006-audit-log.js';
import * as m0007 from './migrations/0007-spawn-queue.js';
import * as m0008 from './migrations/0008-activity-source.js';

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
export async function openDatabase(url: string, dataDir: string): Promise<Database> {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    // loaded only when used: most hubs run on SQLite
    const { default: pg } = await import('pg');
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
    if (file !== ':memory:') {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      // The database holds token hashes and OAuth secrets: the hub's alone (SQLite gives -wal and -shm the same mode).
      closeSync(openSync(file, 'a', 0o600));
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    }
    const sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    const watch = new SqliteChangeWatch(sqlite);
    const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite, watch) }) });
    registerChangeStamp(db, watch);
    return { db, dialect: 'sqlite', close: () => db.destroy() };
  }
  throw new ConfigError(`config: db.url: expected a sqlite:// or postgres:// URL, got ${JSON.stringify(url.replace(/:[^:@/]*@/, ':***@'))}`);
}

/**
 * Kysely's SQLite driver prepares every query anew, which costs more than
 * running it; this keeps the most recent prepared statements by their SQL
 * text. better-sqlite3 runs a statement to completion synchronously, so one
 * statement object can serve every call.
 *
 * Kysely's driver asks for the statement right before it runs it, every
 * time: a statement SQLite does not call read-only bumps `watch`'s write
 * epoch there (see change-stamp.ts).
 */
function withStatementCache(sqlite: SQLite.Database, watch: SqliteChangeWatch, size = 500): SqliteDatabase {
  const cache = new Map<string, { stmt: SQLite.Statement; readonly: boolean }>();
  return {
    close: () => sqlite.close(),
    prepare: (text: string) => {
      let entry = cache.get(text);
      if (entry) {
        cache.delete(text);
      } else {
        const stmt = sqlite.prepare(text);
        entry = { stmt, readonly: stmt.readonly };
        if (cache.size >= size) cache.delete(cache.keys().next().value as string);
      }
      cache.set(text, entry);
      if (!entry.readonly) watch.bump();
      return entry.stmt;
    },
  };
}

function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001-initial': { up: (db) => m0001.up(db, dialect), down: (db) => m0001.down(db) },
    '0002-services': { up: (db) => m0002.up(db, dialect), down: (db) => m0002.down(db) },
    '0003-auth-refresh': { up: (db) => m0003.up(db), down: (db) => m0003.down(db) },
    '0004-oauth-pkce': { up: (db) => m0004.up(db), down: (db) => m0004.down(db) },
    '0005-reported-port': { up: (db) => m0005.up(db), down: (db) => m0005.down(db) },
    '0006-audit-log': { up: (db) => m0006.up(db, dialect), down: (db) => m0006.down(db) },
    '0007-spawn-queue': { up: (db) => m0007.up(db, dialect), down: (db) => m0007.down(db) },
    '0008-activity-source': { up: (db) => m0008.up(db, dialect), down: (db) => m0008.down(db) },
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
