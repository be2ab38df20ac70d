/**
 * Start-up with 50,000 users and 1,000 running servers, and
 * `GET /hub/api/users?state=ready` on that database.
 *
 * Set-up (Ganymede): the hub starts on an empty database, 50,000 users are
 * created through POST /hub/api/users, and one real server is spawned for the
 * first user with the local-process spawner running the trivial node server
 * (test/fixtures/trivial-server.mjs). The hub is stopped (its proxy and the
 * server run on, by design), and 999 more server rows are written into its
 * SQLite database for the next users, copies of the first one's: ready, same
 * URL, same spawner state (pid and start time of the one live process). On
 * restart every one of the 1,000 is polled (is the process ours and alive)
 * and checked over HTTP, then routed: the same work as 1,000 separate
 * processes, without 1,000 node processes on a shared 2-core machine. A first
 * restart adds the 999 new routes to the proxy; the measured restarts find
 * them there, as a normal restart does.
 *
 * Figures: wall time from exec until GET /hub/api/ answers 200 (the API is
 * served before re-attaching), wall time until the `hub ready` log line
 * (servers re-attached and routes checked: the whole start-up), and
 * GET /users?state=ready (a bare list of the first 200 of the 1,000 ready
 * users): sequential latency, and req/s at 10 and 50 connections.
 *
 * JupyterHub 3.0 is not measured here: creating 50,000 users through its API
 * takes about 6 minutes on this machine (10,000 take 73 s), and 1,000 running
 * servers would be 1,000 jupyterhub-singleuser processes (about 60 MB each)
 * or rows forged in its ORM schema. startup.ts has its 10,000-user figure.
 *
 * Run: node --import tsx bench/startup-large.ts [--quick]   (or: npm run bench -- startup-large)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { createGanymede, TRIVIAL_SERVER, type GanymedeBenchHub } from './lib/hubs.js';
import { sleep } from './lib/procs.js';
import { load } from './lib/load.js';
import { spawnOne } from './lib/spawning.js';
import { fmtMs, fmtNum, log, max, median, min, quantile, verdict, within, type BenchResult, type Figure } from './lib/report.js';
import { profiler, runIfMain, type BenchOptions } from './lib/common.js';

const USERS = 50_000;
const RUNNING = 1000;
const TARGET_START_MS = 2000;
const userName = (i: number) => `user${String(i).padStart(5, '0')}`;

/** Resolves the wall time (ms from `t0`) when the hub's log gains a `hub ready` line after `from` bytes. */
async function waitReadyLine(logFile: string, from: number, t0: number, timeoutMs = 120_000): Promise<{ wallMs: number; logMs?: number; kept?: number }> {
  for (;;) {
    let text = '';
    try {
      text = readFileSync(logFile, 'utf8').slice(from);
    } catch {
      // not yet written
    }
    for (const l of text.split('\n')) {
      if (!l.startsWith('{') || !l.includes('"hub ready"')) continue;
      const j = JSON.parse(l) as { ms?: number; kept?: number };
      return { wallMs: performance.now() - t0, ...(j.ms !== undefined ? { logMs: j.ms } : {}), ...(j.kept !== undefined ? { kept: j.kept } : {}) };
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`no "hub ready" line within ${timeoutMs / 1000} s (${logFile})`);
    await sleep(5);
  }
}

const logSize = (file: string) => {
  try {
    return readFileSync(file).length;
  } catch {
    return 0;
  }
};

/** Copies the first user's server row to users 2..RUNNING (see the header). */
function forgeRunningServers(hub: GanymedeBenchHub, count: number): void {
  const db = new SQLite(path.join(hub.dir, 'data', 'ganymede.sqlite'));
  try {
    const first = db.prepare("select s.* from servers s join users u on u.id = s.user_id where u.name = ? and s.name = ''").get(userName(1)) as Record<string, unknown> | undefined;
    if (!first || first['ready'] !== 1) throw new Error('the first server is not recorded as ready');
    const ids = db.prepare('select id from users where name like ? order by name limit ?').pluck().all('user%', count) as number[];
    const insert = db.prepare(
      "insert into servers (user_id, name, state, url, spawner, started, last_activity, user_options, pending, ready, owner, reported_port) values (?, '', ?, ?, ?, ?, ?, ?, null, 1, ?, null)",
    );
    db.transaction(() => {
      for (const id of ids.slice(1)) insert.run(id, first['state'], first['url'], first['spawner'], first['started'], first['last_activity'], first['user_options'], first['owner']);
    })();
  } finally {
    db.close();
  }
}

interface Start {
  apiMs: number;
  readyMs: number;
  logMs?: number;
  kept?: number;
}

async function restart(hub: GanymedeBenchHub): Promise<Start> {
  const from = logSize(hub.logFile);
  const t0 = performance.now();
  const apiMs = await hub.start();
  const ready = await waitReadyLine(hub.logFile, from, t0);
  const s: Start = { apiMs, readyMs: ready.wallMs, ...(ready.logMs !== undefined ? { logMs: ready.logMs } : {}), ...(ready.kept !== undefined ? { kept: ready.kept } : {}) };
  log(`Ganymede: API answers after ${fmtMs(apiMs)}, hub ready after ${fmtMs(s.readyMs)} (hub log: ${s.logMs ?? '?'} ms, ${s.kept ?? '?'} servers kept)`);
  return s;
}

async function measure(opts: BenchOptions, users: number, running: number, runs: number, seconds: number) {
  const prof = profiler(opts, 'startup-large.ts (restarts and GET /users?state=ready)');
  const hub = await createGanymede({ keepDir: opts.keep, nodeArgs: prof.nodeArgs, serverCmd: [process.execPath, TRIVIAL_SERVER], extraConfig: { poll_interval: 3600 } });
  const starts: Start[] = [];
  try {
    log(`Ganymede: starting (${hub.dir})`);
    await hub.start();
    log(`Ganymede: creating ${fmtNum(users)} users`);
    const t0 = performance.now();
    await hub.api.createUsers(Array.from({ length: users }, (_, i) => userName(i + 1)));
    const createMs = performance.now() - t0;
    log(`Ganymede: ${fmtNum(users)} users created in ${fmtMs(createMs)}; spawning the first user's server`);
    const spawn = await spawnOne(hub.api, userName(1));
    if (spawn.error) throw new Error(`spawn of ${userName(1)}: ${spawn.error}`);
    await hub.stop();
    forgeRunningServers(hub, running);
    log(`Ganymede: ${running} running servers recorded; first restart (routes the new servers)`);
    await restart(hub);
    await hub.stop();
    for (let i = 0; i < runs; i++) {
      starts.push(await restart(hub));
      if (i < runs - 1) await hub.stop();
    }
    // the hub is running: the list of ready users
    const url = `${hub.hubUrl}/hub/api/users?state=ready`;
    const headers = { Authorization: `token ${hub.api.token}` };
    const one = await hub.api.must('GET', '/users?state=ready', undefined, [200]);
    const listed = Array.isArray(one) ? one.length : NaN;
    const lat: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await hub.api.must('GET', '/users?state=ready', undefined, [200]);
      lat.push(performance.now() - t);
    }
    const c10 = await load({ url, headers, connections: 10, seconds });
    const c50 = await load({ url, headers, connections: 50, seconds });
    log(`Ganymede: GET /users?state=ready (${listed} users listed): sequential median ${fmtMs(median(lat))}, c=10 ${fmtNum(c10.rps)} req/s, c=50 ${fmtNum(c50.rps)} req/s p99 ${fmtMs(c50.p99)}`);
    return { starts, createMs, listed, lat, c10, c50 };
  } finally {
    await hub.stop();
    prof.report();
    await hub.dispose();
  }
}

export async function startupLargeBench(opts: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const runs = opts.quick ? 1 : 5;
  const seconds = opts.quick ? 2 : 10;
  const r = await within(20 * 60_000, 'startup-large benchmark on Ganymede', measure(opts, USERS, RUNNING, runs, seconds));
  const api = r.starts.map((s) => s.apiMs);
  const ready = r.starts.map((s) => s.readyMs);
  const spread = (v: number[]) => `${fmtMs(median(v))} (${fmtMs(min(v))}-${fmtMs(max(v))})`;
  const notMeasured = 'not measured (50,000 users through its API: about 6 min here; 1,000 real servers do not fit)';
  const figures: Figure[] = [
    {
      metric: `start-up, ${fmtNum(USERS)} users and ${RUNNING} running servers: until the hub is ready (servers re-attached), median (min-max)`,
      ganymede: spread(ready),
      jupyterhub: notMeasured,
      target: `< ${fmtMs(TARGET_START_MS)}`,
      verdict: verdict(median(ready) < TARGET_START_MS),
    },
    { metric: 'the same starts: until GET /hub/api/ answers 200 (served before re-attaching)', ganymede: spread(api), jupyterhub: notMeasured },
    { metric: 'servers kept by each start (hub log)', ganymede: r.starts.map((s) => s.kept ?? '?').join(', '), jupyterhub: '' },
    { metric: `GET /users?state=ready (${r.listed} of ${RUNNING} listed: one page), one at a time: median / p99`, ganymede: `${fmtMs(median(r.lat))} / ${fmtMs(quantile(r.lat, 0.99))}`, jupyterhub: notMeasured },
    { metric: 'GET /users?state=ready c=10: req/s, p50 / p99', ganymede: `${fmtNum(r.c10.rps)}, ${fmtMs(r.c10.p50)} / ${fmtMs(r.c10.p99)}`, jupyterhub: notMeasured },
    { metric: 'GET /users?state=ready c=50: req/s, p50 / p99', ganymede: `${fmtNum(r.c50.rps)}, ${fmtMs(r.c50.p50)} / ${fmtMs(r.c50.p99)}`, jupyterhub: notMeasured },
    { metric: `creating ${fmtNum(USERS)} users (POST /users, 1,000 per request)`, ganymede: fmtMs(r.createMs), jupyterhub: 'about 6 min (startup.ts: 73 s per 10,000)' },
  ];
  return {
    name: 'startup-large',
    title: `Start-up with ${fmtNum(USERS)} users and ${RUNNING} running servers; GET /users?state=ready (${runs} starts)`,
    figures,
    notes: [
      `The ${RUNNING} running servers share one live trivial server process: each row is polled and checked over HTTP on restart as a separate server would be (see the file's header).`,
      'Start-up = wall time from spawning the hub command; the proxy is already running with every route (a normal restart).',
    ],
    seconds: (performance.now() - started) / 1000,
  };
}

runIfMain(import.meta.url, startupLargeBench);
