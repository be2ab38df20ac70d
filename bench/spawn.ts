/**
 * Spawn-to-ready with the real single-user server (Debian's
 * jupyterhub-singleuser 3.0, run as the hub's user on 127.0.0.1).
 *
 * For each hub, after one warm-up spawn (not counted):
 *  - 10 sequential spawns (10 users; each stopped before the next): time from
 *    sending POST /hub/api/users/NAME/server until ready (a 201 answer, or
 *    after a 202 `servers[''].ready` in GET /hub/api/users/NAME, polled every
 *    10 ms): median, min, max;
 *  - 10 at once (10 other users): wall time from the first POST until the last
 *    server is ready (201 answers timed exactly; 202s found by one poller of
 *    GET /users?state=active every 100 ms).
 *
 * The single-user server's own start-up, measured alone: one server is spawned
 * through the hub, its exact command line, environment (API token included)
 * and working directory are read from /proc, and the same command is started
 * 10 times by this script with only JUPYTERHUB_SERVICE_URL moved to a free
 * port; the figure is the time from exec until GET <prefix>api on that port
 * answers (< 500), polled every 10 ms. The spawned server is still running
 * meanwhile (the token stays valid); it is idle. The server checks the hub's
 * version at start-up, so this includes one request to the hub's API, as in a
 * real spawn. Hub overhead = median spawn-to-ready - median own start-up
 * (measured with that hub's environment).
 *
 * Run: node --import tsx bench/spawn.ts   (or: npm run bench -- spawn)
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { createHub, eachHub, LABEL, SINGLEUSER_BIN, type BenchHub, type HubKind } from './lib/hubs.js';
import { freePort, waitAnswer } from './lib/http.js';
import { findMarked, killPids, waitExit } from './lib/procs.js';
import { spawnMany, spawnOne, stopMany, stopOne, type SpawnTiming } from './lib/spawning.js';
import { fmtMs, log, max, mean, median, min, table, verdict, type BenchResult, type Figure } from './lib/report.js';
import { profiler, runIfMain, type BenchOptions } from './lib/common.js';

const TARGET_OVERHEAD_MS = 300;

interface HubFigures {
  sequential: SpawnTiming[];
  concurrent: { timings: SpawnTiming[]; wallMs: number };
  standalone: number[];
  /** Ganymede's own log: 'server ready' ms of the sequential spawns. */
  logReady: number[];
}

/** Reads a running process's command line, environment and working directory. */
function processImage(pid: number): { argv: string[]; env: Record<string, string>; cwd: string } {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const env: Record<string, string> = {};
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return { argv, env, cwd: readlinkSync(`/proc/${pid}/cwd`) };
}

/** The single-user server started alone `n` times with the environment of a server `hub` spawned. */
async function standaloneStarts(hub: BenchHub, n: number): Promise<number[]> {
  const probe = 'probe';
  const t = await spawnOne(hub.api, probe);
  if (!Number.isFinite(t.ms)) throw new Error(`${hub.label}: spawning ${probe}: ${t.error}`);
  const pid = findMarked('JUPYTERHUB_USER', probe);
  if (!pid) throw new Error(`${hub.label}: cannot find the process of ${probe}'s server`);
  const image = processImage(pid);
  const serviceUrl = image.env['JUPYTERHUB_SERVICE_URL'];
  if (!serviceUrl) throw new Error(`${hub.label}: the server has no JUPYTERHUB_SERVICE_URL`);
  log(`${hub.label}: single-user server alone: ${image.argv.join(' ')} (cwd ${image.cwd})`);
  const out: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const u = new URL(serviceUrl);
      u.port = String(await freePort());
      const fd = openSync(path.join(hub.dir, `standalone-${i}.log`), 'a');
      const t0 = performance.now();
      const child = spawn(image.argv[0]!, image.argv.slice(1), { env: { ...image.env, JUPYTERHUB_SERVICE_URL: u.toString() }, cwd: image.cwd, detached: true, stdio: ['ignore', fd, fd] });
      closeSync(fd);
      try {
        const ms = await waitAnswer(`${u.origin}${u.pathname.replace(/\/?$/, '/')}api`, { t0, intervalMs: 10, timeoutMs: 60_000, alive: () => child.exitCode === null });
        out.push(ms);
      } finally {
        if (child.pid !== undefined) {
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {
            // gone
          }
          if (!(await waitExit(child, 10_000))) await killPids([child.pid], 0);
        }
      }
    }
  } finally {
    await stopOne(hub.api, probe);
  }
  return out;
}

function readyLogMs(logFile: string): number[] {
  const out: number[] = [];
  for (const l of readFileSync(logFile, 'utf8').split('\n')) {
    if (!l.startsWith('{')) continue;
    const j = JSON.parse(l) as { msg?: string; ms?: number; user?: string };
    if (j.msg === 'server ready' && typeof j.ms === 'number' && j.user?.startsWith('seq')) out.push(j.ms);
  }
  return out;
}

async function measureHub(kind: HubKind, opts: BenchOptions, n: number): Promise<HubFigures> {
  const prof = kind === 'ganymede' ? profiler(opts, 'spawn.ts') : undefined;
  const hub = await createHub(kind, { serverCmd: [SINGLEUSER_BIN], keepDir: opts.keep, nodeArgs: prof?.nodeArgs ?? [] });
  const seqUsers = Array.from({ length: n }, (_, i) => `seq${i + 1}`);
  const conUsers = Array.from({ length: n }, (_, i) => `con${i + 1}`);
  try {
    log(`${hub.label}: starting (${hub.dir})`);
    await hub.start();
    await hub.api.createUsers(['warmup', 'probe', ...seqUsers, ...conUsers]);
    const w = await spawnOne(hub.api, 'warmup');
    log(`${hub.label}: warm-up spawn ${Number.isFinite(w.ms) ? fmtMs(w.ms) : w.error}`);
    await stopOne(hub.api, 'warmup');

    const sequential: SpawnTiming[] = [];
    for (const user of seqUsers) {
      const t = await spawnOne(hub.api, user);
      log(`${hub.label}: ${user} ${Number.isFinite(t.ms) ? `ready in ${fmtMs(t.ms)} (HTTP ${t.status})` : `FAILED: ${t.error}`}`);
      sequential.push(t);
      await stopOne(hub.api, user);
    }

    log(`${hub.label}: ${n} spawns at once`);
    const concurrent = await spawnMany(hub.api, conUsers, { pollMs: 100, timeoutMs: 180_000 });
    log(`${hub.label}: ${n} at once: all ready in ${fmtMs(concurrent.wallMs)}; statuses ${concurrent.timings.map((t) => t.status).join(',')}`);
    for (const t of concurrent.timings) if (t.error) log(`${hub.label}: ${t.user}: ${t.error}`);
    await stopMany(hub.api, conUsers);

    const standalone = await standaloneStarts(hub, n);
    log(`${hub.label}: single-user server alone: ${standalone.map(fmtMs).join(', ')}`);
    const logReady = kind === 'ganymede' ? readyLogMs(hub.logFile) : [];
    return { sequential, concurrent, standalone, logReady };
  } finally {
    await hub.stop();
    prof?.report();
    await hub.dispose();
  }
}

export async function spawnBench(opts: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const n = opts.quick ? 3 : 10;
  const figs = await eachHub('spawn', 15 * 60_000, (kind) => measureHub(kind, opts, n));
  const g = figs.ganymede;
  const j = figs.jupyterhub;
  const ok = (t: SpawnTiming[]) => t.filter((x) => Number.isFinite(x.ms)).map((x) => x.ms);
  const errs = (t: SpawnTiming[]) => t.filter((x) => !Number.isFinite(x.ms)).length;
  const spread = (v: number[]) => `${fmtMs(median(v))} (${fmtMs(min(v))}-${fmtMs(max(v))})`;

  process.stdout.write(
    `\n### spawn: every sample (jupyterhub-singleuser)\n\n` +
      table(
        ['hub', 'sequential spawn-to-ready', 'at once (per server)', 'server alone'],
        (['ganymede', 'jupyterhub'] as const).map((k) => [LABEL[k], figs[k].sequential.map((t) => fmtMs(t.ms)).join(' '), figs[k].concurrent.timings.map((t) => fmtMs(t.ms)).join(' '), figs[k].standalone.map(fmtMs).join(' ')]),
      ) +
      '\n',
  );

  const gOver = median(ok(g.sequential)) - median(g.standalone);
  const jOver = median(ok(j.sequential)) - median(j.standalone);
  const figures: Figure[] = [
    {
      metric: `spawn-to-ready, ${n} sequential: median (min-max)`,
      ganymede: spread(ok(g.sequential)) + (errs(g.sequential) ? `, ${errs(g.sequential)} failed` : ''),
      jupyterhub: spread(ok(j.sequential)) + (errs(j.sequential) ? `, ${errs(j.sequential)} failed` : ''),
    },
    {
      metric: `single-user server's own start-up, alone: median (min-max)`,
      ganymede: spread(g.standalone),
      jupyterhub: spread(j.standalone),
    },
    {
      metric: 'hub overhead: spawn-to-ready - own start-up, medians (means)',
      ganymede: `${fmtMs(gOver)} (${fmtMs(mean(ok(g.sequential)) - mean(g.standalone))})`,
      jupyterhub: `${fmtMs(jOver)} (${fmtMs(mean(ok(j.sequential)) - mean(j.standalone))})`,
      target: `<= ${TARGET_OVERHEAD_MS} ms`,
      verdict: verdict(gOver <= TARGET_OVERHEAD_MS),
    },
    {
      metric: `${n} at once: wall time until all ready`,
      ganymede: `${fmtMs(g.concurrent.wallMs)}${errs(g.concurrent.timings) ? `, ${errs(g.concurrent.timings)} failed` : ''}`,
      jupyterhub: `${fmtMs(j.concurrent.wallMs)}${errs(j.concurrent.timings) ? `, ${errs(j.concurrent.timings)} failed` : ''}`,
      target: `<= half of JupyterHub's (${fmtMs(j.concurrent.wallMs / 2)})`,
      verdict: verdict(g.concurrent.wallMs <= j.concurrent.wallMs / 2),
    },
  ];
  if (g.logReady.length) {
    figures.push({ metric: "Ganymede's log: 'server ready' ms (sequential): median", ganymede: fmtMs(median(g.logReady)), jupyterhub: '' });
  }
  return {
    name: 'spawn',
    title: 'Spawn-to-ready with jupyterhub-singleuser',
    figures,
    notes: [
      'Spawn-to-ready is client-side: from sending the POST to seeing ready (a 201, else the first GET that shows servers[""].ready).',
      "Own start-up: the same command, environment and cwd as a hub-spawned server, started by the benchmark, until <prefix>api answers (poll every 10 ms).",
      'JupyterHub 3.0 checks a new server with exponential back-off (0.2 s, 0.4 s, 0.8 s, ...), Ganymede every 20 ms growing to 250 ms.',
    ],
    seconds: (performance.now() - started) / 1000,
  };
}

runIfMain(import.meta.url, spawnBench);
