/**
 * The PostgreSQL driver of the `--state-db` store (pg, loaded on first use).
 * Writes go through a one-connection pool; each write transaction that
 * changes something sends a `NOTIFY` that other proxies hear on a dedicated
 * `LISTEN` connection, which is reconnected with backoff when it drops.
 */
import type pg from 'pg';
import { CREATE_TABLE, NOTIFY_CHANNEL, TABLE, describeError } from './state-db-driver.js';
import type { DriverContext, RouteDb, StoredRow, WatchHooks, WatchTiming } from './state-db-driver.js';

type Pg = typeof pg;

export async function openPostgres(url: string, connectTimeoutMs: number, ctx: DriverContext): Promise<RouteDb> {
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
  pool.on('error', (err) => ctx.log.warn({ store: ctx.description, err: ctx.mask(describeError(err)) }, 'proxy route store connection lost'));
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
  let listener: Listener | undefined;
  let reloader: NodeJS.Timeout | undefined;
  const columns = 'SELECT route, data, last_activity FROM';
  return {
    read: async (proxy, routes) =>
      routes === undefined
        ? (await pool.query<StoredRow>(`${columns} ${TABLE} WHERE proxy = $1`, [proxy])).rows
        : (await pool.query<StoredRow>(`${columns} ${TABLE} WHERE proxy = $1 AND route = ANY($2::text[])`, [proxy, routes])).rows,
    write: async (proxy, batch) => {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        if (batch.replaceAll) await client.query(`DELETE FROM ${TABLE} WHERE proxy = $1`, [proxy]);
        else if (batch.deletes.length > 0) await client.query(`DELETE FROM ${TABLE} WHERE proxy = $1 AND route = ANY($2::text[])`, [proxy, batch.deletes]);
        if (batch.upserts.length > 0) {
          await client.query(
            `INSERT INTO ${TABLE} AS t (proxy, route, data, last_activity)
             SELECT $1, u.route, u.data, u.last_activity FROM unnest($2::text[], $3::text[], $4::bigint[]) AS u(route, data, last_activity)
             ON CONFLICT (proxy, route) DO UPDATE SET data = EXCLUDED.data, last_activity = GREATEST(t.last_activity, EXCLUDED.last_activity)`,
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
        // Delivered to the listeners when (and only if) the transaction commits.
        if (batch.notice !== undefined) await client.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, batch.notice]);
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
    watch: async (hooks, timing) => {
      listener = new Listener(pg, { connectionString: url, connectionTimeoutMillis: connectTimeoutMs, application_name: 'ganymede-proxy-listen' }, hooks, timing, ctx);
      // A safety net for notifications lost in ways the listener cannot see.
      reloader = setInterval(() => hooks.changed(), timing.reloadMs);
      reloader.unref();
      await listener.start();
    },
    close: async () => {
      clearInterval(reloader);
      await listener?.stop();
      await pool.end();
    },
  };
}

/** The `LISTEN` connection: a `pg.Client` of its own, reconnected with backoff when it drops. */
class Listener {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private stopped = false;

  constructor(
    private readonly pg: Pg,
    private readonly config: pg.ClientConfig,
    private readonly hooks: WatchHooks,
    private readonly timing: WatchTiming,
    private readonly ctx: DriverContext,
  ) {
    this.delayMs = timing.reconnectMinMs;
  }

  /** The first connection; a failure is logged and retried like a lost connection. */
  start(): Promise<void> {
    return this.connect(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    // A connection still being set up ends only when its connect timeout expires: do not wait that long.
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1000);
      timer.unref();
    });
    await Promise.race([client.end().catch(() => undefined), waited]);
    clearTimeout(timer);
  }

  private async connect(again: boolean): Promise<void> {
    const client = new this.pg.Client(this.config);
    this.client = client;
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', (msg) => {
      if (msg.channel === NOTIFY_CHANNEL && msg.payload !== undefined) this.hooks.notice(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    } catch (err) {
      this.lost(client, err);
      return;
    }
    if (this.client !== client) return; // lost or stopped meanwhile
    this.delayMs = this.timing.reconnectMinMs;
    if (again) {
      this.ctx.log.info({ store: this.ctx.description }, 'proxy route store notifications restored');
      this.hooks.changed(); // notifications sent meanwhile are lost: re-read everything
    }
  }

  private lost(client: pg.Client, err: unknown): void {
    if (this.client !== client) return; // already handled, or stopped
    this.client = undefined;
    client.on('error', () => undefined); // a late error of the dead connection must not crash the proxy
    void client.end().catch(() => undefined);
    if (this.stopped) return;
    const retryMs = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.timing.reconnectMaxMs);
    this.ctx.log.warn(
      { store: this.ctx.description, err: this.ctx.mask(describeError(err)), retryMs },
      'proxy route store notifications lost; reconnecting',
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect(true);
    }, retryMs);
    this.timer.unref();
  }
}
