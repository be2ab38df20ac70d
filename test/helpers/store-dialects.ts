/**
 * The store's dialects for tests that run the same cases on each (Kysely's
 * DIALECTS pattern): a fresh SQLite file, and a throw-away PostgreSQL when
 * one can be started here (`open` answers undefined otherwise).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { migrate, openDatabase, type Database } from '../../src/db/database.js';
import { startPostgres } from './postgres.js';

export interface StoreDialect {
  name: 'sqlite' | 'postgres';
  open(): Promise<{ database: Database; cleanup: () => void | Promise<void> } | undefined>;
}

export const STORE_DIALECTS: readonly StoreDialect[] = [
  {
    name: 'sqlite',
    open: async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-store-'));
      return { database: await openDatabase('sqlite:///store.sqlite', dir), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    open: async () => {
      const pg = await startPostgres();
      if (!pg) return undefined;
      return { database: await openDatabase(pg.url, os.tmpdir()), cleanup: () => pg.stop() };
    },
  },
];

/** A dialect's store for the tests of one describe; `database` is undefined when the dialect can't be opened here. */
export interface MigratedStore {
  readonly database: Database | undefined;
}

/**
 * Registers, in the current describe, a `before` that opens `dialect` and
 * migrates it, and an `after` that closes it and removes what `open` made.
 * Hooks the caller registers afterwards (seeding) run once it is migrated.
 */
export function migratedStore(dialect: StoreDialect): MigratedStore {
  let database: Database | undefined;
  let cleanup: () => void | Promise<void> = () => undefined;
  before(async () => {
    const opened = await dialect.open();
    if (!opened) return;
    ({ database, cleanup } = opened);
    await migrate(database);
  });
  after(async () => {
    await database?.close();
    await cleanup();
  });
  return {
    get database() {
      return database;
    },
  };
}
