/**
 * Spawn storms (issue 14): many users starting a trivial server at once,
 * with each hub's default `concurrent_spawn_limit` (100).
 *
 *  - 300 at once (30 with --quick): wall time until all are ready, and how
 *    many 429 refusals the clients got; a client refused retries 1 s later
 *    (JupyterHub refuses over the limit; Ganymede queues).
 *  - 100 at once (20 with --quick), other users: wall time until all ready,
 *    and the hub process's CPU time per spawn (utime + stime of
 *    /proc/PID/stat, read before and after; the servers and the proxy are
 *    other processes).
 *
 * Run: node --import tsx bench/spawn-storm.ts [--quick]   (or: npm run bench -- spawn-storm)
 */
import { readFileSync } from 'node:fs';
import { createHub, eachHub, TRIVIAL_SERVER, type HubKind } from './lib/hubs.js';
import type { HubApi } from './lib/http.js';
import { stopMany } from './lib/spawning.js';
import { sleep } from './lib/procs.js';
import { fmtMs, log, verdict, type BenchResult, type Figure } from './lib/report.js';
import { runIfMain, type BenchOptions } from './lib/common.js';

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields after the command (which may hold spaces) start after its closing parenthesis
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime: fields 14 and 15 of the line
  return ticks / 100; // USER_HZ
}

interface Storm {
  ready: number;
  wallMs: number;
  refusals: number;
  errors: string[];
}

/**
 * Every user posts at once; one answered 429 posts again 1 s later (up to
 * `timeoutMs`). Ready is then found as in spawnMany (one poller).
 */
async function storm(api: HubApi, users: string[], timeoutMs: number): Promise<Storm> {
  const t0 = performance.now();
  let refusals = 0;
  const errors: string[] = [];
  const accepted: string[] = [];
  await Promise.all(
    users.map(async (user) => {
      while (performance.now() - t0 < timeoutMs) {
        const r = await api.call('POST', `/users/${encodeURIComponent(user)}/server`, undefined, timeoutMs).catch((err: Error) => ({ status: 0, body: err.message }));
        if (r.status === 201 || r.status === 202) return void accepted.push(user);
        if (r.status !== 429) return void errors.push(`${user}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
        refusals++;
        await sleep(1000);
      }
      errors.push(`${user}: refused until the time limit`);
    }),
  );
  // the POSTs are answered (or given up): wait for the accepted ones to be ready (202s may still be pending)
  let ready = 0;
  while (performance.now() - t0 < timeoutMs) {
    const g = await api.call('GET', '/users?state=ready&limit=200&offset=0').catch(() => undefined);
    const pages: unknown[] = Array.isArray(g?.body) ? (g.body as unknown[]) : [];
    // state=ready is paginated: count every page
    let count = pages.length;
    for (let offset = 200; pages.length === 200 && count === offset; offset += 200) {
      const more = await api.call('GET', `/users?state=ready&limit=200&offset=${offset}`).catch(() => undefined);
      count += Array.isArray(more?.body) ? (more.body as unknown[]).length : 0;
    }
    ready = count;
    if (ready >= accepted.length) break;
    await sleep(100);
  }
  return { ready, wallMs: performance.now() - t0, refusals, errors };
}

interface HubFigures {
  big: Storm;
  small: Storm & { cpuMsPerSpawn: number };
}

async function measureHub(kind: HubKind, opts: BenchOptions, nBig: number, nSmall: number): Promise<HubFigures> {
  const hub = await createHub(kind, { serverCmd: [process.execPath, TRIVIAL_SERVER], concurrentSpawnLimit: 100, keepDir: opts.keep });
  const big = Array.from({ length: nBig }, (_, i) => `storm${String(i + 1).padStart(3, '0')}`);
  const small = Array.from({ length: nSmall }, (_, i) => `cpu${String(i + 1).padStart(3, '0')}`);
  try {
    log(`${hub.label}: starting (${hub.dir})`);
    await hub.start();
    await hub.api.createUsers([...big, ...small]);
    const pid = hub.child?.pid;
    if (!pid) throw new Error(`${hub.label}: no hub process id`);
    log(`${hub.label}: ${nBig} at once`);
    const b = await storm(hub.api, big, 300_000);
    log(`${hub.label}: ${b.ready}/${nBig} ready in ${fmtMs(b.wallMs)}, ${b.refusals} refusals, ${b.errors.length} errors${b.errors.length ? `; the first: ${b.errors.slice(0, 3).join(' | ')}` : ''}`);
    await stopMany(hub.api, big);
    log(`${hub.label}: ${nSmall} at once, hub CPU measured`);
    const before = cpuSeconds(pid);
    const s = await storm(hub.api, small, 180_000);
    const cpuMsPerSpawn = ((cpuSeconds(pid) - before) * 1000) / nSmall;
    log(`${hub.label}: ${s.ready}/${nSmall} ready in ${fmtMs(s.wallMs)}, ${cpuMsPerSpawn.toFixed(1)} ms of hub CPU per spawn`);
    await stopMany(hub.api, small);
    return { big: b, small: { ...s, cpuMsPerSpawn } };
  } finally {
    await hub.stop();
    await hub.dispose();
  }
}

export async function spawnStormBench(opts: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const nBig = opts.quick ? 30 : 300;
  const nSmall = opts.quick ? 20 : 100;
  const figs = await eachHub('spawn-storm', 20 * 60_000, (kind) => measureHub(kind, opts, nBig, nSmall));
  const g = figs.ganymede;
  const j = figs.jupyterhub;
  const stormText = (s: Storm, n: number) => `${s.ready}/${n} ready in ${fmtMs(s.wallMs)}, ${s.refusals} refusals${s.errors.length ? `, ${s.errors.length} errors` : ''}`;
  const figures: Figure[] = [
    {
      metric: `${nBig} at once (limit 100; a refused client retries after 1 s)`,
      ganymede: stormText(g.big, nBig),
      jupyterhub: stormText(j.big, nBig),
      target: 'all ready within 15 s, no refusal',
      verdict: verdict(g.big.ready === nBig && g.big.refusals === 0 && g.big.wallMs <= 15_000),
    },
    {
      metric: `${nSmall} at once: wall time until all ready`,
      ganymede: stormText(g.small, nSmall),
      jupyterhub: stormText(j.small, nSmall),
      target: 'within 2.5 s',
      verdict: verdict(g.small.ready === nSmall && g.small.wallMs <= 2500),
    },
    {
      metric: `${nSmall} at once: hub process CPU per spawn`,
      ganymede: `${g.small.cpuMsPerSpawn.toFixed(1)} ms`,
      jupyterhub: `${j.small.cpuMsPerSpawn.toFixed(1)} ms`,
      target: 'at most 10 ms',
      verdict: verdict(g.small.cpuMsPerSpawn <= 10),
    },
  ];
  return {
    name: 'spawn-storm',
    title: `Spawn storms: ${nBig} and ${nSmall} trivial servers at once, default concurrent_spawn_limit`,
    figures,
    notes: [
      'Ready is counted from GET /users?state=ready (all pages) every 100 ms after every POST was answered.',
      'Hub CPU: utime+stime of the hub process only (not the proxy, not the servers; JupyterHub: the jupyterhub Python process).',
      'The trivial server is a node process per user (~40-50 ms of node start each, on both hubs).',
    ],
    seconds: (performance.now() - started) / 1000,
  };
}

runIfMain(import.meta.url, spawnStormBench);
