/**
 * Persistence of the built-in proxy's routing table in a database
 * (`--state-db`): SQLite (possibly the hub's own file) or PostgreSQL. Each
 * route is one row of `ganymede_proxy_routes`, keyed by the proxy's instance
 * name (`--state-name`) and the route key, so several proxies can keep their
 * tables in one database.
 *
 * The drivers are loaded on first use (`load()`), so a proxy that does not use
 * this store never has them in memory.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { RouteData, RouteEntry, RouteTable } from './route-table.js';
import type { RouteStore } from './state-file.js';

const TABLE = 'ganymede_proxy_routes';
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  proxy TEXT NOT NULL,
  route TEXT NOT NULL,
  data TEXT NOT NULL,
  last_activity BIGINT NOT NULL,
  PRIMARY KEY (proxy, route)
)`;

export interface DatabaseRouteStoreOptions {
  /** Instance name: the rows of this proxy (default `default`). Proxies sharing a name share rows. */
  name?: string | undefined;
  logger: Logger;
  /** Debounce of writes after a change, in ms (default 50). */
  delayMs?: number | undefined;
  /** Delay before a failed write is tried again when nothing else triggers it, in ms (default 5000). */
  retryMs?: number | undefined;
  /** PostgreSQL connect timeout, in ms (default 10000). */
  connectTimeoutMs?: number | undefined;
}

interface Row {
  route: string;
  data: string;
  lastActivity: number;
}

/** One flush: written in a single transaction. */
interface Batch {
  /** Delete every row of this proxy name first (a full sync). */
  replaceAll: boolean;
  upserts: Row[];
  deletes: string[];
  /** Newer `last_activity` values of routes whose row is otherwise unchanged. */
  activity: Array<{ route: string; lastActivity: number }>;
}

/** The little this store needs from a driver. */
interface RouteDb {
  read(proxy: string): Promise<Array<{ route: string; data: string; last_activity: number | string }>>;
  write(proxy: string, batch: Batch): Promise<void>;
  close(): Promise<void>;
}

/** `postgres://user:secret@host/db?password=x` -> `postgres://user:***@host/db?password=***`. */
export function maskDatabaseUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#:@]*):[^/?#]*@/i, '$1:***@').replace(/([?&]password=)[^&#]*/gi, '$1***');
}

function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(describeError).join('; ');
  if (err instanceof Error) return err.message || (err as NodeJS.ErrnoException).code || err.name;
  return String(err);
}

/** The `--state-db` store. Nothing is opened before `load()`. */
export class DatabaseRouteStore implements RouteStore {
  readonly description: string;
  private readonly name: string;
  private readonly log: Logger;
  private readonly delayMs: number;
  private readonly retryMs: number;
  private readonly connectTimeoutMs: number;
  private readonly secrets: string[];
  private db: RouteDb | undefined;
  private table: RouteTable | undefined;
  private pending = new Set<string>();
  private full = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    opts: DatabaseRouteStoreOptions,
  ) {
    this.description = maskDatabaseUrl(url);
    this.name = opts.name ?? 'default';
    this.log = opts.logger;
    this.delayMs = opts.delayMs ?? 50;
    this.retryMs = opts.retryMs ?? 5000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.secrets = passwordsIn(url);
  }

  /**
   * Opens the database, creates the table if missing and reads this proxy
   * name's rows into `table`. Rejects, naming the store and the cause, when
   * the URL is not understood or the database cannot be reached.
   */
  async load(table: RouteTable): Promise<number> {
    let db: RouteDb | undefined;
    let rows: Awaited<ReturnType<RouteDb['read']>>;
    try {
      db = await this.open();
      rows = await db.read(this.name);
    } catch (err) {
      await db?.close().catch(() => undefined);
      throw new Error(`proxy route store ${this.description}: ${this.mask(describeError(err))}`, { cause: err });
    }
    let count = 0;
    for (const row of rows) {
      let data: unknown;
      try {
        data = JSON.parse(row.data);
      } catch {
        data = undefined;
      }
      if (typeof data !== 'object' || data === null || Array.isArray(data) || typeof (data as Record<string, unknown>)['target'] !== 'string') {
        this.log.warn({ store: this.description, name: this.name, route: row.route }, 'skipping malformed route in the proxy route store');
        continue;
      }
      const when = Number(row.last_activity);
      table.set(row.route, data as RouteData, Number.isFinite(when) ? when : Date.now());
      count++;
    }
    this.db = db;
    this.table = table;
    return count;
  }

  schedule(key?: string): void {
    if (key === undefined) this.full = true;
    else this.pending.add(key);
    if (this.timer !== undefined || this.db === undefined || this.closing !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write(false);
    }, this.delayMs);
  }

  flush(): Promise<void> {
    return this.write(true);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.write(true);
      const db = this.db;
      this.db = undefined;
      await db?.close().catch((err: unknown) => this.log.warn({ store: this.description, err: this.mask(describeError(err)) }, 'error closing the proxy route store'));
    })();
    return this.closing;
  }

  private async open(): Promise<RouteDb> {
    const url = this.url;
    if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return openPostgres(url, this.connectTimeoutMs, this.log, this.description);
    if (url.startsWith('sqlite://')) {
      const rest = url.slice('sqlite://'.length);
      if (rest === ':memory:' || rest === '/:memory:') throw new Error('an in-memory SQLite database keeps nothing across restarts; use a file');
      if (!rest.startsWith('/') || rest.length < 2) throw new Error('expected sqlite:///relative/file or sqlite:////absolute/file');
      // sqlite:////abs -> /abs; sqlite:///rel -> relative to the current directory
      return openSqlite(rest.startsWith('//') ? rest.slice(1) : path.resolve(rest.slice(1)));
    }
    throw new Error('expected a sqlite:// or postgres:// URL');
  }

  /** Writes what changed since the last write (and, with `activity`, every route's last_activity). */
  private async write(activity: boolean): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.writing !== undefined) await this.writing;
    const { db, table } = this;
    if (db === undefined || table === undefined) return;
    const full = this.full;
    const keys = this.pending;
    if (!full && keys.size === 0 && !activity) return;
    this.full = false;
    this.pending = new Set();
    const batch = buildBatch(table, full, keys, activity);
    if (!full && batch.upserts.length + batch.deletes.length + batch.activity.length === 0) return;
    this.writing = db
      .write(this.name, batch)
      .then(
        () => this.log.debug({ store: this.description, upserts: batch.upserts.length, deletes: batch.deletes.length }, 'proxy routes saved'),
        (err: unknown) => {
          // Keep what was not written; the next write (or a retry) sends it again.
          if (full) this.full = true;
          for (const key of keys) this.pending.add(key);
          this.log.error({ store: this.description, name: this.name, err: this.mask(describeError(err)) }, 'could not save proxy routes to the database; will retry');
          if (this.closing === undefined && this.timer === undefined) {
            this.timer = setTimeout(() => {
              this.timer = undefined;
              void this.write(false);
            }, this.retryMs);
            this.timer.unref();
          }
        },
      )
      .finally(() => {
        this.writing = undefined;
      });
    await this.writing;
  }

  private mask(text: string): string {
    let out = maskDatabaseUrl(text);
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
  }
}

function buildBatch(table: RouteTable, full: boolean, keys: Set<string>, activity: boolean): Batch {
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
  if (activity) {
    for (const entry of table.entries()) {
      if (!written.has(entry.key)) touched.push({ route: entry.key, lastActivity: Math.round(entry.lastActivity) });
    }
  }
  return { replaceAll: full, upserts, deletes, activity: touched };
}

/** The password of a URL, raw and decoded, for scrubbing error messages (too short ones would mangle them). */
function passwordsIn(url: string): string[] {
  const found: string[] = [];
  try {
    const u = new URL(url);
    if (u.password !== '') found.push(u.password, decodeURIComponent(u.password));
    const param = u.searchParams.get('password');
    if (param !== null) found.push(param);
  } catch {
    // not a URL: nothing to scrub beyond the URL masking
  }
  return [...new Set(found)].filter((s) => s.length >= 4);
}

async function openSqlite(file: string): Promise<RouteDb> {
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
  const select = db.prepare<[string], { route: string; data: string; last_activity: number }>(`SELECT route, data, last_activity FROM ${TABLE} WHERE proxy = ?`);
  const upsert = db.prepare<[string, string, string, number]>(
    `INSERT INTO ${TABLE} (proxy, route, data, last_activity) VALUES (?, ?, ?, ?)
     ON CONFLICT (proxy, route) DO UPDATE SET data = excluded.data, last_activity = excluded.last_activity`,
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
  return {
    read: async (proxy) => select.all(proxy),
    write: async (proxy, batch) => {
      apply.immediate(proxy, batch); // take the write lock at BEGIN: waits (busy_timeout) rather than failing midway
    },
    close: async () => {
      db.close();
    },
  };
}

async function openPostgres(url: string, connectTimeoutMs: number, log: Logger, description: string): Promise<RouteDb> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: url,
    max: 1,
    connectionTimeoutMillis: connectTimeoutMs,
    query_timeout: 30_000,
    idleTimeoutMillis: 60_000,
    application_name: 'ganymede-proxy',
  });
  // An idle connection that breaks is replaced at the next query; it must not crash the proxy.
  pool.on('error', (err) => log.warn({ store: description, err: maskDatabaseUrl(describeError(err)) }, 'proxy route store connection lost'));
  try {
    await pool.query(CREATE_TABLE);
  } catch (err) {
    // Two proxies creating the table at once: one of them gets a duplicate error, and the table exists.
    const code = (err as { code?: string }).code;
    if (code !== '23505' && code !== '42P07') {
      await pool.end().catch(() => undefined);
      throw err;
    }
  }
  return {
    read: async (proxy) => (await pool.query<{ route: string; data: string; last_activity: string }>(`SELECT route, data, last_activity FROM ${TABLE} WHERE proxy = $1`, [proxy])).rows,
    write: async (proxy, batch) => {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        if (batch.replaceAll) await client.query(`DELETE FROM ${TABLE} WHERE proxy = $1`, [proxy]);
        else if (batch.deletes.length > 0) await client.query(`DELETE FROM ${TABLE} WHERE proxy = $1 AND route = ANY($2::text[])`, [proxy, batch.deletes]);
        if (batch.upserts.length > 0) {
          await client.query(
            `INSERT INTO ${TABLE} (proxy, route, data, last_activity)
             SELECT $1, u.route, u.data, u.last_activity FROM unnest($2::text[], $3::text[], $4::bigint[]) AS u(route, data, last_activity)
             ON CONFLICT (proxy, route) DO UPDATE SET data = EXCLUDED.data, last_activity = EXCLUDED.last_activity`,
            [proxy, batch.upserts.map((r) => r.route), batch.upserts.map((r) => r.data), batch.upserts.map((r) => r.lastActivity)],
          );
        }
        if (batch.activity.length > 0) {
          await client.query(
            `UPDATE ${TABLE} AS t SET last_activity = GREATEST(t.last_activity, u.last_activity)
             FROM unnest($2::text[], $3::bigint[]) AS u(route, last_activity)
             WHERE t.proxy = $1 AND t.route = u.route`,
            [proxy, batch.activity.map((a) => a.route), batch.activity.map((a) => a.lastActivity)],
          );
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw err;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
