/**
 * The store's dialects for tests that run the same cases on each (Kysely's
 * DIALECTS pattern): a fresh SQLite file, and a throw-away PostgreSQL when
 * one can be started here (`open` answers undefined otherwise).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Database } from '../../src/db/database.js';
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
