/**
 * Proxy benchmark: a keep-alive node HTTP + websocket echo backend
 * (bench/lib/echo-backend.ts), reached directly, through the npm
 * configurable-http-proxy 5 and through Ganymede's built-in proxy
 * (`node --max-semi-space-size=2 --initial-old-space-size=16 --heap-growing-percent=50 --no-maglev bin/ganymede.js proxy`, from dist/, as the hub
 * starts it). Measurements are interleaved (direct, CHP, Ganymede, four rounds)
 * so that drift of the machine hits all three:
 *
 * - HTTP load (wrk -t1 -c N -d 5s --latency, else autocannon) at 10 and 100
 *   connections, with 1 route and with 10,000 routes in the table, the targets in
 *   reverse order every other round: req/s, p50, p99
 *   (medians of the rounds; Ganymede/CHP ratios are medians of per-round ratios);
 *   in the 10,000-route rounds a second Ganymede proxy with 1 route is loaded
 *   right after the first, for the "no slowdown from 1 to 10,000 routes" ratio;
 * - websocket echo round trip, one message in flight: p50, p99 of 2,000
 *   messages after 200 warm-up; also through socat (Debian `socat`, when
 *   installed), a byte relay written in C, as the floor of any relay process;
 * - time to add 10,000 routes through the proxy's REST API: sequential POSTs with undici on
 *   one keep-alive connection, then the same routes posted again 16 at a time on 16
 *   connections, as the hub's reconciliation sends them (RECONCILE_CONCURRENCY);
 * - the proxies' RSS after the run;
 * - then (with `taskset` and 2 CPUs or more) 100-connection rounds with each proxy
 *   alone on CPU 1 and wrk and the backend on CPU 0, reported apart (no verdict).
 *
 *   node --import tsx bench/run.ts proxy [--quick] [--profile]
 *   node --import tsx bench/proxy.ts [--quick] [--profile]
 *
 * --profile runs Ganymede's proxy under `node --cpu-prof` and prints where its
 * CPU time went. Figures are printed, never asserted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { Client, Pool } from 'undici';
import { RECONCILE_CONCURRENCY } from '../src/hub/reconcile.js';
import { WebSocket } from 'ws';
import { profiler, runIfMain, type BenchOptions } from './lib/common.js';
import { freePorts, waitAnswer } from './lib/http.js';
import { canPin, commandPath, pin } from './lib/host-tools.js';
import { PROXY_NODE_FLAGS } from '../src/hub/proxy-process.js';
import { CHP_BIN, GANYMEDE_BIN, ROOT, rssMB } from './lib/hubs.js';
import { load, type LoadResult } from './lib/load.js';
import { startProcess, stopProcess } from './lib/procs.js';
import { fmtMs, fmtNum, fmtRatio, log, median, quantile, table, verdict, type BenchResult, type Figure } from './lib/report.js';

const BACKEND = fileURLToPath(new URL('./lib/echo-backend.ts', import.meta.url));
const ROUTES = 10_000;

/** `ganymede1`: a second Ganymede proxy that keeps 1 route while the first has 10,000. */
type Target = 'direct' | 'chp' | 'ganymede' | 'ganymede1';
const TARGETS: Target[] = ['direct', 'chp', 'ganymede'];
const LABELS: Record<Target, string> = { direct: 'direct', chp: 'CHP 5', ganymede: 'Ganymede', ganymede1: 'Ganymede (1 route)' };

interface Proxy {
  kind: 'chp' | 'ganymede';
  child: ChildProcess;
  url: string;
  apiUrl: string;
  token: string;
}

/**
 * Sequential POSTs to a proxy's REST API on one keep-alive connection, with
 * undici (the HTTP client the hub's ChpClient uses, through fetch).
 */
class RouteClient {
  private client: Client;
  private pool: Pool;
  constructor(private proxy: Proxy) {
    this.client = new Client(proxy.apiUrl, { pipelining: 1 });
    this.pool = new Pool(proxy.apiUrl, { pipelining: 1, connections: RECONCILE_CONCURRENCY });
  }

  /** Adds `/user/u1` ... `/user/u<n-1>`, `inFlight` POSTs at a time (1: on the one connection). */
  async addAll(n: number, target: string, inFlight: number): Promise<void> {
    let next = 1;
    const worker = async (): Promise<void> => {
      while (next < n) await this.add(`/user/u${next++}`, target, inFlight > 1);
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  }

  async add(routePath: string, target: string, pooled = false): Promise<void> {
    const path = `/api/routes${routePath}`;
    const res = await (pooled ? this.pool : this.client).request({
      method: 'POST',
      path,
      headers: { authorization: `token ${this.proxy.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target }),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    await res.body.dump();
    if (res.statusCode !== 201) throw new Error(`POST ${path}: HTTP ${res.statusCode}`);
  }

  async count(): Promise<number> {
    const res = await fetch(`${this.proxy.apiUrl}/api/routes`, { headers: { Authorization: `token ${this.proxy.token}` }, signal: AbortSignal.timeout(30_000) });
    if (res.status !== 200) throw new Error(`GET /api/routes: HTTP ${res.status}`);
    return Object.keys((await res.json()) as object).length;
  }

  close(): void {
    this.client.destroy().catch(() => undefined);
    this.pool.destroy().catch(() => undefined);
  }
}

/** A socat TCP relay to `backendPort` (one child per connection), as the floor of any relay process. */
async function startSocat(bin: string, backendPort: number, dir: string): Promise<{ child: ChildProcess; url: string }> {
  const [port] = (await freePorts(1)) as [number];
  const child = await startProcess(bin, [`TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr,nodelay`, `TCP:127.0.0.1:${backendPort},nodelay`], { cwd: dir, logFile: path.join(dir, 'socat.log') });
  const url = `http://127.0.0.1:${port}`;
  await waitAnswer(`${url}/`, { timeoutMs: 10_000, ok: (s) => s === 200, alive: () => child.exitCode === null });
  return { child, url };
}

async function startProxy(kind: 'chp' | 'ganymede', dir: string, nodeArgs: string[]): Promise<Proxy> {
  const [port, apiPort] = (await freePorts(2)) as [number, number];
  const token = randomBytes(16).toString('hex');
  const flags = ['--ip', '127.0.0.1', '--port', String(port), '--api-ip', '127.0.0.1', '--api-port', String(apiPort), '--log-level', 'warn'];
  // Ganymede's proxy runs with the node flags the hub gives it.
  const [cmd, args] = kind === 'chp' ? [CHP_BIN, flags] : [process.execPath, [...PROXY_NODE_FLAGS, ...nodeArgs, GANYMEDE_BIN, 'proxy', ...flags]];
  const child = await startProcess(cmd, args, { cwd: dir, env: { CONFIGPROXY_AUTH_TOKEN: token }, logFile: path.join(dir, `${kind}.log`) });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await waitAnswer(`${apiUrl}/api/routes`, { timeoutMs: 20_000, ok: (s) => s === 403 || s === 401 || s === 200, alive: () => child.exitCode === null });
  return { kind, child, url: `http://127.0.0.1:${port}`, apiUrl, token };
}

/** Round trips of one websocket (one message in flight): the timed ones, in ms. */
async function wsEcho(url: string, warmup: number, count: number): Promise<number[]> {
  const ws = new WebSocket(url, { handshakeTimeout: 10_000, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`websocket upgrade refused at ${url}: HTTP ${res.statusCode ?? 0}`)));
  });
  const payload = JSON.stringify({ msg: 'x'.repeat(100) });
  const times: number[] = [];
  try {
    for (let i = 0; i < warmup + count; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no websocket echo within 10 s at ${url}`)), 10_000);
        ws.once('message', () => {
          clearTimeout(timer);
          resolve();
        });
        ws.send(payload);
      });
      if (i >= warmup) times.push(performance.now() - t0);
    }
  } finally {
    ws.terminate();
  }
  return times;
}

/** The median over rounds of `value(a[i]) / value(b[i])`: a and b measured back to back in round i. */
function pairedRatio(a: LoadResult[], b: LoadResult[], value: (r: LoadResult) => number): number {
  return median(a.map((r, i) => value(r) / value(b[i] ?? r)));
}

function combine(runs: LoadResult[]): { rps: number; p50: number; p99: number; errors: number } {
  return { rps: median(runs.map((r) => r.rps)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)), errors: runs.reduce((a, r) => a + r.errors, 0) };
}

export async function proxyBench(opts: BenchOptions): Promise<BenchResult> {
  const t0 = performance.now();
  // Four short interleaved rounds rather than two long ones: the machine drifts (other
  // tenants), and a median of four, with ratios taken within each round, shrugs that off.
  const seconds = opts.quick ? 2 : 5;
  const rounds = opts.quick ? 1 : 4;
  const [warmup, messages] = opts.quick ? [50, 300] : [200, 2000];
  const routes = opts.quick ? 2000 : ROUTES;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-bench-proxy-'));
  const prof = profiler(opts, 'the built-in proxy under load');
  const notes: string[] = [];
  const [backendPort] = (await freePorts(1)) as [number];
  const backend = `http://127.0.0.1:${backendPort}`;
  const backendChild = await startProcess(process.execPath, ['--import', 'tsx', BACKEND, String(backendPort)], { cwd: ROOT, logFile: path.join(dir, 'backend.log') });
  await waitAnswer(`${backend}/`, { timeoutMs: 20_000, ok: (s) => s === 200, alive: () => backendChild.exitCode === null });

  const proxies: Record<'chp' | 'ganymede', Proxy> = {
    chp: await startProxy('chp', dir, []),
    ganymede: await startProxy('ganymede', dir, prof.nodeArgs),
  };
  const oneRoute = await startProxy('ganymede', dir, []);
  const clients = { chp: new RouteClient(proxies.chp), ganymede: new RouteClient(proxies.ganymede) };
  const socatBin = commandPath('socat');
  const socat = socatBin === undefined ? undefined : await startSocat(socatBin, backendPort, dir);
  const wsSocat: number[] = [];
  const base = (t: Target) => (t === 'direct' ? backend : t === 'ganymede1' ? oneRoute.url : proxies[t].url);
  // The path under load: /user/u0/... with 1 route, /user/u<middle>/... with the full table.
  const loadPath = (full: boolean) => `/user/u${full ? Math.floor(routes / 2) : 0}/api/ping`;

  const results = (): Record<Target, Record<number, LoadResult[]>> => ({ direct: { 10: [], 100: [] }, chp: { 10: [], 100: [] }, ganymede: { 10: [], 100: [] }, ganymede1: { 10: [], 100: [] } });
  const http1 = results();
  const httpFull = results();
  const ws: Record<Target, number[]> = { direct: [], chp: [], ganymede: [], ganymede1: [] };
  const addMs: Record<'chp' | 'ganymede', number> = { chp: NaN, ganymede: NaN };
  const addParallelMs: Record<'chp' | 'ganymede', number> = { chp: NaN, ganymede: NaN };
  const rss: Record<'chp' | 'ganymede', number> = { chp: NaN, ganymede: NaN };
  const pinned: Record<'chp' | 'ganymede', LoadResult[]> = { chp: [], ganymede: [] };
  let tool = '';

  try {
    for (const k of ['chp', 'ganymede'] as const) {
      await clients[k].add('/user/u0', backend);
      // CHP answers / itself (404) without a default target; make sure the route serves
      await waitAnswer(`${proxies[k].url}${loadPath(false)}`, { timeoutMs: 5000, ok: (s) => s === 200 });
    }
    const oneRouteClient = new RouteClient(oneRoute);
    await oneRouteClient.add('/user/u0', backend);
    oneRouteClient.close();

    const httpRound = async (into: typeof http1, full: boolean, targets: Target[], round: number) => {
      // The order is reversed every other round: drift within a round favours no target
      // (paired targets stay next to each other either way).
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const c of [10, 100]) {
        for (const t of order) {
          const r = await load({ url: `${base(t)}${loadPath(full && t !== 'ganymede1')}`, headers: {}, connections: c, seconds });
          tool = r.tool;
          into[t][c]!.push(r);
          log(`round ${round + 1}, ${full && t !== 'ganymede1' ? routes : 1} route(s), ${LABELS[t]}, ${c} connections: ${fmtNum(r.rps)} req/s, p50 ${fmtMs(r.p50)}, p99 ${fmtMs(r.p99)}${r.errors ? `, ${r.errors} errors` : ''}`);
        }
      }
    };

    // Warm-up, not counted: each target under load once, so that the first round does not
    // measure the JIT compiling the hot paths.
    for (const t of TARGETS) await load({ url: `${base(t)}${loadPath(false)}`, headers: {}, connections: 100, seconds: opts.quick ? 1 : 3 });

    for (let round = 0; round < rounds; round++) {
      await httpRound(http1, false, TARGETS, round);
      for (const t of TARGETS) {
        const wsUrl = `${base(t).replace(/^http/, 'ws')}/user/u0/api/ws`;
        const times = await wsEcho(wsUrl, warmup, messages);
        ws[t].push(...times);
        log(`round ${round + 1}, websocket echo, ${LABELS[t]}: p50 ${fmtMs(quantile(times, 0.5))}, p99 ${fmtMs(quantile(times, 0.99))}`);
      }
      if (socat !== undefined) {
        const times = await wsEcho(`${socat.url.replace(/^http/, 'ws')}/user/u0/api/ws`, warmup, messages);
        wsSocat.push(...times);
        log(`round ${round + 1}, websocket echo, socat: p50 ${fmtMs(quantile(times, 0.5))}, p99 ${fmtMs(quantile(times, 0.99))}`);
      }
    }

    for (const k of ['chp', 'ganymede'] as const) {
      let start = performance.now();
      await clients[k].addAll(routes, backend, 1);
      addMs[k] = performance.now() - start;
      // The same routes again, as the hub's reconciliation sends them (replacing each).
      start = performance.now();
      await clients[k].addAll(routes, backend, RECONCILE_CONCURRENCY);
      addParallelMs[k] = performance.now() - start;
      const n = await clients[k].count();
      log(`${LABELS[k]}: ${routes - 1} routes added in ${fmtMs(addMs[k])} one at a time, in ${fmtMs(addParallelMs[k])} ${RECONCILE_CONCURRENCY} at a time; the table has ${n} routes`);
      if (n < routes) throw new Error(`${LABELS[k]} has ${n} routes, expected ${routes}`);
    }

    // Ganymede with 10,000 routes and a second Ganymede with 1 route, back to back in each
    // round: the cost of the table's size without the machine's drift between phases.
    await load({ url: `${oneRoute.url}${loadPath(false)}`, headers: {}, connections: 100, seconds: opts.quick ? 1 : 3 });
    for (let round = 0; round < rounds; round++) await httpRound(httpFull, true, [...TARGETS, 'ganymede1'], round);

    for (const k of ['chp', 'ganymede'] as const) rss[k] = rssMB(proxies[k].child.pid!);

    // The same load with the proxy alone on CPU 1 and wrk and the backend on CPU 0: what each
    // proxy does with one core of its own, without the scheduler's placement of the three.
    if (canPin()) {
      const pins = [
        [process.pid, '0'],
        [backendChild.pid!, '0'],
        [proxies.chp.child.pid!, '1'],
        [proxies.ganymede.child.pid!, '1'],
      ] as const;
      for (const [pid, cpu] of pins) pin(pid, cpu);
      try {
        for (let round = 0; round < rounds; round++) {
          for (const k of ['chp', 'ganymede'] as const) {
            const r = await load({ url: `${base(k)}${loadPath(true)}`, headers: {}, connections: 100, seconds });
            pinned[k].push(r);
            log(`round ${round + 1}, ${routes} routes, pinned, ${LABELS[k]}, 100 connections: ${fmtNum(r.rps)} req/s, p50 ${fmtMs(r.p50)}, p99 ${fmtMs(r.p99)}`);
          }
        }
      } finally {
        for (const [pid] of pins) pin(pid, `0-${os.availableParallelism() - 1}`);
      }
    }
  } finally {
    clients.chp.close();
    clients.ganymede.close();
    // SIGTERM lets a profiled proxy write its profile.
    await stopProcess(proxies.ganymede.child, 10_000);
    await stopProcess(oneRoute.child, 5000);
    await stopProcess(proxies.chp.child, 5000);
    if (socat !== undefined) await stopProcess(socat.child, 5000);
    await stopProcess(backendChild, 5000);
  }
  prof.report();

  // ------------------------------------------------------------- figures
  const h = (into: typeof http1, t: Target, c: number) => combine(into[t][c]!);
  const rows: string[][] = [];
  const figures: Figure[] = [];
  const fig = (metric: string, d: string, chp: string, gan: string, target: string, ok: boolean | undefined) => {
    rows.push([metric, d, chp, gan, target, ok === undefined ? '' : verdict(ok)]);
    figures.push({ metric, ganymede: gan, jupyterhub: chp, target, verdict: ok === undefined ? '' : verdict(ok) });
  };
  for (const [label, into] of [
    ['1 route', http1],
    [`${fmtNum(routes)} routes`, httpFull],
  ] as const) {
    for (const c of [10, 100]) {
      const [d, chp, gan] = [h(into, 'direct', c), h(into, 'chp', c), h(into, 'ganymede', c)];
      const hundred = c === 100;
      // Ganymede against CHP within each round (they ran back to back), then the median.
      const rpsRatio = pairedRatio(into.ganymede[c]!, into.chp[c]!, (r) => r.rps);
      const p99Ratio = pairedRatio(into.ganymede[c]!, into.chp[c]!, (r) => r.p99);
      fig(`req/s, ${c} conns, ${label}`, fmtNum(d.rps), fmtNum(chp.rps), `${fmtNum(gan.rps)} (${rpsRatio.toFixed(1)}x CHP)`, hundred ? '>= 3x CHP' : '', hundred ? rpsRatio >= 3 : undefined);
      fig(`p50, ${c} conns, ${label}`, fmtMs(d.p50), fmtMs(chp.p50), fmtMs(gan.p50), '', undefined);
      fig(`p99, ${c} conns, ${label}`, fmtMs(d.p99), fmtMs(chp.p99), `${fmtMs(gan.p99)} (${p99Ratio.toFixed(2)} of CHP)`, hundred ? '<= 1/3 of CHP' : '', hundred ? p99Ratio <= 1 / 3 : undefined);
      const errors = d.errors + chp.errors + gan.errors;
      if (errors) notes.push(`${label}, ${c} connections: errors direct ${d.errors}, CHP ${chp.errors}, Ganymede ${gan.errors}`);
    }
  }
  for (const c of [10, 100]) {
    const one = h(http1, 'ganymede', c).rps;
    const full = h(httpFull, 'ganymede', c).rps;
    const chpOne = h(http1, 'chp', c).rps;
    const chpFull = h(httpFull, 'chp', c).rps;
    // The two tables are measured minutes apart; the direct figures of the same rounds
    // tell how much the machine itself drifted in between.
    const drift = h(httpFull, 'direct', c).rps / h(http1, 'direct', c).rps;
    fig(
      `req/s ${fmtNum(routes)} routes / 1 route, ${c} conns (phases minutes apart; in brackets: over direct's ratio)`,
      drift.toFixed(2),
      `${(chpFull / chpOne).toFixed(2)} (${(chpFull / chpOne / drift).toFixed(2)})`,
      `${(full / one).toFixed(2)} (${(full / one / drift).toFixed(2)})`,
      '',
      undefined,
    );
    // "no slowdown": within the run-to-run noise, taken as 10%
    const paired = pairedRatio(httpFull.ganymede[c]!, httpFull.ganymede1[c]!, (r) => r.rps);
    fig(
      `req/s ${fmtNum(routes)} routes / 1 route, ${c} conns (two Ganymede proxies back to back in each round)`,
      '',
      '',
      `${paired.toFixed(2)} (1 route: ${fmtNum(h(httpFull, 'ganymede1', c).rps)} req/s)`,
      'no slowdown (>= 0.90)',
      paired >= 0.9,
    );
  }
  if (pinned.ganymede.length > 0) {
    const [chp, gan] = [combine(pinned.chp), combine(pinned.ganymede)];
    const ratio = pairedRatio(pinned.ganymede, pinned.chp, (r) => r.rps);
    fig(`req/s, 100 conns, ${fmtNum(routes)} routes, each proxy alone on CPU 1 (wrk and backend on CPU 0)`, '', fmtNum(chp.rps), `${fmtNum(gan.rps)} (${ratio.toFixed(1)}x CHP)`, '', undefined);
    fig(`p99, 100 conns, ${fmtNum(routes)} routes, each proxy alone on CPU 1`, '', fmtMs(chp.p99), `${fmtMs(gan.p99)} (${pairedRatio(pinned.ganymede, pinned.chp, (r) => r.p99).toFixed(2)} of CHP)`, '', undefined);
  } else {
    notes.push('no pinned rounds: taskset missing or a single CPU');
  }
  const wq = (t: Target, q: number) => quantile(ws[t], q);
  fig('websocket echo p50', fmtMs(wq('direct', 0.5)), fmtMs(wq('chp', 0.5)), `${fmtMs(wq('ganymede', 0.5))} (${fmtRatio(wq('ganymede', 0.5), wq('direct', 0.5))} direct)`, '<= 1.5x direct', wq('ganymede', 0.5) <= 1.5 * wq('direct', 0.5));
  fig('websocket echo p99', fmtMs(wq('direct', 0.99)), fmtMs(wq('chp', 0.99)), fmtMs(wq('ganymede', 0.99)), '', undefined);
  // What the relay adds per round trip (two crossings of the relay process); 1.5x direct allows half of direct's p50.
  const added = (p50: number) => `+${fmtMs(p50 - wq('direct', 0.5))}`;
  fig('websocket echo p50: added by the relay (1.5x direct allows half of direct)', `(half: ${fmtMs(wq('direct', 0.5) / 2)})`, added(wq('chp', 0.5)), added(wq('ganymede', 0.5)), '', undefined);
  if (wsSocat.length > 0) {
    const s50 = quantile(wsSocat, 0.5);
    fig('websocket echo through socat (a C byte relay: the floor of a relay process), p50 / p99', '', '', `${fmtMs(s50)} (${fmtRatio(s50, wq('direct', 0.5))} direct, ${added(s50)}) / ${fmtMs(quantile(wsSocat, 0.99))}`, '', undefined);
  } else {
    notes.push('socat is not installed: no websocket figure for a minimal C relay (apt-get install socat)');
  }
  // 10,000 routes in under 1 s; --quick adds fewer, against the same rate.
  const addLimitMs = 1000 * (routes / ROUTES);
  fig(`add ${fmtNum(routes)} routes (REST, one at a time)`, '', fmtMs(addMs.chp), fmtMs(addMs.ganymede), `< ${fmtMs(addLimitMs)}`, addMs.ganymede < addLimitMs);
  fig(
    `add ${fmtNum(routes)} routes (REST, ${RECONCILE_CONCURRENCY} at a time, as the hub's reconciliation)`,
    '',
    fmtMs(addParallelMs.chp),
    fmtMs(addParallelMs.ganymede),
    `< ${fmtMs(addLimitMs)}`,
    addParallelMs.ganymede < addLimitMs,
  );
  fig('proxy RSS after the run', '', `${rss.chp.toFixed(0)} MB`, `${rss.ganymede.toFixed(0)} MB`, '< 80 MB', rss.ganymede < 80);

  process.stdout.write(
    `\n### Proxy: direct vs CHP 5 vs Ganymede (${tool}, ${seconds} s per run, median of ${rounds} interleaved run(s); ratios: median of the per-round ratios; websocket: ${messages} x ${rounds} messages)\n\n${table(['metric', 'direct', 'CHP 5', 'Ganymede', 'target (Ganymede)', 'verdict'], rows)}\n`,
  );
  notes.push('In the summary, the "JupyterHub 3.0" column is configurable-http-proxy 5.3 (the proxy JupyterHub uses).');
  notes.push(`load tool: ${tool}; backend: node http keep-alive + ws echo, one process; every process on the same machine`);
  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  else notes.push(`logs kept in ${dir}`);
  return { name: 'proxy', title: 'Proxy: direct vs configurable-http-proxy 5 vs Ganymede', figures, notes, seconds: (performance.now() - t0) / 1000 };
}

runIfMain(import.meta.url, proxyBench);
