/**
 * The Kubernetes spawner over an in-memory KubeApi (test/helpers/kube-api-fake.ts):
 * what it creates and in which order, the state it saves, the progress it
 * shows from pod events, each failure's sentence and clean-up, polls from
 * the shared cache, stop, the user's claim across servers, resume after a
 * restart, a leftover pod of the same name, and hostile user names. The run
 * against the spec-checked API stand-in is another test.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Value } from '@sinclair/typebox/value';
import { ConfigError, HubError, SpawnError } from '../../src/lib/errors.js';
import { KubeApiError } from '../../src/spawners/kubernetes/kube-api.js';
import { KubernetesSpawnerSchema, type KubernetesSpawnerConfig } from '../../src/spawners/kubernetes/kubernetes-config.js';
import { KubernetesSpawner } from '../../src/spawners/kubernetes/kubernetes-spawner.js';
import type { ProgressEvent, SpawnerState, SpawnRequest, StartResult } from '../../src/spawners/spawner.js';
import { KubeApiFake } from '../helpers/kube-api-fake.js';

const TOKEN = 'hubapitoken-SECRET-0123456789';
const NS = 'hub';
const log = pino({ level: 'silent' });

function config(more: Partial<KubernetesSpawnerConfig> = {}): KubernetesSpawnerConfig {
  return Value.Default(KubernetesSpawnerSchema, { kind: 'kubernetes', namespace: NS, image: 'quay.io/jupyter/base-notebook:2025-01-06', request_timeout: 1, ...more }) as KubernetesSpawnerConfig;
}

interface Spawn {
  req: SpawnRequest;
  progress: ProgressEvent[];
  saved: SpawnerState[];
  /** `api.calls.length` when each state was saved. */
  savedAt: number[];
  abort: AbortController;
  result: Promise<StartResult>;
}

/** Every spawner a test made, closed after it even when it fails (an open reflector would keep the process alive). */
const opened: KubernetesSpawner[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

async function world(more: Partial<KubernetesSpawnerConfig> = {}, api = new KubeApiFake()) {
  const spawner = new KubernetesSpawner(config(more), { log, name: 'k8s', now: Date.now, fetch, dataDir: '/nonexistent' }, api);
  opened.push(spawner);
  await spawner.init();
  return { api, spawner };
}

function spawn(spawner: KubernetesSpawner, api: KubeApiFake, opts: { user?: string; server?: string; resumeState?: SpawnerState; userOptions?: Record<string, unknown> } = {}): Spawn {
  const progress: ProgressEvent[] = [];
  const saved: SpawnerState[] = [];
  const savedAt: number[] = [];
  const abort = new AbortController();
  const req: SpawnRequest = {
    user: { name: opts.user ?? 'alice', admin: false, groups: [] },
    serverName: opts.server ?? '',
    backend: 'k8s',
    env: { JUPYTERHUB_API_TOKEN: TOKEN, JUPYTERHUB_USER: opts.user ?? 'alice' },
    userOptions: opts.userOptions ?? {},
    workDir: '/nonexistent',
    log,
    saveState: (s) => {
      saved.push(structuredClone(s));
      savedAt.push(api.calls.length);
      return Promise.resolve();
    },
    progress: (e) => progress.push(e),
    reportedPort: () => Promise.resolve(undefined),
    signal: abort.signal,
    ...(opts.resumeState ? { resumeState: opts.resumeState } : {}),
  };
  const result = spawner.start(req);
  result.catch(() => undefined);
  return { req, progress, saved, savedAt, abort, result };
}

/** Waits (bounded) until `f` is true. */
async function until(f: () => unknown, what = 'condition'): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (f()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function podOf(api: KubeApiFake, name = 'jupyter-alice', ns = NS) {
  await until(() => api.pod(ns, name), `pod ${name}`);
  return api.pod(ns, name)!;
}

async function failsWith(s: Spawn, re: RegExp, reason?: string): Promise<SpawnError> {
  const err = await s.result.then(
    () => assert.fail('the spawn succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SpawnError, String(err));
  assert.match(err.message, re);
  if (reason) assert.equal(err.reason, reason);
  return err;
}

describe('kubernetes spawner: start', () => {
  it('creates claim, secret then pod, saves state after creation, shows progress from events, answers the pod URL', async () => {
    const { api, spawner } = await world({ storage_pvc_ensure: true });
    const s = spawn(spawner, api);
    await podOf(api);
    api.schedule(NS, 'jupyter-alice', 'node-7');
    api.event(NS, 'jupyter-alice', 'Pulling', 'Pulling image "quay.io/jupyter/base-notebook:2025-01-06"');
    api.event(NS, 'jupyter-alice', 'Pulled', 'Successfully pulled image "quay.io/jupyter/base-notebook:2025-01-06" in 3.2s');
    api.event(NS, 'jupyter-alice', 'Created', 'Created container notebook');
    api.event(NS, 'jupyter-alice', 'Started', 'Started container notebook');
    api.run(NS, 'jupyter-alice', '10.1.2.3');
    const r = await s.result;
    assert.equal(r.url, 'http://10.1.2.3:8888');
    const creates = api.calls.filter((c) => /^(create|read)/.test(c));
    assert.deepEqual(creates, ['readPvc hub/claim-alice', 'createPvc hub/claim-alice', 'createSecret hub/jupyter-alice', 'createPod hub/jupyter-alice']);
    // the pod names the secret and carries no token
    const podJson = JSON.stringify(api.pod(NS, 'jupyter-alice'));
    assert.ok(podJson.includes('"secretKeyRef":{"name":"jupyter-alice"'), 'the token comes from the secret named as the pod');
    assert.ok(!podJson.includes(TOKEN));
    // state saved right after the pod's creation, then with its IP
    const podCall = api.calls.indexOf('createPod hub/jupyter-alice') + 1;
    assert.ok(s.savedAt.includes(podCall), `a save right after createPod (saves at ${s.savedAt.join(',')}, pod at ${podCall})`);
    assert.deepEqual(s.saved[0], { v: 1, pod: 'jupyter-alice', namespace: NS, secret: 'jupyter-alice', pvc: 'claim-alice' });
    assert.deepEqual(r.state, { v: 1, pod: 'jupyter-alice', namespace: NS, secret: 'jupyter-alice', pvc: 'claim-alice', uid: api.pod(NS, 'jupyter-alice')!.metadata!.uid, ip: '10.1.2.3' });
    assert.deepEqual(
      s.progress.map((p) => p.message),
      [
        'Created volume claim claim-alice',
        'Created pod jupyter-alice in namespace hub',
        'Scheduled on node node-7',
        'Pulling image quay.io/jupyter/base-notebook:2025-01-06',
        'Pulled image quay.io/jupyter/base-notebook:2025-01-06',
        "Created the server's container",
        "Started the server's container",
      ],
    );
    const pct = s.progress.map((p) => p.progress);
    assert.deepEqual(pct, [...pct].sort((a, b) => a - b), 'progress never goes back');
    await spawner.close();
  });

  it('ignores events of other pods and of an older pod of the same name', async () => {
    const { api, spawner } = await world();
    const s = spawn(spawner, api);
    await podOf(api);
    api.event(NS, 'jupyter-bob', 'Scheduled', 'Successfully assigned hub/jupyter-bob to node-1');
    api.event('other', 'jupyter-alice', 'Scheduled', 'Successfully assigned other/jupyter-alice to node-1');
    api.event(NS, 'jupyter-alice', 'Scheduled', 'Successfully assigned hub/jupyter-alice to node-1', 'uid-of-an-older-pod');
    api.run(NS, 'jupyter-alice', '10.0.0.9');
    await s.result;
    assert.ok(!s.progress.some((p) => p.message.includes('node-1')));
    await spawner.close();
  });
});

describe('kubernetes spawner: failures, each with a sentence and the objects cleaned up', () => {
  async function failing(drive: (api: KubeApiFake) => void, re: RegExp, reason: string) {
    const { api, spawner } = await world({ storage_pvc_ensure: true });
    const s = spawn(spawner, api);
    await podOf(api);
    drive(api);
    const err = await failsWith(s, re, reason);
    await until(() => !api.pod(NS, 'jupyter-alice'), 'the pod deleted');
    assert.equal(api.secrets.size, 0, 'secret deleted');
    assert.equal(api.pvcs.size, 1, 'claim kept');
    await spawner.close();
    return { err, s };
  }

  it('image pull failure names the image', async () => {
    await failing((api) => api.container(NS, 'jupyter-alice', { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "quay.io/jupyter/base-notebook:2025-01-06"' } }), /image quay\.io\/jupyter\/base-notebook:2025-01-06 of pod jupyter-alice cannot be pulled \(ImagePullBackOff/, 'image-pull');
  });

  it('ErrImagePull too', async () => {
    await failing((api) => api.container(NS, 'jupyter-alice', { waiting: { reason: 'ErrImagePull', message: 'manifest unknown' } }), /cannot be pulled \(ErrImagePull: manifest unknown\)/, 'image-pull');
  });

  it('OOM-killed', async () => {
    await failing((api) => api.container(NS, 'jupyter-alice', { running: {} }, { terminated: { exitCode: 137, reason: 'OOMKilled' } }, 'Running'), /more memory than its limit \(OOMKilled, exit code 137\)/, 'oom-killed');
  });

  it('OOM-killed with restartPolicy OnFailure (a crash loop whose last end is OOMKilled) names the memory limit', async () => {
    const { api, spawner } = await world({ mem_limit: '1G' });
    const s = spawn(spawner, api);
    await podOf(api);
    api.container(NS, 'jupyter-alice', { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } }, { terminated: { exitCode: 137, reason: 'OOMKilled' } }, 'Running');
    await failsWith(s, /OOM-killed \(memory limit 1073741824\)/, 'oom-killed');
  });

  it('a running server that OOM-loops polls stopped with the memory limit', async () => {
    const { api, spawner } = await world({ mem_limit: '2Gi' });
    const s = spawn(spawner, api);
    await podOf(api);
    api.run(NS, 'jupyter-alice', '10.0.0.2');
    const { state } = await s.result;
    api.container(NS, 'jupyter-alice', { waiting: { reason: 'CrashLoopBackOff' } }, { terminated: { exitCode: 137, reason: 'OOMKilled' } }, 'Running');
    assert.deepEqual(await spawner.poll(state, { log }), { status: 'stopped', exitCode: 137, reason: 'OOM-killed (memory limit 2Gi)' });
  });

  it('a memory amount no quantity can hold: ConfigError at construction (also from a profile), 400 naming the option from a free-text choice', async () => {
    const make = (c: KubernetesSpawnerConfig) => new KubernetesSpawner(c, { log, name: 'k8s', now: Date.now, fetch, dataDir: '/x' }, new KubeApiFake());
    assert.throws(() => make(config({ mem_limit: '2 gigs' })), (e: Error) => e instanceof ConfigError && /spawners\.k8s\.mem_limit/.test(e.message));
    const big = { display_name: 'Big', slug: 'big', kubespawner_override: { mem_limit: 'lots' } };
    assert.throws(() => make(config({ profile_list: [big] as unknown as KubernetesSpawnerConfig['profile_list'] })), (e: Error) => e instanceof ConfigError && /spawners\.k8s\.profile_list\[0\].*mem_limit/.test(e.message));
    const free = {
      display_name: 'Free',
      slug: 'free',
      profile_options: { mem: { display_name: 'Memory', choices: { small: { display_name: '1G', default: true, kubespawner_override: { mem_limit: '1G' } } }, unlisted_choice: { enabled: true, kubespawner_override: { mem_limit: '{value}' } } } },
    };
    const { api, spawner } = await world({ profile_list: [free] as unknown as KubernetesSpawnerConfig['profile_list'] });
    const options = { profile: 'free', 'mem--unlisted-choice': 'lots' };
    const ctx = { user: { name: 'alice', admin: false, groups: [] } } as unknown as Parameters<KubernetesSpawner['checkOptions']>[1];
    assert.throws(() => spawner.checkOptions(options, ctx), (e: Error) => e instanceof HubError && e.status === 400 && /mem_limit/.test(e.message), 'checkOptions');
    const s = spawn(spawner, api, { userOptions: options });
    await assert.rejects(s.result, (e: Error) => e instanceof HubError && e.status === 400 && /mem_limit/.test(e.message));
    assert.equal(api.pods.size + api.secrets.size, 0, 'nothing created');
  });

  it('a bad profile list stops the hub at start: ConfigError naming spawners.<name>', () => {
    const twice = [{ display_name: 'A', slug: 'a', default: true }, { display_name: 'B', slug: 'b', default: true }];
    assert.throws(() => new KubernetesSpawner(config({ profile_list: twice as unknown as KubernetesSpawnerConfig['profile_list'] }), { log, name: 'gpu', now: Date.now, fetch, dataDir: '/x' }, new KubeApiFake()), (e: Error) => e instanceof ConfigError && /spawners\.gpu/.test(e.message));
  });

  it('crash loop', async () => {
    await failing((api) => api.container(NS, 'jupyter-alice', { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } }, { terminated: { exitCode: 1, reason: 'Error' } }), /keeps crashing .*last exit code 1, Error.*CrashLoopBackOff/, 'crash-loop');
  });

  it('pod deleted outside the hub', async () => {
    await failing((api) => api.removePod(NS, 'jupyter-alice'), /jupyter-alice in namespace hub was deleted outside the hub/, 'pod-deleted');
  });

  it('pod Failed', async () => {
    await failing((api) => api.mutate(NS, 'jupyter-alice', (p) => (p.status = { phase: 'Failed', message: 'The node was low on resource: ephemeral-storage.' })), /Pod jupyter-alice ended \(Failed\) before the server was ready: The node was low on resource/, 'pod-ended');
  });

  it('unschedulable: the scheduler\'s message as progress, and in the error when the hub gives up', async () => {
    const { api, spawner } = await world();
    const s = spawn(spawner, api);
    await podOf(api);
    const msg = '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.';
    api.unschedulable(NS, 'jupyter-alice', msg);
    await until(() => s.progress.some((p) => p.message === `Waiting for a node: ${msg}`), 'the scheduler progress');
    s.abort.abort();
    await failsWith(s, /Gave up waiting for pod jupyter-alice in namespace hub: the scheduler finds no node for it: 0\/3 nodes are available: 3 Insufficient nvidia\.com\/gpu\./, 'timeout');
    await until(() => !api.pod(NS, 'jupyter-alice'));
    await spawner.close();
  });

  it('a container config error that passes is only progress', async () => {
    const { api, spawner } = await world();
    const s = spawn(spawner, api);
    await podOf(api);
    api.container(NS, 'jupyter-alice', { waiting: { reason: 'CreateContainerConfigError', message: 'secret "jupyter-alice" not found' } });
    await until(() => s.progress.some((p) => p.message.includes('CreateContainerConfigError')), 'the progress line');
    api.run(NS, 'jupyter-alice', '10.0.0.9');
    assert.equal((await s.result).url, 'http://10.0.0.9:8888');
    await spawner.close();
  });

  it('a pod create the API refuses: a SpawnError naming it, the secret deleted', async () => {
    const { api, spawner } = await world();
    api.failNext.set('createPod', new KubeApiError('pods is forbidden: exceeded quota', 403, 'Forbidden'));
    const s = spawn(spawner, api);
    await failsWith(s, /Kubernetes could not create pod jupyter-alice in namespace hub: pods is forbidden: exceeded quota \(Forbidden\)/, 'kube-api');
    assert.equal(api.secrets.size, 0);
    await spawner.close();
  });

  it('control characters from the API server do not reach the message', async () => {
    const { api, spawner } = await world();
    const s = spawn(spawner, api);
    await podOf(api);
    api.container(NS, 'jupyter-alice', { waiting: { reason: 'ErrImagePull', message: 'bad\n\u001b[31mred\u2028x' } });
    const err = await failsWith(s, /ErrImagePull: bad \[31mred x/);
    assert.ok(![...err.message].some((ch) => ch.charCodeAt(0) < 0x20 || ch === '\u2028'));
    await spawner.close();
  });
});

describe('kubernetes spawner: poll from the shared cache', () => {
  it('maps pending, running, terminated, missing; makes no API call', async () => {
    const { api, spawner } = await world();
    const s = spawn(spawner, api);
    await podOf(api);
    const state = s.saved[0]!;
    const before = api.calls.length;
    api.unschedulable(NS, 'jupyter-alice', '0/3 nodes are available: 3 Insufficient memory.');
    assert.deepEqual(await spawner.poll(state, { log }), { status: 'pending', reason: 'Not scheduled yet (Unschedulable): 0/3 nodes are available: 3 Insufficient memory.' });
    api.run(NS, 'jupyter-alice', '10.0.0.2');
    const { state: running } = await s.result;
    assert.deepEqual(await spawner.poll(running, { log }), { status: 'running' });
    api.container(NS, 'jupyter-alice', { terminated: { exitCode: 137, reason: 'OOMKilled' } });
    assert.deepEqual(await spawner.poll(running, { log }), { status: 'stopped', exitCode: 137, reason: 'OOM-killed (memory limit none set)' });
    api.removePod(NS, 'jupyter-alice');
    assert.deepEqual(await spawner.poll(running, { log }), { status: 'stopped' });
    assert.deepEqual(api.calls.slice(before), [], 'no API call');
    assert.deepEqual(await spawner.poll({ v: 1 }, { log }), { status: 'stopped' });
    assert.equal((await spawner.poll({ v: 1, pod: 'Bad Name', namespace: NS, secret: 'x' }, { log })).status, 'unknown');
    await spawner.close();
    assert.equal((await spawner.poll(running, { log })).status, 'unknown', 'no watch: unknown, never stopped');
  });

  it('a pod whose IP changed stays running (the route is fixed at start)', async () => {
    const { api, spawner } = await world();
    const s = spawn(spawner, api);
    await podOf(api);
    api.run(NS, 'jupyter-alice', '10.0.0.2');
    const { state } = await s.result;
    api.mutate(NS, 'jupyter-alice', (p) => (p.status!.podIP = '10.0.0.3'));
    const lines: string[] = [];
    const seen = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    assert.deepEqual(await spawner.poll(state, { log: seen }), { status: 'running' });
    assert.deepEqual(await spawner.poll(state, { log: seen }), { status: 'running' });
    assert.equal(lines.filter((l) => l.includes('new IP')).length, 1, 'one warning per change');
    assert.match(lines[0]!, /"was":"10\.0\.0\.2","now":"10\.0\.0\.3"/);
    await spawner.close();
  });
});

describe('kubernetes spawner: stop, claim, resume, collisions, names', () => {
  it('a pod recreated by someone else with the same name (another uid) is not ours: poll stopped, stop leaves it, resume fails', async () => {
    const { api, spawner } = await world();
    const s = spawn(spawner, api);
    await podOf(api);
    api.run(NS, 'jupyter-alice', '10.0.0.2');
    const { state } = await s.result;
    assert.equal(state['uid'], api.pod(NS, 'jupyter-alice')!.metadata!.uid, 'the state names the pod by uid too');
    // someone deletes our pod and creates one of the same name
    const foreign = structuredClone(api.pod(NS, 'jupyter-alice')!);
    api.removePod(NS, 'jupyter-alice');
    delete foreign.metadata!.uid;
    await api.createPod(NS, foreign);
    api.run(NS, 'jupyter-alice', '10.0.0.9');
    assert.equal((await spawner.poll(state, { log })).status, 'stopped', 'another uid: our server is gone');
    await spawner.stop(state, { log });
    assert.ok(api.pod(NS, 'jupyter-alice'), "stop does not delete someone else's pod");
    const r = spawn(spawner, api, { resumeState: state });
    await failsWith(r, /gone|deleted/);
    await spawner.close();
  });

  it('stop deletes pod and secret, keeps the claim, waits for the pod to go, and is idempotent', async () => {
    const { api, spawner } = await world({ storage_pvc_ensure: true });
    const s = spawn(spawner, api);
    await podOf(api);
    api.run(NS, 'jupyter-alice', '10.0.0.2');
    const { state } = await s.result;
    api.holdDeletes = true;
    let stopped = false;
    const stop = spawner.stop(state, { log }).then(() => (stopped = true));
    await until(() => api.callsOf('deleteSecret').length === 1);
    assert.equal(stopped, false, 'waits while the pod terminates');
    api.finishDeletes();
    await stop;
    assert.equal(api.pods.size, 0);
    assert.equal(api.secrets.size, 0);
    assert.deepEqual([...api.pvcs.keys()], ['hub/claim-alice']);
    assert.deepEqual(api.callsOf('deletePvc'), []);
    await spawner.stop(state, { log });
    await spawner.stop({ v: 1 }, { log });
    await spawner.close();
  });

  it('a stop whose pod never goes fails in bounded time', async () => {
    const { api, spawner } = await world({ request_timeout: 0.2 });
    const s = spawn(spawner, api);
    await podOf(api);
    api.run(NS, 'jupyter-alice', '10.0.0.2');
    const { state } = await s.result;
    api.holdDeletes = true;
    await assert.rejects(spawner.stop(state, { log }), /was deleted but is still there after 1\.2 s/);
    await spawner.close();
  });

  it('the claim is created once and reused by the user\'s other servers', async () => {
    // KubeSpawner 7's default claim-{user_server} gives each server its own claim; one claim per user is claim-{username}
    const { api, spawner } = await world({ storage_pvc_ensure: true, pvc_name_template: 'claim-{username}' });
    const a = spawn(spawner, api);
    await podOf(api);
    api.run(NS, 'jupyter-alice', '10.0.0.2');
    await a.result;
    const b = spawn(spawner, api, { server: 'gpu' });
    await podOf(api, 'jupyter-alice--gpu');
    api.run(NS, 'jupyter-alice--gpu', '10.0.0.3');
    const rb = await b.result;
    assert.equal(rb.state['pvc'], 'claim-alice');
    assert.deepEqual(api.callsOf('createPvc'), ['hub/claim-alice']);
    assert.equal(b.progress[0]?.message, 'Using volume claim claim-alice');
    await spawner.close();
  });

  it('deleting the user deletes their claims only with delete_pvc, and only theirs', async () => {
    for (const deletePvc of [false, true]) {
      const { api, spawner } = await world({ storage_pvc_ensure: true, pvc_name_template: 'claim-{username}', delete_pvc: deletePvc });
      const a = spawn(spawner, api);
      await podOf(api);
      api.run(NS, 'jupyter-alice', '10.0.0.2');
      await a.result;
      // a claim of another user that carries alice's slug label (a forged or colliding label) is not hers
      await api.createPvc(NS, { metadata: { name: 'claim-other', namespace: NS, labels: { 'hub.jupyter.org/username': 'alice', 'app.kubernetes.io/managed-by': 'ganymede' }, annotations: { 'hub.jupyter.org/username': 'Alice' } } });
      await spawner.deleteUser('alice', { log });
      assert.deepEqual(api.callsOf('deletePvc'), deletePvc ? ['hub/claim-alice'] : [], `delete_pvc: ${deletePvc}`);
      await spawner.close();
    }
  });

  it('a claim created by someone else meanwhile (409) is fine', async () => {
    const { api, spawner } = await world({ storage_pvc_ensure: true });
    api.failNext.set('createPvc', new KubeApiError('already exists', 409, 'AlreadyExists'));
    const s = spawn(spawner, api);
    await podOf(api);
    api.run(NS, 'jupyter-alice', '10.0.0.2');
    await s.result;
    await spawner.close();
  });

  it('resumes after a hub restart: waits for the pod the state names, creates nothing', async () => {
    const api = new KubeApiFake();
    const first = await world({}, api);
    const s = spawn(first.spawner, api);
    await podOf(api);
    const saved = s.saved.at(-1)!;
    await first.spawner.close(); // the hub goes away; the pod stays
    await failsWith(s, /stopped waiting for pod jupyter-alice .* as it shuts down/, 'hub-closing');
    assert.ok(api.pod(NS, 'jupyter-alice'), 'the pod is left for the restarted hub');
    const second = await world({}, api);
    const creates = api.callsOf('createPod').length;
    const r = spawn(second.spawner, api, { resumeState: saved });
    api.run(NS, 'jupyter-alice', '10.0.0.4');
    const res = await r.result;
    assert.equal(res.url, 'http://10.0.0.4:8888');
    assert.equal(api.callsOf('createPod').length, creates);
    assert.match(r.progress[0]!.message, /Resuming the wait for pod jupyter-alice/);
    await second.spawner.close();
  });

  it('resume of a pod that is gone fails at once and cleans up', async () => {
    const { api, spawner } = await world();
    const r = spawn(spawner, api, { resumeState: { v: 1, pod: 'jupyter-alice', namespace: NS, secret: 'jupyter-alice' } });
    await failsWith(r, /is gone: it was deleted outside the hub/, 'pod-deleted');
    await spawner.close();
  });

  it('after close nothing starts the watches again (a stop or a failing spawn during shutdown); init opens them again', async () => {
    const { api, spawner } = await world();
    const s = spawn(spawner, api);
    await podOf(api);
    const state = s.saved.at(-1)!;
    await spawner.close();
    await failsWith(s, /as it shuts down/, 'hub-closing');
    const lists = api.callsOf('listPods').length;
    await assert.rejects(spawner.stop(state, { log }), /closed/);
    await assert.rejects(spawner.start(s.req), (e: Error) => e instanceof SpawnError && e.reason === 'hub-closing');
    assert.equal(api.callsOf('listPods').length, lists, 'no new list');
    assert.equal((await spawner.poll(state, { log })).status, 'unknown');
    await spawner.init();
    assert.equal(api.callsOf('listPods').length, lists + 1);
  });

  it('a leftover pod of the same name is deleted and the create retried once', async () => {
    const api = new KubeApiFake();
    await api.createPod(NS, { metadata: { name: 'jupyter-alice', labels: { component: 'singleuser-server', 'app.kubernetes.io/managed-by': 'ganymede' } }, spec: { containers: [] } });
    const { spawner } = await world({}, api);
    const s = spawn(spawner, api);
    await until(() => api.callsOf('createPod').length === 3);
    api.run(NS, 'jupyter-alice', '10.0.0.5');
    await s.result;
    assert.deepEqual(
      api.calls.filter((c) => /Pod /.test(c)),
      ['createPod hub/jupyter-alice', 'createPod hub/jupyter-alice', 'deletePod hub/jupyter-alice', 'createPod hub/jupyter-alice'],
    );
    await spawner.close();
  });

  it('a leftover secret is replaced', async () => {
    const api = new KubeApiFake();
    await api.createSecret(NS, { metadata: { name: 'jupyter-alice' } });
    const { spawner } = await world({}, api);
    const s = spawn(spawner, api);
    await podOf(api);
    api.run(NS, 'jupyter-alice', '10.0.0.5');
    await s.result;
    assert.deepEqual(api.callsOf('deleteSecret'), ['hub/jupyter-alice']);
    await spawner.close();
  });

  for (const user of ['Ünïcode Üser', 'a/../b', 'x"<script>alert(1)</script>', '-lead.dot-', 'a'.repeat(200)]) {
    it(`hostile user name ${JSON.stringify(user.slice(0, 30))}: valid object names, the server runs`, async () => {
      const { api, spawner } = await world({ storage_pvc_ensure: true });
      const s = spawn(spawner, api, { user, server: 'My Server!' });
      await until(() => api.pods.size === 1, 'a pod');
      const [key] = [...api.pods.keys()];
      const [ns, name] = key!.split('/') as [string, string];
      assert.match(name, /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/); // a DNS-1123 subdomain (the fake refuses others: 422)
      api.run(ns, name, '10.0.0.6');
      const r = await s.result;
      assert.equal(r.state['pod'], name);
      await spawner.close();
    });
  }

  it('user namespaces: the namespace is created when missing', async () => {
    const { api, spawner } = await world({ enable_user_namespaces: true });
    const s = spawn(spawner, api);
    await podOf(api, 'jupyter-alice', 'hub-alice');
    api.run('hub-alice', 'jupyter-alice', '10.0.0.7');
    await s.result;
    assert.deepEqual(api.callsOf('createNamespace'), ['hub-alice']);
    assert.deepEqual(api.callsOf('watchPods'), ['*'], 'one watch over all namespaces');
    await spawner.close();
  });
});

describe('kubernetes spawner: options', () => {
  it('without profiles: no form, no options, any option refused naming it', async () => {
    const { api, spawner } = await world();
    const ctx = { user: { name: 'alice', admin: false, groups: [] }, authState: null };
    assert.equal(spawner.optionsForm(ctx.user), undefined);
    assert.deepEqual(spawner.checkOptions({}, ctx), {});
    assert.throws(() => spawner.checkOptions({ image: 'evil' }, ctx), (e: unknown) => e instanceof HubError && e.status === 400 && /"image"/.test(e.message));
    const s = spawn(spawner, api, { userOptions: { cpu_limit: 64 } });
    await assert.rejects(s.result, (e: unknown) => e instanceof HubError && e.status === 400 && /cpu_limit/.test(e.message));
    assert.equal(api.pods.size, 0);
    await spawner.close();
  });

  it('with profiles: the form comes from profiles.ts and the chosen profile is saved in the state', async () => {
    const profile = (slug: string, image: string) => Value.Default(KubernetesSpawnerSchema.properties.profile_list.items, { display_name: slug, slug, kubespawner_override: { image } });
    const { api, spawner } = await world({ profile_list: [profile('small', 'img/small:1'), profile('big', 'img/big:1')] as KubernetesSpawnerConfig['profile_list'] });
    const user = { name: 'alice', admin: false, groups: [] };
    assert.match(spawner.optionsForm(user) ?? '', /big/);
    assert.deepEqual(spawner.optionsFromForm({ profile: 'big' }), { profile: 'big' });
    const s = spawn(spawner, api, { userOptions: { profile: 'big' } });
    const pod = await podOf(api);
    assert.equal(pod.spec?.containers[0]?.image, 'img/big:1');
    api.run(NS, 'jupyter-alice', '10.0.0.8');
    assert.equal((await s.result).state['profile'], 'big');
    await spawner.close();
  });
});
