/**
 * What the `--state-db` store (state-db.ts) needs from a database: the table,
 * one write batch, and the small driver interface that SQLite
 * (state-db-sqlite.ts) and PostgreSQL (state-db-postgres.ts) implement.
 */
import type { Logger } from 'pino';
import type { RouteEntry, RouteTable } from './route-table.js';

export const TABLE = 'ganymede_proxy_routes';
export const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  proxy TEXT NOT NULL,
  route TEXT NOT NULL,
  data TEXT NOT NULL,
  last_activity BIGINT NOT NULL,
  PRIMARY KEY (proxy, route)
)`;
/** The PostgreSQL notification channel of every proxy name (the payload names the proxy). */
export const NOTIFY_CHANNEL = 'ganymede_proxy_routes';

export interface Row {
  route: string;
  data: string;
  lastActivity: number;
}

/** A row as the drivers read it (PostgreSQL returns BIGINT as a string). */
export interface StoredRow {
  route: string;
  data: string;
  last_activity: number | string;
}

/** One flush: written in a single transaction. */
export interface Batch {
  /** Delete every row of this proxy name first (a full sync). */
  replaceAll: boolean;
  /** Rows written whole; an existing row keeps the larger `last_activity`. */
  upserts: Row[];
  deletes: string[];
  /** Newer `last_activity` values of routes whose row is otherwise unchanged. */
  activity: Array<{ route: string; lastActivity: number }>;
  /** Told to the other processes when the transaction commits (PostgreSQL `NOTIFY`); none if undefined. */
  notice?: string | undefined;
}

/** What a driver calls when other processes may have changed rows. */
export interface WatchHooks {
  /** A PostgreSQL notification on {@link NOTIFY_CHANNEL}, its payload as sent. */
  notice(payload: string): void;
  /** Anything may have changed (SQLite commit seen, reconnection, periodic check): re-read every row. */
  changed(): void;
}

export interface WatchTiming {
  /** SQLite: how often `PRAGMA data_version` is checked, in ms. */
  pollMs: number;
  /** PostgreSQL: how often every row is re-read anyway, in ms. */
  reloadMs: number;
  /** PostgreSQL: first and longest wait before reconnecting the notification connection, in ms. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

/** The little the store needs from a driver. */
export interface RouteDb {
  /** This proxy name's rows; only those of `routes` when given. */
  read(proxy: string, routes?: readonly string[]): Promise<StoredRow[]>;
  write(proxy: string, batch: Batch): Promise<void>;
  /**
   * Starts watching for commits of other processes. Resolves once watching
   * has started (or failed and is being retried), so rows read afterwards
   * miss no change. Stopped by `close()`.
   */
  watch(hooks: WatchHooks, timing: WatchTiming): Promise<void>;
  /** Stops watching and closes every connection. */
  close(): Promise<void>;
}

/** What drivers get to log with. */
export interface DriverContext {
  log: Logger;
  /** The database URL with its password masked. */
  description: string;
  /** Removes passwords from an error message. */
  mask(text: string): string;
}

export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(describeError).join('; ');
  if (err instanceof Error) return err.message || (err as NodeJS.ErrnoException).code || err.name;
  return String(err);
}

/**
 * The batch for the routes in `keys` (every route when `full`), plus the
 * `last_activity` of the other routes: every one (`all`), or those newer
 * than in `stored`.
 */
export function buildBatch(table: RouteTable, full: boolean, keys: Set<string>, activity: 'all' | ReadonlyMap<string, number> | undefined): Batch {
  const row = (e: RouteEntry): Row => ({ route: e.key, data: JSON.stringify(e.data), lastActivity: Math.round(e.lastActivity) });
  const upserts: Row[] = [];
  const deletes: string[] = [];
  if (full) {
    for (const entry of table.entries()) upserts.push(row(entry));
  } else {
    for (const key of keys) {
      const entry = table.get(key);
      if (entry === undefined) deletes.push(key);
      else upserts.push(row(entry));
    }
  }
  const written = new Set(upserts.map((r) => r.route));
  const touched: Batch['activity'] = [];
  if (activity !== undefined) {
    for (const entry of table.entries()) {
      const when = Math.round(entry.lastActivity);
      if (written.has(entry.key) || (activity !== 'all' && when <= (activity.get(entry.key) ?? -1))) continue;
      touched.push({ route: entry.key, lastActivity: when });
    }
  }
  return { replaceAll: full, upserts, deletes, activity: touched };
}
