/**
 * Persistence of the built-in proxy's routing table in a database
 * (`--state-db`): SQLite (possibly the hub's own file) or PostgreSQL. Each
 * route is one row of `ganymede_proxy_routes`, keyed by the proxy's instance
 * name (`--state-name`) and the route key, so several proxies can keep their
 * tables in one database.
 *
 * Proxies started with the same database and name share one routing table:
 * each applies the others' changes to its own table (PostgreSQL: at once,
 * through `NOTIFY`; SQLite: by polling), and writes its routes' activity
 * every `activityMs`, so that every replica behind a load balancer serves
 * every route and reports recent activity.
 *
 * The drivers are loaded on first use (`load()`), so a proxy that does not use
 * this store never has them in memory.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import { normalizeRouteKey } from './route-table.js';
import type { RouteData, RouteTable } from './route-table.js';
import { buildBatch, describeError } from './state-db-driver.js';
import type { Batch, RouteDb, StoredRow, WatchTiming } from './state-db-driver.js';
import { openPostgres } from './state-db-postgres.js';
import { openSqlite } from './state-db-sqlite.js';
import type { RouteStore } from './state-file.js';

/** PostgreSQL rejects a `NOTIFY` payload of 8000 bytes or more; past this, the notice says "re-read everything". */
const MAX_NOTICE_BYTES = 7900;

export interface DatabaseRouteStoreOptions {
  /** Instance name: the rows of this proxy (default `default`). Proxies sharing a name share rows. */
  name?: string | undefined;
  logger: Logger;
  /** Debounce of writes after a change, in ms (default 50). */
  delayMs?: number | undefined;
  /** Delay before a failed write (or re-read) is tried again when nothing else triggers it, in ms (default 5000). */
  retryMs?: number | undefined;
  /** PostgreSQL connect timeout, in ms (default 10000). */
  connectTimeoutMs?: number | undefined;
  /** How often the `last_activity` of routes that saw traffic is written, in ms (default 30000). */
  activityMs?: number | undefined;
  /** SQLite: how often the file is checked for other processes' commits, in ms (default 500). */
  pollMs?: number | undefined;
  /** PostgreSQL: how often every row is re-read anyway, in case a notification was missed, in ms (default 60000). */
  reloadMs?: number | undefined;
  /** PostgreSQL: first wait before reconnecting a lost notification connection, doubled up to `reconnectMaxMs`, in ms (default 1000). */
  reconnectMinMs?: number | undefined;
  /** PostgreSQL: longest wait before reconnecting the notification connection, in ms (default 30000). */
  reconnectMaxMs?: number | undefined;
}

/** What one write tells the other processes: whose rows, who wrote them, and which (undefined: any). */
interface Notice {
  proxy: string;
  sender: string;
  routes?: string[] | undefined;
}

/** `postgres://user:secret@host/db?password=x` -> `postgres://user:***@host/db?password=***`. */
export function maskDatabaseUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#:@]*):[^/?#]*@/i, '$1:***@').replace(/([?&]password=)[^&#]*/gi, '$1***');
}

/**
 * The `--state-db` store. Nothing is opened before `load()`; after it, the
 * store changes the loaded table itself when other processes change the rows
 * of its name.
 */
export class DatabaseRouteStore implements RouteStore {
  readonly description: string;
  private readonly name: string;
  private readonly log: Logger;
  private readonly delayMs: number;
  private readonly retryMs: number;
  private readonly connectTimeoutMs: number;
  private readonly activityMs: number;
  private readonly timing: WatchTiming;
  private readonly secrets: string[];
  /** Tells this store's notices from the others'. */
  private readonly sender = randomUUID();
  private db: RouteDb | undefined;
  private table: RouteTable | undefined;
  /** Keys changed here and not yet written: they win over the database until written. */
  private pending = new Set<string>();
  private full = false;
  /** The `last_activity` the database holds for each route, as far as this store knows. */
  private readonly stored = new Map<string, number>();
  /** Rows other processes changed, to re-read (`remoteAll`: every row). */
  private remoteKeys = new Set<string>();
  private remoteAll = false;
  private reloadQueued = false;
  /** Writes and re-reads run one at a time, in order: a re-read never sees a half-applied write. */
  private lock: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private reloadRetry: NodeJS.Timeout | undefined;
  private activityTimer: NodeJS.Timeout | undefined;
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
    this.activityMs = opts.activityMs ?? 30_000;
    this.timing = {
      pollMs: opts.pollMs ?? 500,
      reloadMs: opts.reloadMs ?? 60_000,
      reconnectMinMs: opts.reconnectMinMs ?? 1000,
      reconnectMaxMs: opts.reconnectMaxMs ?? 30_000,
    };
    this.secrets = passwordsIn(url);
  }

  /**
   * Opens the database, creates the table if missing, starts watching for
   * other processes' changes and reads this proxy name's rows into `table`,
   * which the store keeps. Rejects, naming the store and the cause, when the
   * URL is not understood or the database cannot be reached.
   */
  async load(table: RouteTable): Promise<number> {
    let db: RouteDb | undefined;
    let rows: StoredRow[];
    try {
      db = await this.open();
      // Watch first: a change committed after the read below is then heard of.
      await db.watch({ notice: (payload) => this.onNotice(payload), changed: () => this.remoteChanged(undefined) }, this.timing);
      rows = await db.read(this.name);
    } catch (err) {
      await db?.close().catch(() => undefined);
      throw new Error(`proxy route store ${this.description}: ${this.mask(describeError(err))}`, { cause: err });
    }
    let count = 0;
    for (const row of rows) {
      const parsed = this.parse(row, 'warn');
      if (parsed === undefined) continue;
      table.set(row.route, parsed.data, parsed.lastActivity);
      this.stored.set(normalizeRouteKey(row.route), parsed.lastActivity);
      count++;
    }
    this.db = db;
    this.table = table;
    this.activityTimer = setInterval(() => void this.write('changed'), this.activityMs);
    this.activityTimer.unref();
    this.kick(); // changes heard of while loading
    return count;
  }

  schedule(key?: string): void {
    if (key === undefined) this.full = true;
    else this.pending.add(key);
    if (this.timer !== undefined || this.db === undefined || this.closing !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write('none');
    }, this.delayMs);
  }

  flush(): Promise<void> {
    return this.write('all');
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.activityTimer);
      clearTimeout(this.reloadRetry);
      await this.write('all');
      const db = this.db;
      this.db = undefined;
      await db?.close().catch((err: unknown) => this.log.warn({ store: this.description, err: this.mask(describeError(err)) }, 'error closing the proxy route store'));
    })();
    return this.closing;
  }

  private async open(): Promise<RouteDb> {
    const url = this.url;
    const ctx = { log: this.log, description: this.description, mask: (text: string) => this.mask(text) };
    if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return openPostgres(url, this.connectTimeoutMs, ctx);
    if (url.startsWith('sqlite://')) {
      const rest = url.slice('sqlite://'.length);
      if (rest === ':memory:' || rest === '/:memory:') throw new Error('an in-memory SQLite database keeps nothing across restarts; use a file');
      if (!rest.startsWith('/') || rest.length < 2) throw new Error('expected sqlite:///relative/file or sqlite:////absolute/file');
      // sqlite:////abs -> /abs; sqlite:///rel -> relative to the current directory
      return openSqlite(rest.startsWith('//') ? rest.slice(1) : path.resolve(rest.slice(1)), ctx);
    }
    throw new Error('expected a sqlite:// or postgres:// URL');
  }

  /** Runs `fn` after every write and re-read started before it. */
  private exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /**
   * Writes what changed since the last write, plus `last_activity` values:
   * `changed` those newer than the stored ones, `all` every route's.
   */
  private async write(activity: 'none' | 'changed' | 'all'): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.exclusive(() => this.writeNow(activity));
  }

  private async writeNow(activity: 'none' | 'changed' | 'all'): Promise<void> {
    const { db, table } = this;
    if (db === undefined || table === undefined) return;
    const full = this.full;
    const keys = this.pending;
    if (!full && keys.size === 0 && activity === 'none') return;
    this.full = false;
    this.pending = new Set();
    const batch = buildBatch(table, full, keys, activity === 'none' ? undefined : activity === 'all' ? 'all' : this.stored);
    if (!full && batch.upserts.length + batch.deletes.length + batch.activity.length === 0) return;
    batch.notice = this.notice(batch);
    try {
      await db.write(this.name, batch);
    } catch (err) {
      // Keep what was not written; the next write (or a retry) sends it again.
      if (full) this.full = true;
      for (const key of keys) this.pending.add(key);
      this.log.error({ store: this.description, name: this.name, err: this.mask(describeError(err)) }, 'could not save proxy routes to the database; will retry');
      if (this.closing === undefined && this.timer === undefined) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          void this.write('none');
        }, this.retryMs);
        this.timer.unref();
      }
      return;
    }
    if (full) this.stored.clear();
    for (const route of batch.deletes) this.stored.delete(route);
    for (const r of [...batch.upserts, ...batch.activity]) this.stored.set(r.route, Math.max(r.lastActivity, this.stored.get(r.route) ?? 0));
    this.log.debug({ store: this.description, upserts: batch.upserts.length, deletes: batch.deletes.length, activity: batch.activity.length }, 'proxy routes saved');
  }

  /** The notice of `batch` for the other processes: its routes, or "any" when they would not fit. */
  private notice(batch: Batch): string {
    const base: Notice = { proxy: this.name, sender: this.sender };
    if (batch.replaceAll) return JSON.stringify(base);
    const routes = [...new Set([...batch.upserts.map((r) => r.route), ...batch.deletes, ...batch.activity.map((a) => a.route)])];
    const text = JSON.stringify({ ...base, routes });
    return Buffer.byteLength(text) < MAX_NOTICE_BYTES ? text : JSON.stringify(base);
  }

  private onNotice(payload: string): void {
    let notice: Partial<Notice>;
    try {
      notice = JSON.parse(payload) as Partial<Notice>;
    } catch {
      this.log.debug({ store: this.description, payload }, 'ignoring a proxy route store notification that is not JSON');
      return;
    }
    if (notice.proxy !== this.name || notice.sender === this.sender) return;
    const routes = Array.isArray(notice.routes) && notice.routes.every((r) => typeof r === 'string') ? notice.routes : undefined;
    this.remoteChanged(routes);
  }

  /** Other processes changed `routes` (undefined: maybe any): re-read them soon. */
  private remoteChanged(routes: readonly string[] | undefined): void {
    if (routes === undefined) this.remoteAll = true;
    else for (const route of routes) this.remoteKeys.add(route);
    this.kick();
  }

  private kick(): void {
    if (this.reloadQueued || this.table === undefined || this.closing !== undefined) return;
    if (!this.remoteAll && this.remoteKeys.size === 0) return;
    this.reloadQueued = true;
    void this.exclusive(() => this.reload());
  }

  /** Re-reads the rows other processes changed and applies them to the table. */
  private async reload(): Promise<void> {
    this.reloadQueued = false;
    const all = this.remoteAll;
    const keys = [...this.remoteKeys];
    this.remoteAll = false;
    this.remoteKeys = new Set();
    const { db, table } = this;
    if (db === undefined || table === undefined || this.closing !== undefined || (!all && keys.length === 0)) return;
    let rows: StoredRow[];
    try {
      rows = await db.read(this.name, all ? undefined : keys);
    } catch (err) {
      this.remoteAll = true;
      this.log.warn({ store: this.description, name: this.name, err: this.mask(describeError(err)) }, 'could not read proxy routes changed by other proxies; will retry');
      clearTimeout(this.reloadRetry);
      this.reloadRetry = setTimeout(() => this.kick(), this.retryMs);
      this.reloadRetry.unref();
      return;
    }
    const changed = this.apply(table, rows, all ? undefined : keys);
    if (changed > 0) this.log.info({ store: this.description, name: this.name, changed, routes: table.size }, 'applied route changes of other proxies');
  }

  /**
   * Makes `table` match `rows` (all rows of this name, or those of `keys`),
   * except for routes changed here and not yet written. Keeps the newer
   * `last_activity`. Schedules no write. Returns how many routes changed.
   */
  private apply(table: RouteTable, rows: StoredRow[], keys: readonly string[] | undefined): number {
    if (this.full) return 0; // a full sync from here is pending: it replaces the rows anyway
    const seen = new Set<string>();
    let changed = 0;
    for (const row of rows) {
      const key = normalizeRouteKey(row.route);
      seen.add(key);
      if (this.pending.has(key)) continue;
      const parsed = this.parse(row, 'debug');
      if (parsed === undefined) continue;
      this.stored.set(key, parsed.lastActivity);
      const local = table.get(key);
      if (local !== undefined && JSON.stringify(local.data) === row.data) {
        local.lastActivity = Math.max(local.lastActivity, parsed.lastActivity);
        continue;
      }
      table.set(key, parsed.data, Math.max(local?.lastActivity ?? 0, parsed.lastActivity));
      changed++;
    }
    for (const key of keys ?? [...table.entries()].map((e) => e.key)) {
      const k = normalizeRouteKey(key);
      if (seen.has(k) || this.pending.has(k)) continue;
      if (table.delete(k)) changed++;
      this.stored.delete(k);
    }
    return changed;
  }

  /** The route data and `last_activity` of a row, or undefined (logged at `level`) when its data is not usable. */
  private parse(row: StoredRow, level: 'warn' | 'debug'): { data: RouteData; lastActivity: number } | undefined {
    let data: unknown;
    try {
      data = JSON.parse(row.data);
    } catch {
      data = undefined;
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data) || typeof (data as Record<string, unknown>)['target'] !== 'string') {
      this.log[level]({ store: this.description, name: this.name, route: row.route }, 'skipping malformed route in the proxy route store');
      return undefined;
    }
    const when = Number(row.last_activity);
    return { data: data as RouteData, lastActivity: Number.isFinite(when) ? when : Date.now() };
  }

  private mask(text: string): string {
    let out = maskDatabaseUrl(text);
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
  }
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
