/**
 * The Kubernetes spawner (`kind: kubernetes`) against the project's API
 * stand-in (test/helpers/k8s-standin.ts: HTTPS, schema-checked bodies,
 * watches with resource versions), driven in-process through createSpawner +
 * init, as the hub drives it.
 *
 * Figures:
 *  1. API requests per poll interval with 1, 100 and 1,000 running pods
 *     (realServers: false: pods get an IP, no process). The servers are
 *     started through the spawner; each interval the benchmark polls every
 *     server's state, as the hub's poll loop does; the stand-in counts every
 *     request. Target: the same count for every number of pods.
 *  2. Requests while the API is down (setDown: every connection dropped) over a
 *     minute-scale window: bounded backoff, not a request storm.
 *  3. Spawn-to-ready overhead added by the spawner (realServers: true, a
 *     trivial server process per pod): start() until it resolves, minus the
 *     stand-in's own pod start measured in the same run (create the Secret and
 *     the Pod with client-node and watch until Running, no hub), for N
 *     sequential and N concurrent spawns; p50 / p95.
 *
 * JupyterHub + KubeSpawner cannot run here (no PyPI, no Python kubespawner,
 * no apiserver): its column holds a model from its documented design, marked
 * "not measured".
 *
 * Run: node --import tsx bench/kubernetes.ts [--quick]   (or: npm run bench:kubernetes; npm run bench -- kubernetes).
 * It runs src/ in-process, so it needs no build.
 */
import { CoreV1Api, KubeConfig, Watch, type V1Pod } from '@kubernetes/client-node';
import { Value } from '@sinclair/typebox/value';
import pino from 'pino';
import { KubernetesSpawnerSchema, type KubernetesSpawnerConfig } from '../src/spawners/kubernetes/kubernetes-config.js';
import { serverObjectNames } from '../src/spawners/kubernetes/kube-names.js';
import { podManifest, secretManifest } from '../src/spawners/kubernetes/manifests.js';
import { createSpawner } from '../src/spawners/registry.js';
import type { Spawner, SpawnerState, SpawnRequest } from '../src/spawners/spawner.js';
import { startK8sStandin, type K8sStandin } from '../test/helpers/k8s-standin.js';
import { runIfMain, type BenchOptions } from './lib/common.js';
import { sleep } from './lib/procs.js';
import { fmtMs, log, median, quantile, verdict, type BenchResult, type Figure } from './lib/report.js';

const NS = 'default';
const IMAGE = 'quay.io/jupyterhub/k8s-singleuser-sample:4.1.0';
const silent = pino({ level: 'silent' });

interface Sizes {
  pods: number[];
  intervalMs: number;
  intervals: number;
  downMs: number;
  spawns: number;
  stepMs: number;
}

function spawnerConfig(k8s: K8sStandin): KubernetesSpawnerConfig {
  return Value.Default(KubernetesSpawnerSchema, {
    kind: 'kubernetes',
    kube_config: k8s.kubeconfigPath,
    namespace: NS,
    image: IMAGE,
    request_timeout: 10,
  }) as KubernetesSpawnerConfig;
}

async function newSpawner(k8s: K8sStandin): Promise<Spawner> {
  const spawner = createSpawner(spawnerConfig(k8s), { log: silent, name: 'k8s', now: Date.now, fetch, dataDir: '/nonexistent' });
  await spawner.init?.();
  return spawner;
}

/** Starts one server through the spawner; resolves its state and the start-to-ready time. */
async function startOne(spawner: Spawner, user: string): Promise<{ state: SpawnerState; ms: number }> {
  const abort = new AbortController();
  const req: SpawnRequest = {
    user: { name: user, admin: false, groups: [] },
    serverName: '',
    backend: 'k8s',
    env: { JUPYTERHUB_API_TOKEN: `token-${user}`, JUPYTERHUB_USER: user },
    userOptions: {},
    workDir: '/nonexistent',
    log: silent,
    saveState: () => Promise.resolve(),
    progress: () => undefined,
    reportedPort: () => Promise.resolve(undefined),
    signal: abort.signal,
  };
  const timer = setTimeout(() => abort.abort(), 120_000);
  const t0 = performance.now();
  try {
    const r = await spawner.start(req);
    return { state: r.state ?? {}, ms: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function pooled<T, R>(items: T[], limit: number, work: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!);
      }
    }),
  );
  return out;
}

interface PollCount { pods: number; perInterval: number[]; roundMs: number; statuses: string }

/** Polls every state once per interval for `intervals` intervals; counts the stand-in's requests per interval. */
async function countPolls(spawner: Spawner, k8s: K8sStandin, states: SpawnerState[], s: Sizes): Promise<PollCount> {
  const perInterval: number[] = [];
  const roundMs: number[] = [];
  const statuses = new Map<string, number>();
  for (let i = 0; i < s.intervals; i++) {
    k8s.resetCounts();
    const t0 = performance.now();
    const results = await Promise.all(states.map((st) => spawner.poll(st, { log: silent })));
    roundMs.push(performance.now() - t0);
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    await sleep(Math.max(0, s.intervalMs - (performance.now() - t0)));
    perInterval.push(k8s.requests.length);
  }
  return { pods: states.length, perInterval, roundMs: median(roundMs), statuses: [...statuses].map(([k, n]) => `${n / s.intervals} ${k}`).join(', ') };
}

/** Part 1 and 2: the poll rounds with 1, 100, 1,000 pods, then an outage. */
async function pollBench(s: Sizes): Promise<{ counts: PollCount[]; down: { requests: number; windowMs: number; afterMs: number; recovered: boolean; answers: string } }> {
  const k8s = await startK8sStandin({ stepMs: 1, realServers: false });
  let spawner: Spawner | undefined;
  try {
    spawner = await newSpawner(k8s);
    const sp = spawner;
    const states: SpawnerState[] = [];
    const counts: PollCount[] = [];
    for (const n of s.pods) {
      const users = Array.from({ length: n - states.length }, (_, i) => `user${states.length + i}`);
      const t0 = performance.now();
      states.push(...(await pooled(users, 50, async (u) => (await startOne(sp, u)).state)));
      log(`kubernetes: ${states.length} pods running (${users.length} started through the spawner in ${fmtMs(performance.now() - t0)})`);
      const c = await countPolls(sp, k8s, states, s);
      log(`kubernetes: ${n} pods: requests per interval ${c.perInterval.join(', ')}; poll round ${fmtMs(c.roundMs)}; ${c.statuses}`);
      counts.push(c);
    }
    log(`kubernetes: the API down for ${s.downMs / 1000} s`);
    k8s.resetCounts();
    k8s.setDown(true);
    const downStates = new Map<string, number>();
    const t0 = performance.now();
    while (performance.now() - t0 < s.downMs) {
      for (const r of await Promise.all(states.map((st) => sp.poll(st, { log: silent })))) downStates.set(r.status, (downStates.get(r.status) ?? 0) + 1);
      await sleep(s.intervalMs);
    }
    const requests = k8s.requests.length;
    const windowMs = performance.now() - t0;
    const answers = [...downStates].map(([k, n]) => `${n} ${k}`).join(', ');
    log(`kubernetes: ${requests} requests in ${fmtMs(windowMs)} down; poll answers meanwhile: ${answers}`);
    k8s.setDown(false);
    const t1 = performance.now();
    let recovered = false;
    while (performance.now() - t1 < 60_000) {
      const r = await sp.poll(states[0]!, { log: silent });
      if (r.status === 'running') {
        recovered = true;
        break;
      }
      await sleep(100);
    }
    const afterMs = performance.now() - t1;
    log(`kubernetes: API back: polls answer running again after ${fmtMs(afterMs)}`);
    return { counts, down: { requests, windowMs, afterMs, recovered, answers } };
  } finally {
    await spawner?.close?.();
    await k8s.close();
  }
}

/** The stand-in's own pod start: Secret + Pod created by client-node, until a watch sees Running. */
async function floorOne(api: CoreV1Api, running: Map<string, () => void>, config: KubernetesSpawnerConfig, user: string): Promise<number> {
  const names = serverObjectNames(config, user, '', NS);
  const input = { config, user, server: '', names, env: { JUPYTERHUB_API_TOKEN: `token-${user}`, JUPYTERHUB_USER: user } };
  const seen = new Promise<void>((resolve) => running.set(names.pod, resolve));
  const t0 = performance.now();
  await api.createNamespacedSecret({ namespace: NS, body: secretManifest(input) });
  await api.createNamespacedPod({ namespace: NS, body: podManifest(input) });
  await Promise.race([seen, sleep(120_000).then(() => Promise.reject(new Error(`pod ${names.pod} not running within 120 s`)))]);
  return performance.now() - t0;
}

interface SpawnTimes { hubSeq: number[]; hubConc: number[]; floorSeq: number[]; floorConc: number[]; concWallMs: number }

/** Part 3: N sequential then N concurrent spawns through the spawner, and as many floor pods. */
async function spawnBench(s: Sizes): Promise<SpawnTimes> {
  const k8s = await startK8sStandin({ stepMs: s.stepMs, realServers: true });
  let spawner: Spawner | undefined;
  const kc = new KubeConfig();
  kc.loadFromFile(k8s.kubeconfigPath);
  const api = kc.makeApiClient(CoreV1Api);
  const running = new Map<string, () => void>();
  const ctl = await new Watch(kc).watch(
    `/api/v1/namespaces/${NS}/pods`,
    { labelSelector: 'component=singleuser-server', resourceVersion: k8s.resourceVersion },
    (_type: string, p: V1Pod) => {
      if (p.status?.phase === 'Running') running.get(p.metadata?.name ?? '')?.();
    },
    () => undefined,
  );
  try {
    spawner = await newSpawner(k8s);
    const sp = spawner;
    const config = spawnerConfig(k8s);
    const seq = Array.from({ length: s.spawns }, (_, i) => `seq${i}`);
    const conc = Array.from({ length: s.spawns }, (_, i) => `conc${i}`);
    const hubSeq: number[] = [];
    const floorSeq: number[] = [];
    // one warm-up of each, not counted
    await startOne(sp, 'warmhub');
    await floorOne(api, running, config, 'warmfloor');
    for (const u of seq) {
      hubSeq.push((await startOne(sp, `h${u}`)).ms);
      floorSeq.push(await floorOne(api, running, config, `f${u}`));
    }
    log(`kubernetes: ${s.spawns} sequential: spawner p50 ${fmtMs(median(hubSeq))}, floor p50 ${fmtMs(median(floorSeq))}`);
    const floorConc = await Promise.all(conc.map((u) => floorOne(api, running, config, `f${u}`)));
    const t0 = performance.now();
    const hubConc = (await Promise.all(conc.map((u) => startOne(sp, `h${u}`)))).map((r) => r.ms);
    const concWallMs = performance.now() - t0;
    log(`kubernetes: ${s.spawns} concurrent: spawner p50 ${fmtMs(median(hubConc))}, floor p50 ${fmtMs(median(floorConc))}; ${k8s.runningServers} pod servers running`);
    return { hubSeq, hubConc, floorSeq, floorConc, concWallMs };
  } finally {
    ctl.abort();
    await spawner?.close?.();
    await k8s.close();
  }
}

/**
 * The most attempts one list-watch loop can make in `windowMs` with the API down: its waits are at
 * least half of min(30 s, 0.5 s·2^(k−1)) (list-watch.ts: jitter in the upper half), one request per attempt.
 */
function backoffBound(windowMs: number): number {
  let attempts = 1;
  for (let t = 0, k = 1; ; k++) {
    t += Math.min(30_000, 500 * 2 ** (k - 1)) / 2;
    if (t > windowMs) return attempts;
    attempts++;
  }
}

const signedMs = (ms: number) => `${ms >= 0 ? '+' : ''}${ms.toFixed(1)} ms`;

const p5095 = (v: number[]) => `${fmtMs(median(v))} / ${fmtMs(quantile(v, 0.95))}`;

export async function kubernetesBench(opts: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const s: Sizes = opts.quick
    ? { pods: [1, 100, 300], intervalMs: 1000, intervals: 2, downMs: 10_000, spawns: 5, stepMs: 50 }
    : { pods: [1, 100, 1000], intervalMs: 2000, intervals: 3, downMs: 60_000, spawns: 20, stepMs: 50 };
  const { counts, down } = await pollBench(s);
  const t = await spawnBench(s);
  const flat = counts.every((c) => c.perInterval.every((n) => n === counts[0]!.perInterval[0]));
  const perMin = (down.requests / down.windowMs) * 60_000;
  // two loops: the shared pod watch and the shared event watch
  const bound = 2 * backoffBound(down.windowMs);
  const figures: Figure[] = [
    ...counts.map((c) => ({
      metric: `API requests per poll interval, ${c.pods} running pod${c.pods === 1 ? '' : 's'} (poll of every server: ${fmtMs(c.roundMs)})`,
      ganymede: `${c.perInterval.join(', ')} (${s.intervals} intervals)`,
      jupyterhub: 'model, not measured: 0 (polls read the shared reflector cache)',
      target: 'independent of the pods',
      verdict: verdict(flat),
    })),
    {
      metric: `API requests while the API is down, ${(down.windowMs / 1000).toFixed(0)} s window`,
      ganymede: `${down.requests} (${perMin.toFixed(1)} per minute); polls meanwhile: ${down.answers}; running again ${fmtMs(down.afterMs)} after it is back${down.recovered ? '' : ' (NOT recovered)'}`,
      jupyterhub: 'reported, not measured: ~4,000 per minute (kubespawner #209, a stalled event reflector)',
      target: `bounded backoff: at most ${bound} (2 watch loops, waits capped at 30 s)`,
      verdict: verdict(down.requests <= bound && down.recovered),
    },
    {
      metric: `spawn-to-ready, ${s.spawns} sequential: spawner p50 / p95 (stand-in pod start alone)`,
      ganymede: `${p5095(t.hubSeq)} (floor ${p5095(t.floorSeq)})`,
      jupyterhub: 'not measured',
    },
    {
      metric: `overhead added by the spawner, ${s.spawns} sequential: p50 / p95 minus the floor's`,
      ganymede: `${signedMs(median(t.hubSeq) - median(t.floorSeq))} / ${signedMs(quantile(t.hubSeq, 0.95) - quantile(t.floorSeq, 0.95))}`,
      jupyterhub: 'not measured',
    },
    {
      metric: `spawn-to-ready, ${s.spawns} concurrent: spawner p50 / p95 (floor), wall`,
      ganymede: `${p5095(t.hubConc)} (floor ${p5095(t.floorConc)}), wall ${fmtMs(t.concWallMs)}`,
      jupyterhub: 'not measured',
    },
    {
      metric: `overhead added by the spawner, ${s.spawns} concurrent: p50 / p95 minus the floor's`,
      ganymede: `${signedMs(median(t.hubConc) - median(t.floorConc))} / ${signedMs(quantile(t.hubConc, 0.95) - quantile(t.floorConc, 0.95))}`,
      jupyterhub: 'not measured',
    },
  ];
  const notes = [
    'JupyterHub + KubeSpawner cannot run here (no PyPI, no Python kubespawner, no apiserver): nothing of it is measured. Its column is a model from its design (contracts.md §5: one shared pod reflector and one event reflector per namespace, poll() reads the cache with no API call, so 0 requests per poll interval besides watch restarts, also independent of the pods) and the figure reported in kubespawner #209 (a stalled event reflector made about 4,000 requests a minute during a mybinder.org outage).',
    `The API is the project's stand-in (test/helpers/k8s-standin.ts, HTTPS, every body schema-checked), not a cluster: its latencies are not an apiserver's. Parts 1-2: pods without processes (stepMs 1); a poll interval here is ${s.intervalMs / 1000} s (the hub's is poll_interval), every server polled once per interval; requests counted by the stand-in (the shared pod and event watches stay open across intervals, so a healthy interval makes none).`,
    `Part 3: stepMs ${s.stepMs} (pod life steps: scheduled, pulling, pulled, created, started) and a real trivial server process per pod; "ready" = start() resolved (pod Running, seen by the shared watch); the hub's HTTP check and proxy route are not included. Floor: client-node creates the same Secret and Pod (the spawner's manifests) and a watch of the benchmark sees Running; spawner and floor alternate in the sequential part.`,
    'The spawner runs in the benchmark process (createSpawner + init, as the hub builds it), the stand-in in the same process: both share the 2 cores.',
  ];
  return {
    name: 'kubernetes',
    title: `Kubernetes spawner against the API stand-in: polls with ${s.pods.join(' / ')} pods, an outage, ${s.spawns} sequential and ${s.spawns} concurrent spawns`,
    figures,
    notes,
    seconds: (performance.now() - started) / 1000,
    peer: 'KubeSpawner (model, not measured)',
  };
}

runIfMain(import.meta.url, kubernetesBench, { usesDist: false });
