/**
 * The hub's own cost per spawn: the single-user server is
 * test/fixtures/trivial-server.mjs (node; binds JUPYTERHUB_SERVICE_URL and
 * answers 200), so nearly all the time is the hub's (plus node's own start).
 *
 * For each hub (concurrent_spawn_limit raised to 200), after 3 warm-up spawns:
 *  - 50 sequential spawns (50 users, each stopped before the next):
 *    spawn-to-ready median and p99 (as in spawn.ts: POST until 201, or until
 *    GET /users/NAME shows ready after a 202);
 *  - 100 spawns at once (100 other users): wall time until all are ready, and
 *    the number of errors (a POST answered other than 201/202, a spawn that
 *    failed, or not ready within 3 minutes).
 *
 * Run: node --import tsx bench/spawn-trivial.ts   (or: npm run bench -- spawn-trivial)
 */
import { createHub, eachHub, TRIVIAL_SERVER, type HubKind } from './lib/hubs.js';
import { spawnMany, spawnOne, stopMany, stopOne, type SpawnTiming } from './lib/spawning.js';
import { fmtMs, log, max, median, quantile, verdict, type BenchResult, type Figure } from './lib/report.js';
import { profiler, runIfMain, type BenchOptions } from './lib/common.js';

interface HubFigures {
  sequential: SpawnTiming[];
  concurrent: { timings: SpawnTiming[]; wallMs: number };
  stopAllMs: number;
}

async function measureHub(kind: HubKind, opts: BenchOptions, nSeq: number, nCon: number): Promise<HubFigures> {
  const prof = kind === 'ganymede' ? profiler(opts, 'spawn-trivial.ts') : undefined;
  const hub = await createHub(kind, { serverCmd: [process.execPath, TRIVIAL_SERVER], concurrentSpawnLimit: 200, keepDir: opts.keep, nodeArgs: prof?.nodeArgs ?? [] });
  const seqUsers = Array.from({ length: nSeq }, (_, i) => `seq${String(i + 1).padStart(3, '0')}`);
  const conUsers = Array.from({ length: nCon }, (_, i) => `con${String(i + 1).padStart(3, '0')}`);
  const warm = ['warm1', 'warm2', 'warm3'];
  try {
    log(`${hub.label}: starting (${hub.dir})`);
    await hub.start();
    await hub.api.createUsers([...warm, ...seqUsers, ...conUsers]);
    for (const u of warm) {
      await spawnOne(hub.api, u);
      await stopOne(hub.api, u);
    }
    const sequential: SpawnTiming[] = [];
    for (const user of seqUsers) {
      const t = await spawnOne(hub.api, user, { timeoutMs: 60_000 });
      if (t.error) log(`${hub.label}: ${user}: ${t.error}`);
      sequential.push(t);
      await stopOne(hub.api, user);
    }
    const ok = sequential.filter((t) => Number.isFinite(t.ms)).map((t) => t.ms);
    log(`${hub.label}: ${nSeq} sequential: median ${fmtMs(median(ok))}, p99 ${fmtMs(quantile(ok, 0.99))}`);
    log(`${hub.label}: ${nCon} spawns at once`);
    const concurrent = await spawnMany(hub.api, conUsers, { pollMs: 50, timeoutMs: 180_000 });
    const failed = concurrent.timings.filter((t) => !Number.isFinite(t.ms));
    log(`${hub.label}: ${nCon} at once: ${nCon - failed.length} ready, last after ${fmtMs(max(concurrent.timings.map((t) => t.ms).filter(Number.isFinite)))}; ${failed.length} errors`);
    const reasons = new Map<string, number>();
    for (const t of failed) reasons.set(t.error ?? '?', (reasons.get(t.error ?? '?') ?? 0) + 1);
    for (const [r, c] of reasons) log(`${hub.label}:   ${c} x ${r}`);
    const stopAllMs = await stopMany(hub.api, conUsers);
    log(`${hub.label}: stopped ${nCon} servers at once in ${fmtMs(stopAllMs)}`);
    return { sequential, concurrent, stopAllMs };
  } finally {
    await hub.stop();
    prof?.report();
    await hub.dispose();
  }
}

export async function spawnTrivialBench(opts: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const nSeq = opts.quick ? 10 : 50;
  const nCon = opts.quick ? 20 : 100;
  const figs = await eachHub('spawn-trivial', 15 * 60_000, (kind) => measureHub(kind, opts, nSeq, nCon));
  const g = figs.ganymede;
  const j = figs.jupyterhub;
  const ok = (t: SpawnTiming[]) => t.filter((x) => Number.isFinite(x.ms)).map((x) => x.ms);
  const errs = (t: SpawnTiming[]) => t.length - ok(t).length;
  const allReady = (f: HubFigures) => {
    const e = errs(f.concurrent.timings);
    const last = max(ok(f.concurrent.timings));
    return e ? `${nCon - e}/${nCon} ready (last ${fmtMs(last)}), ${e} errors` : `${fmtMs(f.concurrent.wallMs)}, 0 errors`;
  };
  const figures: Figure[] = [
    {
      metric: `spawn-to-ready, ${nSeq} sequential: median / p99`,
      ganymede: `${fmtMs(median(ok(g.sequential)))} / ${fmtMs(quantile(ok(g.sequential), 0.99))}${errs(g.sequential) ? `, ${errs(g.sequential)} errors` : ''}`,
      jupyterhub: `${fmtMs(median(ok(j.sequential)))} / ${fmtMs(quantile(ok(j.sequential), 0.99))}${errs(j.sequential) ? `, ${errs(j.sequential)} errors` : ''}`,
    },
    {
      metric: `${nCon} at once: wall time until all ready, errors`,
      ganymede: allReady(g),
      jupyterhub: allReady(j),
      target: 'all ready, 0 errors',
      verdict: verdict(errs(g.concurrent.timings) === 0),
    },
    {
      metric: `${nCon} at once: median time to ready per server`,
      ganymede: fmtMs(median(ok(g.concurrent.timings))),
      jupyterhub: fmtMs(median(ok(j.concurrent.timings))),
    },
    { metric: `stop ${nCon} at once (DELETE, until gone; info)`, ganymede: fmtMs(g.stopAllMs), jupyterhub: fmtMs(j.stopAllMs) },
  ];
  return {
    name: 'spawn-trivial',
    title: `Hub overhead per spawn (trivial node server), ${nSeq} sequential and ${nCon} at once`,
    figures,
    notes: [
      'Servers at once: 201 answers are timed exactly; servers answered 202 are found ready by one poller of GET /users?state=active every 50 ms.',
      'The trivial server is a node process: ~40-50 ms of each spawn is node starting, on both hubs.',
    ],
    seconds: (performance.now() - started) / 1000,
  };
}

runIfMain(import.meta.url, spawnTrivialBench);
