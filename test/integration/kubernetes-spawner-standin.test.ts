/**
 * The Kubernetes spawner for real, through @kubernetes/client-node, against the
 * spec-checked API stand-in (test/helpers/k8s-standin.ts): a pod that runs and
 * answers HTTP, progress from events in order, each failure's sentence, polls
 * that make no API request, a 410 relist, stop, a restarted hub re-attaching,
 * and no request the stand-in refused.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { SpawnError } from '../../src/lib/errors.js';
import { createSpawner } from '../../src/spawners/registry.js';
import type { PollResult, ProgressEvent, Spawner, SpawnerState, SpawnRequest, StartResult } from '../../src/spawners/spawner.js';
import { startK8sStandin, type K8sStandin } from '../helpers/k8s-standin.js';

const log = pino({ level: 'silent' });
const IMAGE = 'quay.io/jupyter/base-notebook:2025-01-06';
const NS = 'default';

let standin: K8sStandin;
const spawners: Spawner[] = [];
/** Requests the stand-in refused (kept across resetCounts). */
const refused: string[] = [];
function noteRefused(): void {
  for (const r of standin.requests) if ([400, 401, 403, 422].includes(r.status)) refused.push(`${r.method} ${r.path} ${r.status}`);
}

function makeSpawner(): Spawner {
  const config = validateConfig({
    spawner: { kind: 'kubernetes', kube_config: standin.kubeconfigPath, namespace: NS, image: IMAGE, mem_limit: '1G', storage_pvc_ensure: true, request_timeout: 5 },
  }).spawner;
  const s = createSpawner(config, { log, name: 'default', now: Date.now, fetch: globalThis.fetch, dataDir: os.tmpdir() });
  spawners.push(s);
  return s;
}

interface Started {
  progress: ProgressEvent[];
  saved: SpawnerState[];
  result: Promise<StartResult>;
  abort: AbortController;
}

function start(spawner: Spawner, user: string, server = '', resumeState?: SpawnerState): Started {
  const progress: ProgressEvent[] = [];
  const saved: SpawnerState[] = [];
  const abort = new AbortController();
  const req: SpawnRequest = {
    user: { name: user, admin: false, groups: [] },
    serverName: server,
    backend: 'default',
    env: { JUPYTERHUB_API_TOKEN: `token-of-${user}-0123456789`, JUPYTERHUB_USER: user },
    userOptions: {},
    workDir: os.tmpdir(),
    log,
    saveState: (s) => {
      saved.push(structuredClone(s));
      return Promise.resolve();
    },
    progress: (e) => progress.push(e),
    reportedPort: () => Promise.resolve(undefined),
    signal: abort.signal,
    ...(resumeState ? { resumeState } : {}),
  };
  const result = spawner.start(req);
  result.catch(() => undefined);
  return { progress, saved, result, abort };
}

async function pollUntil(spawner: Spawner, state: SpawnerState, ok: (p: PollResult) => boolean, what: string): Promise<PollResult> {
  let last: PollResult | undefined;
  for (let i = 0; i < 200; i++) {
    last = await spawner.poll(state, { log });
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what} (last poll ${JSON.stringify(last)})`);
}

async function failure(s: Started): Promise<SpawnError> {
  const err = await s.result.then(
    () => assert.fail('the spawn succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SpawnError, String(err));
  return err;
}

describe('kubernetes spawner against the API stand-in', () => {
  let spawner: Spawner;
  let alice: StartResult;

  before(async () => {
    standin = await startK8sStandin({ stepMs: 20 });
    spawner = makeSpawner();
    await spawner.init?.();
  });

  after(async () => {
    await Promise.allSettled(spawners.map((s) => s.close?.()));
    await standin.close();
  });

  it('the pod runs, its URL answers HTTP, and the events become progress in order', async () => {
    const s = start(spawner, 'alice');
    alice = await s.result;
    const res = await fetch(alice.url);
    await res.arrayBuffer();
    assert.ok(res.status < 500, `the server answers (${res.status})`);
    const messages = s.progress.map((p) => p.message);
    const order = [/^Created volume claim claim-alice$/, /^Created pod jupyter-alice in namespace default$/, /^Scheduled on node /, new RegExp(`^Pulling image ${IMAGE.replace(/[.]/g, '\\.')}`), /^Pulled image /, /^Started the server's container$/];
    let at = -1;
    for (const re of order) {
      const i = messages.findIndex((m, j) => j > at && re.test(m));
      assert.ok(i > at, `${re} after position ${at} in ${JSON.stringify(messages)}`);
      at = i;
    }
    const pct = s.progress.map((p) => p.progress);
    assert.deepEqual(pct, [...pct].sort((a, b) => a - b), 'progress never goes back');
    assert.equal(alice.state['secret'], 'jupyter-alice');
    assert.equal(alice.state['pvc'], 'claim-alice');
  });

  it('unschedulable: the scheduler\'s message is shown, and the start ends when the signal gives up', async () => {
    standin.setScenario('jupyter-nonode', 'unschedulable');
    const s = start(spawner, 'nonode');
    for (let i = 0; i < 200 && !s.progress.some((p) => p.message.startsWith('Waiting for a node')); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(s.progress.some((p) => /^Waiting for a node: 0\/3 nodes are available: 3 Insufficient cpu\./.test(p.message)), JSON.stringify(s.progress));
    s.abort.abort();
    const err = await failure(s);
    assert.match(err.message, /Gave up waiting for pod jupyter-nonode .*the scheduler finds no node for it: 0\/3 nodes are available/);
    await pollUntil(spawner, s.saved.at(-1)!, (p) => p.status === 'stopped', 'the pod removed');
  });

  it('an image pull failure names the image', async () => {
    standin.setScenario('jupyter-nopull', 'image-pull-fail');
    const err = await failure(start(spawner, 'nopull'));
    assert.equal(err.reason, 'image-pull');
    assert.ok(err.message.includes(IMAGE), err.message);
  });

  it('OOM: OOM-killed with the memory limit (in the start or in the poll)', async () => {
    standin.setScenario('jupyter-oom', 'oom');
    const s = start(spawner, 'oom');
    const out = await s.result.then(
      (r) => r,
      (e: unknown) => e,
    );
    if (out instanceof Error) {
      assert.ok(out instanceof SpawnError);
      assert.match(out.message, /OOM-killed \(memory limit 1073741824\)/);
    } else {
      const p = await pollUntil(spawner, (out as StartResult).state, (x) => x.status === 'stopped', 'the OOM kill');
      assert.match(String((p as { reason?: string }).reason), /OOM-killed \(memory limit 1073741824\)/);
      await spawner.stop((out as StartResult).state, { log });
    }
  });

  it('crash loop: its sentence (in the start or in the poll)', async () => {
    standin.setScenario('jupyter-crashy', 'crash-loop');
    const s = start(spawner, 'crashy');
    const out = await s.result.then(
      (r) => r,
      (e: unknown) => e,
    );
    if (out instanceof Error) {
      assert.ok(out instanceof SpawnError);
      assert.match(out.message, /keeps crashing|ended \(Failed\)/);
    } else {
      const p = await pollUntil(spawner, (out as StartResult).state, (x) => x.status === 'stopped', 'the crash loop');
      assert.match(String((p as { reason?: string }).reason), /crash/i);
      await spawner.stop((out as StartResult).state, { log });
    }
  });

  it('polls of many servers make no API request; after expireWatches the relisted cache is still right', async () => {
    const others = await Promise.all(['bob', 'carol', 'dave'].map((u) => start(spawner, u).result));
    const states = [alice.state, ...others.map((r) => r.state)];
    noteRefused();
    standin.resetCounts();
    for (let i = 0; i < 100; i++) for (const st of states) assert.equal((await spawner.poll(st, { log })).status, 'running');
    assert.deepEqual(standin.requests, [], 'no request for 400 polls');
    standin.expireWatches();
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(standin.counts.list >= 1, `a relist after 410 (${JSON.stringify(standin.counts)})`);
    for (const st of states) assert.equal((await pollUntil(spawner, st, (p) => p.status !== 'unknown', 'synced again')).status, 'running');
    await standin.deleteOutside(NS, 'jupyter-dave');
    await pollUntil(spawner, others[2]!.state, (p) => p.status === 'stopped', 'dave\'s pod deleted outside');
    await spawner.stop(others[2]!.state, { log });
  });

  it('stop removes pod and secret and keeps the claim; a new spawner (hub restart) re-attaches from the saved state', async () => {
    const restarted = makeSpawner();
    await restarted.init?.();
    assert.equal((await restarted.poll(alice.state, { log })).status, 'running');
    await restarted.stop(alice.state, { log });
    assert.equal(standin.get('pods', NS, 'jupyter-alice'), undefined);
    assert.equal(standin.get('secrets', NS, 'jupyter-alice'), undefined);
    assert.ok(standin.get('persistentvolumeclaims', NS, 'claim-alice'), 'the claim stays');
    assert.equal((await pollUntil(spawner, alice.state, (p) => p.status === 'stopped', 'the first spawner sees it go')).status, 'stopped');
    await restarted.close?.();
  });

  it('a start resumed by a restarted hub waits for the pod the state names', async () => {
    const first = start(spawner, 'erin');
    for (let i = 0; i < 200 && !first.saved.some((st) => st['pod']); i++) await new Promise((r) => setTimeout(r, 10));
    const saved = first.saved.at(-1)!;
    const restarted = makeSpawner();
    await restarted.init?.();
    const resumed = await start(restarted, 'erin', '', saved).result;
    assert.equal(resumed.state['pod'], 'jupyter-erin');
    await first.result.catch(() => undefined);
    await restarted.stop(resumed.state, { log });
    await restarted.close?.();
  });

  it('the stand-in refused no request', () => {
    noteRefused();
    assert.deepEqual(refused, []);
  });
});
