/**
 * REST API throughput and latency, hub port hit directly (no proxy):
 * `GET /hub/api/users/NAME` and `GET /hub/api/users` (no pagination Accept
 * header: both hubs answer a bare list of api_page_max_limit = 200 users) with
 * 1,000 users in the database, at 1, 10 and 50 connections, for Ganymede and
 * JupyterHub 3.0 in turn (never both at once: the machine has 2 cores).
 *
 * Load: `wrk -t1 -c N -d 10s --latency --timeout 30s` (autocannon when wrk is
 * missing), after a 3 s warm-up of each endpoint. Token: an admin user's API
 * token on both hubs; JupyterHub is also measured at 10 connections with an
 * admin service token, which it serves about half as fast.
 *
 * The framework's own speed is measured in the same run: a bare Fastify
 * server (bench/lib/bare-fastify.mjs, its own node process, no hooks, no
 * logging) serves the JSON Ganymede answered to the same two requests, and
 * Ganymede's rate is printed as a share of it (target: 60% for /users/NAME).
 *
 * Run: node --import tsx bench/api.ts   (or: npm run bench -- api)
 */
import { createHub, LABEL, type BenchHub, type HubKind } from './lib/hubs.js';
import { load, wrkAvailable, type LoadResult } from './lib/load.js';
import { fmtMs, fmtNum, fmtRatio, log, table, verdict, within, type BenchResult, type Figure } from './lib/report.js';
import { profiler, runIfMain, type BenchOptions } from './lib/common.js';
import { startBareFastify } from './lib/bare-fastify.js';

const USERS = 1000;
const CONNECTIONS = [1, 10, 50];
const TARGET_RATIO = 30;
const TARGET_P99_MS = 20;
/** Ganymede's /users/NAME rate as a share of a bare Fastify route's, at least. */
const TARGET_BARE_SHARE = 0.6;
/** Throughput targets are judged from this many connections (the issue measured at 50); one connection is a round trip. */
const MIN_TARGET_CONNECTIONS = 10;

type Server = HubKind | 'bare';
const SERVER_LABEL: Record<Server, string> = { ...LABEL, bare: 'bare Fastify' };

interface Row extends LoadResult {
  hub: Server;
  token: 'user' | 'service';
  endpoint: string;
  /** The same load measured with autocannon (at 50 connections, when wrk is the main tool). */
  check?: LoadResult;
}

const userName = (i: number) => `user${String(i).padStart(4, '0')}`;
const ONE = userName(500);
const ENDPOINTS = [`/users/${ONE}`, '/users'];

/** What Ganymede answered, by request path, for the bare Fastify baseline. */
type Captured = Record<string, unknown>;

async function measureHub(kind: HubKind, opts: BenchOptions, seconds: number, captured: Captured): Promise<Row[]> {
  const prof = kind === 'ganymede' ? profiler(opts, `api.ts load (${ENDPOINTS.join(', ')})`) : undefined;
  const hub: BenchHub = await createHub(kind, { nodeArgs: prof?.nodeArgs ?? [], keepDir: opts.keep });
  const rows: Row[] = [];
  try {
    log(`${hub.label}: starting (${hub.dir})`);
    await hub.start();
    log(`${hub.label}: creating ${USERS} users through POST /hub/api/users`);
    await hub.api.createUsers(Array.from({ length: USERS }, (_, i) => userName(i + 1)));
    // what the requests return, once
    const list = await hub.api.must('GET', '/users', undefined, [200]);
    const one = await hub.api.must('GET', `/users/${ONE}`, undefined, [200]);
    if (kind === 'ganymede') {
      captured[`/hub/api/users/${ONE}`] = one;
      captured['/hub/api/users'] = list;
    }
    log(`${hub.label}: GET /users returns ${Array.isArray(list) ? list.length : '?'} users (${JSON.stringify(list).length} bytes); GET /users/${ONE} ${JSON.stringify(one).length} bytes`);
    const tokens: Array<{ token: 'user' | 'service'; value: string; conns: number[] }> = [{ token: 'user', value: hub.api.token, conns: CONNECTIONS }];
    if ('serviceApi' in hub) tokens.push({ token: 'service', value: (hub as { serviceApi: { token: string } }).serviceApi.token, conns: [10] });
    for (const endpoint of ENDPOINTS) {
      const url = `${hub.hubUrl}/hub/api${endpoint}`;
      log(`${hub.label}: warm-up ${endpoint}`);
      await load({ url, headers: { Authorization: `token ${hub.api.token}` }, connections: 10, seconds: opts.quick ? 1 : 3 });
      for (const t of tokens) {
        for (const connections of t.conns) {
          const headers = { Authorization: `token ${t.value}` };
          const r = await load({ url, headers, connections, seconds });
          log(`${hub.label} [${t.token} token] GET ${endpoint} c=${connections}: ${r.rps.toFixed(0)} req/s p50 ${fmtMs(r.p50)} p99 ${fmtMs(r.p99)} errors ${r.errors}`);
          let check: LoadResult | undefined;
          if (r.tool === 'wrk' && connections === 50) {
            check = await load({ url, headers, connections, seconds, tool: 'autocannon' });
            log(`${hub.label} [${t.token} token] GET ${endpoint} c=${connections} (autocannon): ${check.rps.toFixed(0)} req/s p50 ${fmtMs(check.p50)} p99 ${fmtMs(check.p99)} errors ${check.errors}`);
          }
          rows.push({ ...r, hub: kind, token: t.token, endpoint, ...(check ? { check } : {}) });
        }
      }
    }
  } finally {
    await hub.stop();
    prof?.report();
    await hub.dispose();
  }
  return rows;
}

/** The same requests against a bare Fastify server answering what Ganymede answered. */
async function measureBare(captured: Captured, opts: BenchOptions, seconds: number): Promise<Row[]> {
  const bare = await startBareFastify(captured);
  const rows: Row[] = [];
  try {
    for (const endpoint of ENDPOINTS) {
      const url = `${bare.url}/hub/api${endpoint}`;
      await load({ url, headers: {}, connections: 10, seconds: opts.quick ? 1 : 3 });
      for (const connections of CONNECTIONS) {
        const r = await load({ url, headers: {}, connections, seconds });
        log(`bare Fastify GET ${endpoint} c=${connections}: ${r.rps.toFixed(0)} req/s p50 ${fmtMs(r.p50)} p99 ${fmtMs(r.p99)} errors ${r.errors}`);
        rows.push({ ...r, hub: 'bare', token: 'user', endpoint });
      }
    }
  } finally {
    await bare.stop();
  }
  return rows;
}

export async function apiBench(opts: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const seconds = opts.quick ? 2 : 10;
  const rows: Row[] = [];
  const captured: Captured = {};
  rows.push(...(await within(15 * 60_000, `api benchmark on ${LABEL.ganymede}`, measureHub('ganymede', opts, seconds, captured))));
  rows.push(...(await within(5 * 60_000, 'api benchmark on a bare Fastify route', measureBare(captured, opts, seconds))));
  rows.push(...(await within(15 * 60_000, `api benchmark on ${LABEL.jupyterhub}`, measureHub('jupyterhub', opts, seconds, captured))));

  process.stdout.write(
    `\n### api: every run (${rows[0]?.tool ?? 'wrk'}, ${seconds} s each, hub port direct, ${USERS} users)\n\n` +
      table(
        ['hub', 'token', 'request', 'conns', 'req/s', 'p50', 'p99', 'errors', 'requests', 'Little (conns / req/s)', 'autocannon: req/s, p50, p99'],
        rows.map((r) => [
          SERVER_LABEL[r.hub],
          r.hub === 'bare' ? 'none' : r.token,
          `GET /hub/api${r.endpoint}`,
          String(r.connections),
          fmtNum(r.rps),
          fmtMs(r.p50),
          fmtMs(r.p99),
          String(r.errors),
          fmtNum(r.requests),
          fmtMs((1000 * r.connections) / r.rps),
          r.check ? `${fmtNum(r.check.rps)}, ${fmtMs(r.check.p50)}, ${fmtMs(r.check.p99)}` : '',
        ]),
      ) +
      '\n',
  );

  const find = (hub: Server, endpoint: string, c: number, token: 'user' | 'service' = 'user') => rows.find((r) => r.hub === hub && r.endpoint === endpoint && r.connections === c && r.token === token);
  const figures: Figure[] = [];
  for (const endpoint of ENDPOINTS) {
    const label = endpoint === '/users' ? 'GET /users (200 users)' : 'GET /users/NAME';
    for (const c of CONNECTIONS) {
      const g = find('ganymede', endpoint, c);
      const b = find('bare', endpoint, c);
      if (g && b) {
        const share = g.rps / b.rps;
        figures.push({
          metric: `${label} c=${c}: req/s against a bare Fastify route serving the same JSON`,
          ganymede: `${fmtNum(g.rps)} (${(100 * share).toFixed(0)}%)`,
          jupyterhub: `bare Fastify: ${fmtNum(b.rps)}, p99 ${fmtMs(b.p99)}`,
          ...(endpoint === '/users' || c < MIN_TARGET_CONNECTIONS ? {} : { target: `>= ${(100 * TARGET_BARE_SHARE).toFixed(0)}% of bare`, verdict: verdict(share >= TARGET_BARE_SHARE) }),
        });
      }
      const j = find('jupyterhub', endpoint, c);
      if (!g || !j) continue;
      const ratio = g.rps / j.rps;
      // One connection measures a round trip (wrk, loopback, the server), not what the server can
      // serve: the bare route's own ratio is printed, and the targets (the issue's, set at 50
      // connections) are judged where several requests are in flight.
      const roundTrip = c < MIN_TARGET_CONNECTIONS;
      figures.push({
        metric: `${label} c=${c}: req/s (ratio)`,
        ganymede: `${fmtNum(g.rps)} (${fmtRatio(g.rps, j.rps)})`,
        jupyterhub: fmtNum(j.rps),
        ...(roundTrip
          ? { target: `none at ${c} connection (bare Fastify: ${b ? fmtRatio(b.rps, j.rps) : '?'})` }
          : { target: `>= ${TARGET_RATIO}x`, verdict: verdict(ratio >= TARGET_RATIO) }),
      });
      figures.push({
        metric: `${label} c=${c}: p50 / p99 / errors`,
        ganymede: `${fmtMs(g.p50)} / ${fmtMs(g.p99)} / ${g.errors}`,
        jupyterhub: `${fmtMs(j.p50)} / ${fmtMs(j.p99)} / ${j.errors}`,
        ...(c === 50 ? { target: `p99 < ${TARGET_P99_MS} ms`, verdict: verdict(g.p99 < TARGET_P99_MS) } : {}),
      });
      if (g.check && j.check) {
        figures.push({
          metric: `${label} c=${c}: p50 / p99 by autocannon`,
          ganymede: `${fmtMs(g.check.p50)} / ${fmtMs(g.check.p99)}`,
          jupyterhub: `${fmtMs(j.check.p50)} / ${fmtMs(j.check.p99)}`,
          target: `p99 < ${TARGET_P99_MS} ms`,
          verdict: verdict(g.check.p99 < TARGET_P99_MS),
        });
      }
    }
    const s = find('jupyterhub', endpoint, 10, 'service');
    const g10 = find('ganymede', endpoint, 10);
    if (s && g10) {
      figures.push({
        metric: `${label} c=10, JupyterHub with a service token`,
        ganymede: `${fmtNum(g10.rps)} (${fmtRatio(g10.rps, s.rps)})`,
        jupyterhub: `${fmtNum(s.rps)} req/s, p99 ${fmtMs(s.p99)}`,
        target: `>= ${TARGET_RATIO}x`,
        verdict: verdict(g10.rps / s.rps >= TARGET_RATIO),
      });
    }
  }
  return {
    name: 'api',
    title: `REST API: ${USERS} users, hub port direct, ${wrkAvailable() ? 'wrk' : 'autocannon'} ${seconds} s per figure`,
    figures,
    notes: [
      'ratio = Ganymede req/s / JupyterHub req/s at the same number of connections, both with an admin user API token.',
      "bare Fastify = a Fastify 5 server in its own node process, no hooks and no logging, answering the JSON Ganymede answered (JSON.stringify, as a route without a response schema); the share is Ganymede's req/s over its req/s, same connections, same run.",
      'The load generator (wrk, one thread) shares the 2 cores with the hub under test; hubs run one at a time.',
      "At 50 connections wrk's p99 for a saturated node server is not consistent with what the server sees (every socket's request-to-request cycle stays under ~130 ms while wrk reports ~1 s); the autocannon p99 is printed beside it. See docs/benchmarks.md.",
      'With every request served one after another, mean latency = connections / req/s (Little); a p99 under 20 ms at 50 connections needs well over 2,500 req/s.',
    ],
    seconds: (performance.now() - started) / 1000,
  };
}

runIfMain(import.meta.url, apiBench);
