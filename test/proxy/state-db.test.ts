/**
 * The `--state-db` route store, on SQLite and on PostgreSQL (a throw-away
 * server from test/helpers/postgres.ts; those cases are skipped, visibly, when
 * PostgreSQL is not installed), alone and shared by two proxies.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { routeStoreArgs } from '../../src/hub/proxy-process.js';
import { RouteTable } from '../../src/proxy/builtin/route-table.js';
import { DatabaseRouteStore, maskDatabaseUrl } from '../../src/proxy/builtin/state-db.js';
import type { DatabaseRouteStoreOptions } from '../../src/proxy/builtin/state-db.js';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import { startPostgres } from '../helpers/postgres.js';
import type { TestPostgres } from '../helpers/postgres.js';
import type { Upstream } from './helpers.js';
import { api, checkRoutesSurviveSigkill, freePort, publicUrl, silentLogger, sleep, startTestProxy, startUpstream, waitFor } from './helpers.js';


interface DbRow {
  route: string;
  data: Record<string, unknown>;
  lastActivity: number;
}

/** A pino logger whose records are kept in `records`. */
function capturingLogger(): { logger: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, records };
}

/** Runs SQL on the store's database from outside the proxy (`$1`, `$2`... placeholders, in order). */
async function query(url: string, text: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  if (url.startsWith('sqlite:')) {
    const db = new SQLite(url.slice('sqlite:///'.length));
    try {
      const stmt = db.prepare(text.replace(/\$\d+/g, '?'));
      return stmt.reader ? (stmt.all(...params) as Array<Record<string, unknown>>) : (stmt.run(...params), []);
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

async function rowsOf(url: string, proxy: string): Promise<DbRow[]> {
  const rows = await query(url, 'SELECT route, data, last_activity FROM ganymede_proxy_routes WHERE proxy = $1 ORDER BY route', [proxy]);
  return rows.map((r) => ({ route: String(r['route']), data: JSON.parse(String(r['data'])) as Record<string, unknown>, lastActivity: Number(r['last_activity']) }));
}

let dir: string;
let upstream: Upstream;
let postgres: TestPostgres | undefined;
let counter = 0;

/** The two backends; `fresh()` gives a database URL and a proxy name no other test uses (undefined: skip). */
const BACKENDS: Array<{ name: string; fresh: () => { url: string; name: string } | undefined }> = [
  { name: 'SQLite', fresh: () => ({ url: `sqlite:///${join(dir, `routes-${++counter}.sqlite`)}`, name: 'default' }) },
  { name: 'PostgreSQL', fresh: () => (postgres === undefined ? undefined : { url: postgres.url, name: `proxy-${++counter}` }) },
];

function freshOrSkip(backend: (typeof BACKENDS)[number], t: TestContext): { url: string; name: string } | undefined {
  const db = backend.fresh();
  if (db === undefined) t.skip('PostgreSQL is not installed (scripts/test.sh installs it)');
  return db;
}

describe('database route store (--state-db)', () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ganymede-proxy-db-'));
    upstream = await startUpstream('alice');
    postgres = await startPostgres();
  });
  after(async () => {
    await upstream.close();
    postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const backend of BACKENDS) {
    describe(backend.name, () => {
      it('stores routes added, replaced and deleted through the API (debounced)', async (t) => {
        const db = freshOrSkip(backend, t);
        if (db === undefined) return;
        const proxy = await startTestProxy({ routeStore: new DatabaseRouteStore(db.url, { name: db.name, logger: silentLogger() }) });
        try {
          await api(proxy, 'POST', '/api/routes/user/alice', { body: { target: upstream.url, user: 'alice' } });
          await api(proxy, 'POST', '/api/routes/user/bob/', { body: { target: upstream.url } });
          await api(proxy, 'POST', '/api/routes/user/carol', { body: { target: upstream.url } });
          await api(proxy, 'POST', '/api/routes/user/alice', { body: { target: upstream.url, user: 'alice', server: 'two' } });
          await api(proxy, 'DELETE', '/api/routes/user/carol');
          // No flush: the debounced write lands on its own.
          await waitFor(async () => (await rowsOf(db.url, db.name)).map((r) => r.route).join() === '/user/alice,/user/bob', 5000, 'rows');
          const rows = await rowsOf(db.url, db.name);
          assert.deepEqual(rows[0]?.data, { target: upstream.url, user: 'alice', server: 'two' });
          assert.equal(rows[0]?.lastActivity, proxy.table.get('/user/alice')?.lastActivity);
        } finally {
          await proxy.close();
        }
      });

      it('a second proxy on the same database and name serves the routes before any API call', async (t) => {
        const db = freshOrSkip(backend, t);
        if (db === undefined) return;
        const first = await startTestProxy({ routeStore: new DatabaseRouteStore(db.url, { name: db.name, logger: silentLogger() }) });
        try {
          await api(first, 'POST', '/api/routes/user/alice', { body: { target: upstream.url, user: 'alice', jupyterhub: true } });
          const added = first.table.get('/user/alice')!.lastActivity;
          await sleep(20);
          assert.equal((await fetch(publicUrl(first, '/user/alice/api'))).status, 200);
          await waitFor(async () => first.table.get('/user/alice')!.lastActivity > added, 2000, 'activity');
        } finally {
          await first.close(); // writes the latest last_activity
        }
        const lastSeen = first.table.get('/user/alice')!.lastActivity;

        const second = await startTestProxy({ routeStore: new DatabaseRouteStore(db.url, { name: db.name, logger: silentLogger() }) });
        try {
          const entry = second.table.get('/user/alice');
          assert.deepEqual(entry?.data, { target: upstream.url, user: 'alice', jupyterhub: true });
          assert.equal(entry?.lastActivity, lastSeen);
          const res = await fetch(publicUrl(second, '/user/alice/tree'));
          assert.equal(res.status, 200);
          assert.equal(((await res.json()) as { url: string }).url, '/user/alice/tree');
          const routes = (await api(second, 'GET', '/api/routes')).json() as Record<string, Record<string, unknown>>;
          assert.deepEqual(Object.keys(routes), ['/user/alice']);
        } finally {
          await second.close();
        }
      });

      it('keeps two proxy names in one database apart', async (t) => {
        const db = freshOrSkip(backend, t);
        if (db === undefined) return;
        const north = `${db.name}-north`;
        const south = `${db.name}-south`;
        const a = await startTestProxy({ routeStore: new DatabaseRouteStore(db.url, { name: north, logger: silentLogger() }) });
        const b = await startTestProxy({ routeStore: new DatabaseRouteStore(db.url, { name: south, logger: silentLogger() }) });
        try {
          await api(a, 'POST', '/api/routes/user/alice', { body: { target: upstream.url } });
          await api(a, 'POST', '/api/routes/shared', { body: { target: upstream.url, from: 'north' } });
          await api(b, 'POST', '/api/routes/user/bob', { body: { target: upstream.url } });
          await api(b, 'POST', '/api/routes/shared', { body: { target: upstream.url, from: 'south' } });
          await api(b, 'DELETE', '/api/routes/shared');
        } finally {
          await a.close();
          await b.close();
        }
        assert.deepEqual((await rowsOf(db.url, north)).map((r) => [r.route, r.data['from']]), [['/shared', 'north'], ['/user/alice', undefined]]);
        assert.deepEqual((await rowsOf(db.url, south)).map((r) => r.route), ['/user/bob']);
        const again = await startTestProxy({ routeStore: new DatabaseRouteStore(db.url, { name: south, logger: silentLogger() }) });
        try {
          assert.deepEqual([...again.table.entries()].map((e) => e.key), ['/user/bob']);
        } finally {
          await again.close();
        }
      });

      it('skips a malformed row with a warning and loads the others', async (t) => {
        const db = freshOrSkip(backend, t);
        if (db === undefined) return;
        const first = await startTestProxy({ routeStore: new DatabaseRouteStore(db.url, { name: db.name, logger: silentLogger() }) });
        await api(first, 'POST', '/api/routes/user/alice', { body: { target: upstream.url } });
        await first.close();
        const insert = 'INSERT INTO ganymede_proxy_routes (proxy, route, data, last_activity) VALUES ($1, $2, $3, $4)';
        await query(db.url, insert, [db.name, '/bad/json', '{"target": ', 0]);
        await query(db.url, insert, [db.name, '/bad/no-target', '{"user": "x"}', 0]);
        await query(db.url, insert, [db.name, '/bad/array', '["target"]', 0]);
        await query(db.url, insert, [db.name, '/bad/number', '{"target": 5}', 0]);

        const { logger, records } = capturingLogger();
        const second = await startTestProxy({ logger, routeStore: new DatabaseRouteStore(db.url, { name: db.name, logger }) });
        try {
          assert.deepEqual([...second.table.entries()].map((e) => e.key), ['/user/alice']);
          const skipped = records.filter((r) => r['msg'] === 'skipping malformed route in the proxy route store').map((r) => r['route']);
          assert.deepEqual(skipped.sort(), ['/bad/array', '/bad/json', '/bad/no-target', '/bad/number']);
        } finally {
          await second.close();
        }
      });

      it('replaces every row of its name on a full sync (schedule() without a key)', async (t) => {
        const db = freshOrSkip(backend, t);
        if (db === undefined) return;
        const store = new DatabaseRouteStore(db.url, { name: db.name, logger: silentLogger() });
        const table = new RouteTable();
        assert.equal(await store.load(table), 0);
        table.set('/a', { target: 'http://127.0.0.1:1' }, 1000);
        table.set('/b', { target: 'http://127.0.0.1:2' }, 2000);
        store.schedule();
        await store.flush();
        assert.deepEqual((await rowsOf(db.url, db.name)).map((r) => [r.route, r.lastActivity]), [['/a', 1000], ['/b', 2000]]);
        table.clear();
        table.set('/c', { target: 'http://127.0.0.1:3' }, 3000);
        store.schedule();
        await store.flush();
        assert.deepEqual((await rowsOf(db.url, db.name)).map((r) => [r.route, r.lastActivity]), [['/c', 3000]]);
        // Traffic changes last_activity without a schedule(): flush() and close() write it.
        table.get('/c')!.lastActivity = 4000;
        await store.close();
        assert.deepEqual((await rowsOf(db.url, db.name)).map((r) => [r.route, r.lastActivity]), [['/c', 4000]]);
      });

      it('logs a failed write, keeps it, and writes it at the next flush', async (t) => {
        const db = freshOrSkip(backend, t);
        if (db === undefined) return;
        const { logger, records } = capturingLogger();
        const store = new DatabaseRouteStore(db.url, { name: db.name, logger, retryMs: 60_000 });
        const table = new RouteTable();
        await store.load(table);
        try {
          // Another name's table would be dropped too on PostgreSQL: rename it away and back instead.
          await query(db.url, 'ALTER TABLE ganymede_proxy_routes RENAME TO ganymede_proxy_routes_away');
          try {
            table.set('/user/alice', { target: upstream.url }, 5000);
            store.schedule('/user/alice');
            await store.flush();
            const failed = records.filter((r) => r['msg'] === 'could not save proxy routes to the database; will retry');
            assert.equal(failed.length, 1);
            assert.match(String(failed[0]?.['err']), /ganymede_proxy_routes/);
          } finally {
            await query(db.url, 'ALTER TABLE ganymede_proxy_routes_away RENAME TO ganymede_proxy_routes');
          }
          await store.flush();
          assert.deepEqual((await rowsOf(db.url, db.name)).map((r) => [r.route, r.lastActivity]), [['/user/alice', 5000]]);
        } finally {
          await store.close();
        }
      });

      it('survives SIGKILL of the proxy process (CLI with --state-db and --state-name)', async (t) => {
        const db = freshOrSkip(backend, t);
        if (db === undefined) return;
        await checkRoutesSurviveSigkill({
          args: ['--ip', '127.0.0.1', '--port=0', '--api-ip=127.0.0.1', '--api-port', '0', '--state-db', db.url, '--state-name', db.name],
          target: upstream.url,
          persisted: async () => (await rowsOf(db.url, db.name)).some((r) => r.route === '/user/alice'),
        });
      });
    });
  }

  describe('two proxies sharing one table', () => {
    /** A store with test-speed timing: SQLite polled every 50 ms, activity written every 200 ms, reconnection after 100 ms. */
    const sharedStore = (db: { url: string }, name: string, opts: Partial<DatabaseRouteStoreOptions> = {}): DatabaseRouteStore =>
      new DatabaseRouteStore(db.url, { name, logger: silentLogger(), pollMs: 50, activityMs: 200, reconnectMinMs: 100, reconnectMaxMs: 500, ...opts });

    /** Resolves when `p` answers `path` on its public port with the upstream's echo (true) or with 404 (false). */
    const serves = async (p: RunningProxy, path: string): Promise<boolean> => {
      const res = await fetch(publicUrl(p, path));
      const body = await res.text();
      if (res.status === 404) return false;
      assert.equal(res.status, 200, body);
      return (JSON.parse(body) as { url: string }).url === path;
    };

    /** Runs `use` with two proxies on `db`'s table (the second one's store with `bOpts`), and closes both. */
    const withPair = async (
      db: { url: string; name: string },
      bOpts: Partial<DatabaseRouteStoreOptions>,
      use: (a: RunningProxy, b: RunningProxy) => Promise<void>,
    ): Promise<void> => {
      const a = await startTestProxy({ routeStore: sharedStore(db, db.name) });
      const b = await startTestProxy({ routeStore: sharedStore(db, db.name, bOpts) });
      try {
        await use(a, b);
      } finally {
        await a.close();
        await b.close();
      }
    };

    const lastActivityVia = async (p: RunningProxy, route: string): Promise<string | undefined> => {
      const res = await api(p, 'GET', `/api/routes${route}`);
      return res.status === 200 ? ((res.json() as { last_activity: string }).last_activity) : undefined;
    };

    for (const backend of BACKENDS) {
      describe(backend.name, () => {
        it('a route added through one proxy is served by the other; a delete on the other reaches the first', async (t) => {
          const db = freshOrSkip(backend, t);
          if (db === undefined) return;
          const { logger, records } = capturingLogger();
          await withPair(db, { logger }, async (a, b) => {
            assert.equal((await api(a, 'POST', '/api/routes/user/alice', { body: { target: upstream.url, user: 'alice' } })).status, 201);
            await waitFor(async () => b.table.get('/user/alice') !== undefined, 5000, 'the route on the second proxy');
            assert.deepEqual(b.table.get('/user/alice')?.data, { target: upstream.url, user: 'alice' });
            // Applying the other's change writes nothing back, not even at the activity flush (no traffic here yet).
            await sleep(500);
            assert.deepEqual(records.filter((r) => r['msg'] === 'proxy routes saved'), []);
            assert.ok(await serves(b, '/user/alice/lab'));

            assert.equal((await api(b, 'DELETE', '/api/routes/user/alice')).status, 204);
            await waitFor(async () => !(await serves(a, '/user/alice/lab')), 5000, 'the delete on the first proxy');
            assert.equal(a.table.get('/user/alice'), undefined);
            assert.deepEqual(await rowsOf(db.url, db.name), []);
          });
        });

        it('a change made here and not yet written wins over the rows the other proxy writes', async (t) => {
          const db = freshOrSkip(backend, t);
          if (db === undefined) return;
          await withPair(db, { delayMs: 60_000 }, async (a, b) => { // writes only at close
            await api(b, 'POST', '/api/routes/user/bob', { body: { target: upstream.url, from: 'b' } });
            await api(a, 'POST', '/api/routes/user/bob', { body: { target: upstream.url, from: 'a' } });
            await api(a, 'POST', '/api/routes/marker', { body: { target: upstream.url } });
            await waitFor(async () => b.table.get('/marker') !== undefined, 5000, 'the marker route on the second proxy');
            assert.equal(b.table.get('/user/bob')?.data['from'], 'b');
            await b.close(); // writes its change, which the first proxy then applies
            await waitFor(async () => a.table.get('/user/bob')?.data['from'] === 'b', 5000, "the second proxy's change on the first");
            assert.deepEqual((await rowsOf(db.url, db.name)).map((r) => [r.route, r.data['from']]), [['/marker', undefined], ['/user/bob', 'b']]);
          });
        });

        it("activity seen by one proxy shows in the other one's last_activity after the activity flush", async (t) => {
          const db = freshOrSkip(backend, t);
          if (db === undefined) return;
          await withPair(db, {}, async (a, b) => {
            await api(a, 'POST', '/api/routes/user/carol', { body: { target: upstream.url } });
            await waitFor(() => serves(b, '/user/carol/tree'), 5000, 'the route on the second proxy');
            const before = b.table.get('/user/carol')!.lastActivity;
            await sleep(20);
            // Traffic through the first proxy only.
            assert.ok(await serves(a, '/user/carol/api/status'));
            await waitFor(async () => a.table.get('/user/carol')!.lastActivity > before, 2000, 'activity on the first proxy');
            const seenByA = new Date(a.table.get('/user/carol')!.lastActivity).toISOString();
            await waitFor(async () => (await lastActivityVia(b, '/user/carol')) === seenByA, 5000, "the first proxy's activity on the second");
            // And back: newer traffic through the second proxy is not undone by the first one's older value.
            await sleep(20);
            const b0 = b.table.get('/user/carol')!.lastActivity;
            assert.ok(await serves(b, '/user/carol/lab'));
            await waitFor(async () => b.table.get('/user/carol')!.lastActivity > b0, 2000, 'activity on the second proxy');
            const seenByB = new Date(b.table.get('/user/carol')!.lastActivity).toISOString();
            await waitFor(async () => (await lastActivityVia(a, '/user/carol')) === seenByB, 5000, "the second proxy's activity on the first");
            assert.equal(await lastActivityVia(b, '/user/carol'), seenByB);
          });
        });

        it('a proxy with another --state-name on the same database does not see the changes', async (t) => {
          const db = freshOrSkip(backend, t);
          if (db === undefined) return;
          const a = await startTestProxy({ routeStore: sharedStore(db, db.name) });
          const b = await startTestProxy({ routeStore: sharedStore(db, db.name) });
          const other = await startTestProxy({ routeStore: sharedStore(db, `${db.name}-other`) });
          try {
            await api(other, 'POST', '/api/routes/user/erin', { body: { target: upstream.url } });
            await api(a, 'POST', '/api/routes/user/dave', { body: { target: upstream.url } });
            await waitFor(() => serves(b, '/user/dave/'), 5000, 'the route on the second proxy');
            await sleep(300); // several polls and activity flushes
            assert.deepEqual([...other.table.entries()].map((e) => e.key), ['/user/erin']);
            assert.equal(await serves(other, '/user/dave/'), false);
            assert.deepEqual([...a.table.entries()].map((e) => e.key), ['/user/dave']);
            assert.deepEqual([...b.table.entries()].map((e) => e.key), ['/user/dave']);
          } finally {
            await a.close();
            await b.close();
            await other.close();
          }
        });

        it('a write of many routes at once reaches the other proxy (too many keys for one notice: everything is re-read)', async (t) => {
          const db = freshOrSkip(backend, t);
          if (db === undefined) return;
          const notices: string[] = [];
          const listener = backend.name === 'PostgreSQL' ? new pg.Client({ connectionString: db.url }) : undefined;
          if (listener !== undefined) {
            await listener.connect();
            listener.on('notification', (msg) => void notices.push(msg.payload ?? ''));
            await listener.query('LISTEN ganymede_proxy_routes');
          }
          const store = sharedStore(db, db.name);
          const table = new RouteTable();
          await store.load(table);
          const b = await startTestProxy({ routeStore: sharedStore(db, db.name) });
          try {
            for (let i = 0; i < 300; i++) {
              table.set(`/user/someone-with-a-long-name-${i}`, { target: upstream.url });
              store.schedule(`/user/someone-with-a-long-name-${i}`);
            }
            await store.flush(); // one transaction
            await waitFor(async () => b.table.size === 300, 5000, 'every route on the second proxy');
            assert.ok(await serves(b, '/user/someone-with-a-long-name-299/x'));
            if (listener !== undefined) {
              await waitFor(async () => notices.length > 0, 2000, 'the notice');
              const notice = JSON.parse(notices[0]!) as Record<string, unknown>;
              assert.equal(notice['proxy'], db.name);
              assert.equal(notice['routes'], undefined);
            }
          } finally {
            await store.close();
            await b.close();
            await listener?.end();
          }
        });

        if (backend.name === 'PostgreSQL') {
          it('recovers from a lost LISTEN connection: re-reads what it missed, then hears notices again', async (t) => {
            const db = freshOrSkip(backend, t);
            if (db === undefined) return;
            const { logger, records } = capturingLogger();
            const listening = async (): Promise<number> =>
              Number((await query(db.url, "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND application_name = 'ganymede-proxy-listen'"))[0]?.['n']);
            await withPair(db, { logger }, async (a, b) => {
              assert.equal(await listening(), 2);
              const killed = await query(db.url, "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()");
              assert.ok(killed.length >= 2);
              // Added while the second proxy cannot hear: it arrives with the re-read after reconnecting.
              await api(a, 'POST', '/api/routes/user/frank', { body: { target: upstream.url } });
              await waitFor(() => serves(b, '/user/frank/'), 5000, 'the route missed while disconnected');
              await waitFor(async () => (await listening()) === 2, 5000, 'both proxies listening again');
              // Heard as a notice (the periodic re-read is a minute away).
              await api(a, 'POST', '/api/routes/user/grace', { body: { target: upstream.url } });
              await waitFor(() => serves(b, '/user/grace/'), 5000, 'a later route');
              assert.ok(records.some((r) => r['msg'] === 'proxy route store notifications lost; reconnecting' && r['level'] === 40));
              assert.ok(records.some((r) => r['msg'] === 'proxy route store notifications restored'));
            });
            await waitFor(async () => (await listening()) === 0, 5000, 'no LISTEN connection left');
          });
        }
      });
    }
  });

  describe('start-up failures', () => {
    it('an unreachable PostgreSQL fails the start, naming the masked URL and not the password', async () => {
      const port = await freePort();
      const url = `postgres://ganymede:s3cret-pw@127.0.0.1:${port}/routes`;
      const started = Date.now();
      await assert.rejects(startTestProxy({ routeStore: new DatabaseRouteStore(url, { logger: silentLogger() }) }), (err: Error) => {
        assert.match(err.message, new RegExp(`^proxy route store postgres://ganymede:\\*\\*\\*@127\\.0\\.0\\.1:${port}/routes: `));
        assert.match(err.message, /ECONNREFUSED/);
        assert.doesNotMatch(err.message, /s3cret-pw/);
        return true;
      });
      assert.ok(Date.now() - started < 10_000);
    });

    it('a PostgreSQL server that never answers fails the start after the connect timeout', async () => {
      const sockets = new Set<net.Socket>();
      const silent = net.createServer((socket) => void sockets.add(socket)); // accepts, then says nothing
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as AddressInfo).port;
      try {
        const started = Date.now();
        const store = new DatabaseRouteStore(`postgresql://u:pw-hidden@127.0.0.1:${port}/db`, { logger: silentLogger(), connectTimeoutMs: 300 });
        await assert.rejects(store.load(new RouteTable()), (err: Error) => {
          assert.match(err.message, /postgresql:\/\/u:\*\*\*@127\.0\.0\.1/);
          assert.match(err.message, /timeout/i);
          assert.doesNotMatch(err.message, /pw-hidden/);
          return true;
        });
        assert.ok(Date.now() - started < 5000);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it('rejects URLs it cannot use', async () => {
      const blocker = join(dir, 'a-file');
      writeFileSync(blocker, '');
      for (const [url, why] of [
        ['mysql://u:p@h/db', /expected a sqlite:\/\/ or postgres:\/\/ URL/],
        ['sqlite://:memory:', /in-memory/],
        ['sqlite://relative.sqlite', /expected sqlite:\/\/\/relative/],
        [`sqlite:///${join(blocker, 'routes.sqlite')}`, /proxy route store sqlite:\/\/\/\/.*a-file\/routes\.sqlite: E[A-Z]+/],
      ] as const) {
        await assert.rejects(new DatabaseRouteStore(url, { logger: silentLogger() }).load(new RouteTable()), why, url);
      }
    });

    it('resolves sqlite:///relative against the current directory', async () => {
      const cwd = process.cwd();
      const store = new DatabaseRouteStore('sqlite:///relative/routes.sqlite', { logger: silentLogger() });
      process.chdir(dir);
      try {
        await store.load(new RouteTable());
      } finally {
        process.chdir(cwd);
      }
      await store.close();
      assert.deepEqual(await rowsOf(`sqlite:///${join(dir, 'relative/routes.sqlite')}`, 'default'), []);
    });

    it('masks passwords in URLs', () => {
      assert.equal(maskDatabaseUrl('postgres://user:pa:ss@host:5432/db'), 'postgres://user:***@host:5432/db');
      assert.equal(maskDatabaseUrl('postgresql://user@host/db?password=x&sslmode=require'), 'postgresql://user@host/db?password=***&sslmode=require');
      assert.equal(maskDatabaseUrl('sqlite:////var/lib/routes.sqlite'), 'sqlite:////var/lib/routes.sqlite');
    });
  });

  describe('hub: proxy.route_store', () => {
    it('passes --state-file by default and the hub database with database', () => {
      assert.deepEqual(routeStoreArgs(validateConfig({}), '/srv/hub'), { args: ['--state-file', '/srv/hub/proxy-routes.json'], env: {} });
      const db = (url: string) => routeStoreArgs(validateConfig({ db: { url }, proxy: { route_store: 'database' } }), '/srv/hub');
      assert.deepEqual(db('sqlite:///ganymede.sqlite'), { args: ['--state-db', 'sqlite:////srv/hub/ganymede.sqlite'], env: {} });
      assert.deepEqual(db('sqlite:////var/db/hub.sqlite'), { args: ['--state-db', 'sqlite:////var/db/hub.sqlite'], env: {} });
      assert.deepEqual(db('postgres://hub@db:5432/hub'), { args: ['--state-db', 'postgres://hub@db:5432/hub'], env: {} });
      // The password goes through the environment, not the command line.
      assert.deepEqual(db('postgres://hub:p%40ss@db:5432/hub'), { args: ['--state-db', 'postgres://hub@db:5432/hub'], env: { PGPASSWORD: 'p@ss' } });
      assert.throws(() => db('sqlite://:memory:'), /route_store 'database'/);
    });
  });
});
