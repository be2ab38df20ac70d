/**
 * The Slurm batch spawner (`kind: slurm`) against the real Slurm + sshd of
 * scripts/slurm-test-env/up.sh, the hub a real process reaching the login
 * host over SSH as the service account `jupyterspawner`, which submits and
 * owns the jobs itself (`exec_prefix: ''`). Each job runs bin/ganymede-singleuser
 * with the trivial node server.
 *
 * Figures, each with its peer measured in the same run:
 *  1. submit-to-ready, N sequential spawns (POST until the API says ready):
 *     median and p90. Peer: the scheduler's floor, `ssh … sbatch --parsable`
 *     with a job running the same launcher and server, which reports its port
 *     to a listener of the benchmark (start of ssh → callback → HTTP 200).
 *  2. cancel-to-gone: DELETE until the API says stopped and `squeue -h -j ID`
 *     prints nothing; peer: `ssh … scancel ID` until squeue prints nothing.
 *  3. scheduler queries per poll interval with M running servers (named
 *     servers of a few users), counted by a wrapper around squeue over 3
 *     intervals: (a) service-account mode (`batch_query_all_cmd` set; target 1
 *     per host per interval) and (b) per-job mode (empty; batchspawner's way),
 *     (b) by restarting the hub on the same data directory, which re-attaches
 *     to all M (timed). Then all M are stopped at once (timed).
 *
 * JupyterHub + batchspawner cannot be installed here (no PyPI), so the floor is
 * the comparison; no JupyterHub figure is printed.
 *
 * For part 3 the node is resized (NODE_CPUS=256, NODE_MEM_MB=16384: slurmctld
 * and slurmd restart, and every job then running on the node, anyone's, is
 * aborted and requeued by Slurm) and put back to up.sh's defaults right after.
 *
 * Run (as root): node --import tsx bench/slurm.ts [--quick]   (or: npm run bench -- slurm)
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { createGanymede, type GanymedeBenchHub } from './lib/hubs.js';
import { namedServers, spawnNamedMany, stopNamedMany } from './lib/named-servers.js';
import { sleep } from './lib/procs.js';
import { fmtMs, fmtNum, log, median, quantile, verdict, type BenchResult, type Figure } from './lib/report.js';
import { spawnOne, stopOne } from './lib/spawning.js';
import { batchspawnerImport, floorCancel, floorSpawn, PortListener, waitJobGone } from './lib/slurm-floor.js';
import {
  cancelRunJobs,
  COUNTED_SQUEUE,
  installCountingSqueue,
  JOB_NAME,
  jobIdsNamed,
  loggedQueries,
  makeJobDir,
  nodeCpus,
  removeCountingSqueue,
  restoreDefaultNode,
  slurmBenchUnavailable,
  slurmctldPid,
  slurmUp,
  squeue,
  type LoggedQuery,
  type SlurmEnv,
} from './lib/slurm-env.js';
import { runIfMain, type BenchOptions } from './lib/common.js';

/** The bench node: room for 200 jobs of 1 CPU and 16 MB each. */
const BIG_NODE = { cpus: 256, memMb: 16384 };

interface Sizes {
  seq: number;
  many: number;
  users: number;
  pollS: number;
  intervals: number;
}

/** The `spawner:` section of the hub: service account over SSH, counting squeue wrapper. */
function spawnerConfig(env: SlurmEnv, job: { dir: string; launcher: string; server: string }, queryAll: boolean): Record<string, unknown> {
  return {
    kind: 'slurm',
    ssh: { host: env.sshHost, port: env.sshPort, user: env.sshUser, key_file: env.keyFile, known_hosts: env.knownHosts },
    system_user_name: env.sshUser,
    exec_prefix: '',
    cmd: ['/bin/sh', job.launcher, process.execPath, job.server],
    req_memory: '16M',
    req_nprocs: '1',
    req_runtime: '00:30:00',
    req_srun: '',
    req_homedir: job.dir,
    req_options: `--job-name=${JOB_NAME.hub}`,
    startup_poll_interval: 0.5,
    cancel_wait_timeout: 60,
    batch_query_cmd: `${COUNTED_SQUEUE} -h -j {job_id} -o "%T %B %r"`,
    batch_query_all_cmd: queryAll ? `${COUNTED_SQUEUE} -h -t all -o "%i %T %B %r"` : '',
  };
}

/** Queries in a window, grouped into poll rounds (a gap of 2 s or more starts a new round). */
function rounds(queries: LoggedQuery[]): { count: number; perRound: number[]; longestMs: number } {
  const sorted = [...queries].sort((a, b) => a.at - b.at);
  const groups: LoggedQuery[][] = [];
  for (const q of sorted) {
    const last = groups.at(-1);
    if (last && q.at - last.at(-1)!.at < 2000) last.push(q);
    else groups.push([q]);
  }
  return { count: sorted.length, perRound: groups.map((g) => g.length), longestMs: Math.max(0, ...groups.map((g) => g.at(-1)!.at - g[0]!.at)) };
}

/** Waits until the hub log, past `offset`, has its "hub ready" line; resolves that line's fields. */
async function waitHubReady(logFile: string, offset: number, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const text = readFileSync(logFile, 'utf8').slice(offset);
    for (const line of text.split('\n')) {
      if (!line.includes('"hub ready"')) continue;
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        // a line still being written
      }
    }
    await sleep(50);
  }
  throw new Error(`no "hub ready" in ${logFile} within ${timeoutMs / 1000} s`);
}

interface Counted {
  perInterval: number;
  count: number;
  perRound: number[];
  longestMs: number;
  windowS: number;
}

/** Resolves once the query log has had no new line for `quietMs` (no poll round in progress); epoch ms. */
async function quietPoint(countLog: string, quietMs: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = statSync(countLog).mtimeMs;
    if (Date.now() - last >= quietMs || Date.now() > deadline) return Date.now();
    await sleep(100);
  }
}

/**
 * Counts the wrapper's queries over `intervals` poll intervals: the window
 * starts between two rounds and is stretched at its end until a round in
 * progress has finished, so no round is cut in two.
 */
async function countQueries(countLog: string, s: Sizes, kind: LoggedQuery['kind']): Promise<Counted> {
  const from = await quietPoint(countLog, 2000, s.pollS * 1000);
  await sleep(s.intervals * s.pollS * 1000);
  await quietPoint(countLog, 2000, s.pollS * 1000);
  const to = Date.now();
  const r = rounds(loggedQueries(countLog, from, to).filter((q) => q.kind === kind));
  const windowS = (to - from) / 1000;
  return { ...r, perInterval: (r.count / windowS) * s.pollS, windowS };
}

/** Queries per poll round (one round per interval), then the raw counts: a window stretched to whole rounds makes count/window a little low. */
const describe = (c: Counted) =>
  `${c.perRound.length ? fmtNum(median(c.perRound)) : '0'} per round (rounds: ${c.perRound.join(', ') || 'none'}; ${c.count} in ${c.windowS.toFixed(0)} s = ${c.perInterval.toFixed(1)} per interval)`;

export async function slurmBench(opts: BenchOptions): Promise<BenchResult> {
  const why = slurmBenchUnavailable();
  if (why) throw new Error(`the slurm benchmark cannot run here: ${why}`);
  const started = performance.now();
  const s: Sizes = opts.quick ? { seq: 3, many: 20, users: 2, pollS: 5, intervals: 3 } : { seq: 10, many: 200, users: 4, pollS: 15, intervals: 3 };
  const env = await slurmUp();
  let resized = false;
  const job = makeJobDir(env.sshUser);
  const countLog = path.join(job.dir, 'squeue-counted.log');
  const listener = new PortListener();
  let hub: GanymedeBenchHub | undefined;
  const notes: string[] = [];
  try {
    installCountingSqueue(countLog, env.sshUser);
    await listener.listen();
    const importing = await batchspawnerImport();
    const manyUsers = Array.from({ length: s.users }, (_, i) => `many${i + 1}`);
    const extraConfig = {
      allow_named_servers: true,
      named_server_limit_per_user: 0,
      concurrent_spawn_limit: s.many,
      poll_interval: s.pollS,
      start_timeout: 600,
      http_timeout: 120,
    };
    hub = await createGanymede({ spawner: spawnerConfig(env, job, true), extraConfig, keepDir: opts.keep });
    log(`slurm: hub in ${hub.dir}; jobs and the query log in ${job.dir}`);
    await hub.start();
    await hub.api.createUsers(['u', ...manyUsers]);

    // ---- 1 and 2: N sequential spawns and stops, each beside one floor job
    const hubReady: number[] = [];
    const hubGone: number[] = [];
    const floorReady: number[] = [];
    const floorCallback: number[] = [];
    const floorSubmit: number[] = [];
    const floorGone: number[] = [];
    const errors: string[] = [];
    for (let i = -1; i < s.seq; i++) {
      const warm = i < 0;
      const f = await floorSpawn(env, listener, job);
      const fGone = await floorCancel(env, f.jobId);
      const t = await spawnOne(hub.api, 'u', { timeoutMs: 120_000 });
      if (t.error) {
        errors.push(t.error);
        log(`slurm: spawn ${i + 1}: ${t.error}`);
        await stopOne(hub.api, 'u').catch(() => undefined);
        continue;
      }
      const ids = await jobIdsNamed(JOB_NAME.hub);
      const t0 = performance.now();
      await stopOne(hub.api, 'u', 120_000);
      const gone = ids.length === 1 ? await waitJobGone(ids[0]!, t0) : NaN;
      if (ids.length !== 1) log(`slurm: expected one running hub job, squeue lists ${ids.length}: ${ids.join(' ')}`);
      log(`slurm: ${warm ? 'warm-up' : `#${i + 1}`}: hub ready ${fmtMs(t.ms)}, gone ${fmtMs(gone)}; floor ready ${fmtMs(f.readyMs)} (callback ${fmtMs(f.callbackMs)}), gone ${fmtMs(fGone)}`);
      if (warm) continue;
      hubReady.push(t.ms);
      if (Number.isFinite(gone)) hubGone.push(gone);
      floorReady.push(f.readyMs);
      floorCallback.push(f.callbackMs);
      floorSubmit.push(f.submitMs);
      floorGone.push(fGone);
    }

    // ---- 3a: M servers at once, service-account mode
    // Resizing rewrites the node's socket/core layout: slurmctld aborts and requeues every job running on the
    // node (anyone's), so it is done only now, for part 3, and undone at once afterwards.
    log(`slurm: resizing the test node to ${BIG_NODE.cpus} CPUs, ${BIG_NODE.memMb} MB (up.sh; restored after part 3)`);
    resized = true;
    await slurmUp(BIG_NODE);
    const ctld = slurmctldPid();
    const servers = namedServers(manyUsers, s.many / s.users);
    log(`slurm: spawning ${s.many} named servers at once (${s.users} users)`);
    const many = await spawnNamedMany(hub.api, servers, 4 * 60_000);
    log(`slurm: ${many.ready}/${s.many} ready in ${fmtMs(many.wallMs)}`);
    const cpusNow = await nodeCpus().catch(() => NaN);
    if (cpusNow !== BIG_NODE.cpus) {
      notes.push(`WARNING: the node had ${cpusNow} CPUs after the ${s.many} spawns, not ${BIG_NODE.cpus}: something ran up.sh with its defaults during the run; the figures of part 3 may be off.`);
      log(`slurm: ${notes.at(-1)!}`);
    }
    for (const [why, n] of many.errors) log(`slurm:   ${n} x ${why}`);
    log(`slurm: counting queries over ${s.intervals} poll intervals of ${s.pollS} s (service-account mode)`);
    const allMode = await countQueries(countLog, s, 'all');
    const allJobQueries = loggedQueries(countLog, Date.now() - allMode.windowS * 1000, Date.now()).filter((q) => q.kind === 'job').length;
    log(`slurm: service-account mode: ${describe(allMode)}; per-job queries in the same window: ${allJobQueries}`);

    // ---- 3b: the same servers, per-job mode, after a restart on the same data dir
    await hub.stop();
    hub.reconfigure({ spawner: spawnerConfig(env, job, false), extraConfig });
    const offset = statSync(hub.logFile).size;
    const restartAt = Date.now();
    const t0 = performance.now();
    await hub.start();
    const ready = await waitHubReady(hub.logFile, offset, 5 * 60_000);
    const reattachMs = performance.now() - t0;
    const reattachQueries = loggedQueries(countLog, restartAt, Date.now()).length;
    log(`slurm: restarted in per-job mode: hub ready after ${fmtMs(reattachMs)} (kept ${String(ready['kept'])}, cleared ${String(ready['cleared'])}; ${reattachQueries} queries)`);
    log(`slurm: counting queries over ${s.intervals} poll intervals of ${s.pollS} s (per-job mode)`);
    const jobMode = await countQueries(countLog, s, 'job');
    log(`slurm: per-job mode: ${describe(jobMode)}; longest round ${fmtMs(jobMode.longestMs)}`);

    if (slurmctldPid() !== ctld) {
      notes.push('WARNING: slurmctld was restarted during part 3 (something sharing the cluster ran up.sh or stopped it): running jobs may have been requeued, so the figures of part 3 are off; run again.');
      log(`slurm: ${notes.at(-1)!}`);
    }
    log(`slurm: stopping ${s.many} servers at once`);
    const stopStart = performance.now();
    const stopMs = await stopNamedMany(hub.api, servers, 5 * 60_000).catch((err: Error) => {
      log(`slurm: ${err.message}`);
      return NaN;
    });
    let left = (await jobIdsNamed(JOB_NAME.hub)).length;
    let shown = performance.now();
    while (left && performance.now() - stopStart < 5 * 60_000) {
      await sleep(100);
      left = (await jobIdsNamed(JOB_NAME.hub)).length;
      if (left && performance.now() - shown > 10_000) {
        shown = performance.now();
        log(`slurm: still listed: ${(await squeue(['-h', '-n', JOB_NAME.hub, '-o', '%i %T %r'])).trim().split('\n').slice(0, 5).join('; ')} (${left} in all)`);
      }
    }
    const allGoneMs = performance.now() - stopStart;
    log(`slurm: stopped: API ${fmtMs(stopMs)}, squeue empty after ${fmtMs(allGoneMs)}${left ? ` (${left} still listed)` : ''}`);

    const medP90 = (v: number[]) => `${fmtMs(median(v))} / ${fmtMs(quantile(v, 0.9))}`;
    const errs = errors.length ? `, ${errors.length} errors` : '';
    const figures: Figure[] = [
      {
        metric: `submit-to-ready, ${s.seq} sequential: median / p90`,
        ganymede: `${medP90(hubReady)}${errs}`,
        jupyterhub: `${medP90(floorReady)} (callback ${fmtMs(median(floorCallback))}, sbatch answered ${fmtMs(median(floorSubmit))})`,
      },
      {
        metric: `cancel-to-gone, ${s.seq} sequential: median`,
        ganymede: fmtMs(median(hubGone)),
        jupyterhub: `${fmtMs(median(floorGone))} (ssh scancel)`,
      },
      {
        metric: `queries per ${s.pollS} s poll interval, ${s.many} servers, service-account mode`,
        ganymede: describe(allMode),
        jupyterhub: 'per-job mode (batchspawner\'s way) below',
        target: '1 per host',
        verdict: verdict(allMode.perRound.length > 0 && allMode.perRound.every((n) => n === 1) && allJobQueries === 0),
      },
      {
        metric: `queries per ${s.pollS} s poll interval, ${s.many} servers, per-job mode`,
        ganymede: `${describe(jobMode)}; longest round ${fmtMs(jobMode.longestMs)}`,
        jupyterhub: 'same as Ganymede: one query per job',
      },
      { metric: `${s.many} spawned at once: wall time until all ready`, ganymede: `${fmtMs(many.wallMs)}, ${many.ready}/${s.many} ready`, jupyterhub: 'n/a' },
      { metric: `restart in per-job mode: until re-attached to all ${s.many} ("hub ready")`, ganymede: `${fmtMs(reattachMs)}, kept ${String(ready['kept'])}, ${reattachQueries} queries`, jupyterhub: 'n/a' },
      { metric: `stop ${s.many} at once: API stopped / squeue empty`, ganymede: `${fmtMs(stopMs)} / ${fmtMs(allGoneMs)}`, jupyterhub: 'n/a' },
    ];
    notes.push(
      `JupyterHub + batchspawner cannot be installed here (no PyPI; python3 -c 'import batchspawner': ${importing}), so the peer is the scheduler's floor measured in the same run; no JupyterHub figure is printed.`,
      'Floor: a new OpenSSH connection per command (the hub keeps one pooled ssh2 connection); its job runs the same launcher and trivial server, reporting the port to a listener of the benchmark; "ready" = the server answered HTTP 200.',
      'Jobs run as the service account (exec_prefix \'\'), 1 CPU and 16 MB each, without srun; the node was resized to 256 CPUs for part 3 and restored afterwards.',
      `Queries are counted by ${COUNTED_SQUEUE} (a line per call); a round is a burst of queries with gaps under 2 s.`,
    );
    return {
      name: 'slurm',
      title: `Slurm batch spawner over SSH: ${s.seq} sequential spawns and stops, ${s.many} servers polled`,
      figures,
      notes,
      seconds: (performance.now() - started) / 1000,
      peer: 'Slurm floor (no hub)',
    };
  } finally {
    if (hub) {
      await hub.stop();
      await hub.dispose();
    }
    await listener.close();
    const left = await cancelRunJobs(env.sshUser).catch(() => -1);
    if (left) log(`slurm: warning: ${left < 0 ? 'could not cancel' : `${left} jobs of this run still listed after`} scancel -n ${JOB_NAME.hub} / ${JOB_NAME.floor}`);
    removeCountingSqueue();
    if (!opts.keep) rmSync(job.dir, { recursive: true, force: true });
    if (resized) log('slurm: restoring the test node to up.sh defaults');
    if (resized) await restoreDefaultNode().catch((err: Error) => log(`slurm: warning: could not restore the node (run scripts/slurm-test-env/up.sh): ${err.message}`));
  }
}

runIfMain(import.meta.url, slurmBench);
