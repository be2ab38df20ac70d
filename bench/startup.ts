/**
 * Start-up time and memory with 10,000 users in the database.
 *
 * For each hub: start it, create 10,000 users through POST /hub/api/users
 * (1,000 per request), stop it; then restart it several times and measure
 *  - start-up: from exec of the hub command until GET /hub/api/ answers 200 on
 *    the hub port (polled every 5 ms on a fresh connection);
 *  - RSS: VmRSS of the hub process (/proc/PID/status) after 5 s idle.
 * Ganymede is measured with its proxy already running (reused: the normal
 * restart) and cold (proxy stopped first, so the hub starts it and waits for
 * it). JupyterHub stops its configurable-http-proxy when it exits, so each of
 * its starts is cold. The proxies' own RSS is printed for information.
 *
 * Run: node --import tsx bench/startup.ts   (or: npm run bench -- startup)
 */
import { readFileSync } from 'node:fs';
import { createHub, eachHub, LABEL, rssMB, type BenchHub, type HubKind } from './lib/hubs.js';
import { sleep } from './lib/procs.js';
import { fmtMs, fmtNum, log, max, median, min, table, verdict, type BenchResult, type Figure } from './lib/report.js';
import { profiler, runIfMain, type BenchOptions } from './lib/common.js';

const USERS = 10_000;
const IDLE_MS = 5000;
const TARGET_START_MS = 500;
const TARGET_RSS_MB = 100;

interface Sample {
  hub: HubKind;
  mode: 'reuse' | 'cold';
  startMs: number;
  rssMB: number;
  proxyRssMB: number | undefined;
  /** The hub's own "hub ready" log figure (Ganymede), ms. */
  logMs?: number;
}

const userName = (i: number) => `user${String(i).padStart(5, '0')}`;

function lastReadyMs(logFile: string): number | undefined {
  try {
    const lines = readFileSync(logFile, 'utf8').trim().split('\n').reverse();
    for (const l of lines) {
      if (!l.startsWith('{')) continue;
      const j = JSON.parse(l) as { msg?: string; ms?: number };
      if (j.msg === 'hub ready' && typeof j.ms === 'number') return j.ms;
    }
  } catch {
    // no log
  }
  return undefined;
}

async function sample(hub: BenchHub, mode: 'reuse' | 'cold'): Promise<Sample> {
  if (mode === 'cold') await hub.killProxy();
  const startMs = await hub.start();
  await sleep(IDLE_MS);
  const pid = hub.child?.pid;
  if (pid === undefined) throw new Error(`${hub.label} has no pid`);
  const rss = rssMB(pid);
  const proxyPid = hub.proxyPid();
  const proxyRss = proxyPid ? rssMB(proxyPid) : undefined;
  const logMs = hub.kind === 'ganymede' ? lastReadyMs(hub.logFile) : undefined;
  await hub.stop();
  log(`${hub.label} [${mode}]: start-up ${fmtMs(startMs)}${logMs !== undefined ? ` (hub log: ready after ${logMs} ms)` : ''}, RSS ${rss.toFixed(1)} MB, proxy RSS ${proxyRss?.toFixed(1) ?? '?'} MB`);
  return { hub: hub.kind, mode, startMs, rssMB: rss, proxyRssMB: proxyRss, ...(logMs !== undefined ? { logMs } : {}) };
}

interface HubRun {
  samples: Sample[];
  createMs: number;
  /** The first start, on an empty database (cold). */
  empty: { startMs: number; rssMB: number };
}

async function measureHub(kind: HubKind, opts: BenchOptions, runs: number, users: number): Promise<HubRun> {
  const prof = kind === 'ganymede' ? profiler(opts, 'startup.ts (all starts)') : undefined;
  const hub = await createHub(kind, { keepDir: opts.keep, nodeArgs: prof?.nodeArgs ?? [] });
  const samples: Sample[] = [];
  let createMs: number;
  let empty: HubRun['empty'];
  try {
    log(`${hub.label}: starting (${hub.dir})`);
    const firstMs = await hub.start();
    await sleep(IDLE_MS);
    empty = { startMs: firstMs, rssMB: rssMB(hub.child!.pid!) };
    log(`${hub.label}: empty database: start-up ${fmtMs(firstMs)}, RSS ${empty.rssMB.toFixed(1)} MB`);
    log(`${hub.label}: creating ${users} users through POST /hub/api/users`);
    const t0 = performance.now();
    await hub.api.createUsers(Array.from({ length: users }, (_, i) => userName(i + 1)));
    createMs = performance.now() - t0;
    log(`${hub.label}: ${users} users created in ${fmtMs(createMs)}`);
    await hub.stop();
    const modes: Array<'reuse' | 'cold'> = kind === 'ganymede' ? ['reuse', 'cold'] : ['cold'];
    for (const mode of modes) for (let i = 0; i < runs; i++) samples.push(await sample(hub, mode));
  } finally {
    await hub.stop();
    prof?.report();
    await hub.dispose();
  }
  return { samples, createMs, empty };
}

export async function startupBench(opts: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const runs = opts.quick ? 1 : 5;
  const users = opts.quick ? 2000 : USERS;
  const byHub = await eachHub('startup', 20 * 60_000, (kind) => measureHub(kind, opts, runs, users));
  const samples: Sample[] = [...byHub.ganymede.samples, ...byHub.jupyterhub.samples];

  process.stdout.write(
    `\n### startup: every start (${users} users, RSS after ${IDLE_MS / 1000} s idle)\n\n` +
      table(
        ['hub', 'proxy', 'start-up (exec -> /hub/api/ 200)', 'hub log "hub ready"', 'hub RSS', 'proxy RSS'],
        samples.map((s) => [LABEL[s.hub], s.mode === 'reuse' ? 'already running' : 'started by the hub', fmtMs(s.startMs), s.logMs !== undefined ? `${s.logMs} ms` : '', `${s.rssMB.toFixed(1)} MB`, s.proxyRssMB !== undefined ? `${s.proxyRssMB.toFixed(1)} MB` : '?']),
      ) +
      '\n',
  );

  const pick = (hub: HubKind, mode: 'reuse' | 'cold') => samples.filter((s) => s.hub === hub && s.mode === mode);
  const spread = (v: number[]) => `${fmtMs(median(v))} (${fmtMs(min(v))}-${fmtMs(max(v))})`;
  const gReuse = pick('ganymede', 'reuse');
  const gCold = pick('ganymede', 'cold');
  const jCold = pick('jupyterhub', 'cold');
  const st = (s: Sample[]) => s.map((x) => x.startMs);
  const rss = (s: Sample[]) => s.map((x) => x.rssMB);
  const prss = (s: Sample[]) => s.flatMap((x) => (x.proxyRssMB === undefined ? [] : [x.proxyRssMB]));
  const figures: Figure[] = [
    {
      metric: 'start-up, proxy already running: median (min-max)',
      ganymede: spread(st(gReuse)),
      jupyterhub: 'n/a (stops its proxy on exit)',
      target: `< ${TARGET_START_MS} ms`,
      verdict: verdict(median(st(gReuse)) < TARGET_START_MS),
    },
    {
      metric: 'start-up, cold (hub starts its proxy): median (min-max)',
      ganymede: spread(st(gCold)),
      jupyterhub: spread(st(jCold)),
      target: `< ${TARGET_START_MS} ms`,
      verdict: verdict(median(st(gCold)) < TARGET_START_MS),
    },
    {
      metric: `hub RSS after ${IDLE_MS / 1000} s idle: median (max)`,
      ganymede: `${median(rss([...gReuse, ...gCold])).toFixed(1)} MB (${max(rss([...gReuse, ...gCold])).toFixed(1)})`,
      jupyterhub: `${median(rss(jCold)).toFixed(1)} MB (${max(rss(jCold)).toFixed(1)})`,
      target: `< ${TARGET_RSS_MB} MB`,
      verdict: verdict(max(rss([...gReuse, ...gCold])) < TARGET_RSS_MB),
    },
    {
      metric: `empty database, first (cold) start: start-up / RSS after ${IDLE_MS / 1000} s`,
      ganymede: `${fmtMs(byHub.ganymede.empty.startMs)} / ${byHub.ganymede.empty.rssMB.toFixed(1)} MB`,
      jupyterhub: `${fmtMs(byHub.jupyterhub.empty.startMs)} / ${byHub.jupyterhub.empty.rssMB.toFixed(1)} MB`,
    },
    {
      metric: 'proxy RSS (ganymede proxy / configurable-http-proxy)',
      ganymede: `${median(prss([...gReuse, ...gCold])).toFixed(1)} MB`,
      jupyterhub: `${median(prss(jCold)).toFixed(1)} MB`,
    },
    {
      metric: `creating ${fmtNum(users)} users (POST /users, 1,000 per request)`,
      ganymede: fmtMs(byHub.ganymede.createMs),
      jupyterhub: fmtMs(byHub.jupyterhub.createMs),
    },
  ];
  return {
    name: 'startup',
    title: `Start-up and memory with ${fmtNum(users)} users (${runs} starts per case)`,
    figures,
    notes: [
      'Start-up is wall time from spawning the hub command to the first 200 from GET /hub/api/ on the hub port; the database and the code are in the page cache (warm starts).',
      'JupyterHub\'s figure includes starting configurable-http-proxy, as Ganymede\'s "cold" figure includes starting its own proxy.',
    ],
    seconds: (performance.now() - started) / 1000,
  };
}

runIfMain(import.meta.url, startupBench);
