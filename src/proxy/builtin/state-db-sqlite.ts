/**
 * The SQLite driver of the `--state-db` store (better-sqlite3, loaded on
 * first use). Processes sharing the file learn of each other's commits by
 * polling `PRAGMA data_version`, which changes when another connection commits.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { CREATE_TABLE, TABLE, describeError } from './state-db-driver.js';
import type { Batch, DriverContext, RouteDb, StoredRow } from './state-db-driver.js';

export async function openSqlite(file: string, ctx: DriverContext): Promise<RouteDb> {
  const { default: SQLite } = await import('better-sqlite3');
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new SQLite(file);
  try {
    db.pragma('busy_timeout = 5000'); // the hub may have the same file open
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(CREATE_TABLE);
  } catch (err) {
    db.close();
    throw err;
  }
  const select = db.prepare<[string], StoredRow>(`SELECT route, data, last_activity FROM ${TABLE} WHERE proxy = ?`);
  const selectOne = db.prepare<[string, string], StoredRow>(`SELECT route, data, last_activity FROM ${TABLE} WHERE proxy = ? AND route = ?`);
  const upsert = db.prepare<[string, string, string, number]>(
    `INSERT INTO ${TABLE} (proxy, route, data, last_activity) VALUES (?, ?, ?, ?)
     ON CONFLICT (proxy, route) DO UPDATE SET data = excluded.data, last_activity = MAX(last_activity, excluded.last_activity)`,
  );
  const remove = db.prepare<[string, string]>(`DELETE FROM ${TABLE} WHERE proxy = ? AND route = ?`);
  const removeAll = db.prepare<[string]>(`DELETE FROM ${TABLE} WHERE proxy = ?`);
  const touch = db.prepare<[number, string, string]>(`UPDATE ${TABLE} SET last_activity = MAX(last_activity, ?) WHERE proxy = ? AND route = ?`);
  const apply = db.transaction((proxy: string, batch: Batch) => {
    if (batch.replaceAll) removeAll.run(proxy);
    for (const route of batch.deletes) remove.run(proxy, route);
    for (const r of batch.upserts) upsert.run(proxy, r.route, r.data, r.lastActivity);
    for (const a of batch.activity) touch.run(a.lastActivity, proxy, a.route);
  });
  let poller: NodeJS.Timeout | undefined;
  return {
    read: async (proxy, routes) => {
      if (routes === undefined) return select.all(proxy);
      return routes.flatMap((route) => selectOne.all(proxy, route));
    },
    write: async (proxy, batch) => {
      apply.immediate(proxy, batch); // take the write lock at BEGIN: waits (busy_timeout) rather than failing midway
    },
    watch: async (hooks, timing) => {
      const version = (): unknown => db.pragma('data_version', { simple: true });
      let last = version();
      poller = setInterval(() => {
        try {
          const now = version();
          if (now === last) return;
          last = now;
        } catch (err) {
          ctx.log.warn({ store: ctx.description, err: ctx.mask(describeError(err)) }, 'could not check the proxy route store for changes');
          return;
        }
        hooks.changed();
      }, timing.pollMs);
      poller.unref();
    },
    close: async () => {
      clearInterval(poller);
      db.close();
    },
  };
}
