/**
 * The Kubernetes API stand-in, driven through @kubernetes/client-node 1.4
 * itself (kubeconfig, CoreV1Api, Watch): CRUD, strict validation, watches
 * with 410 relists, pod scenarios and the real per-pod server.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, KubeConfig, Watch, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import { startK8sStandin, type K8sStandin } from '../helpers/k8s-standin.js';

const NS = 'default';
const pod = (name: string, extra: Record<string, unknown> = {}): V1Pod => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name, labels: { component: 'singleuser-server', 'app.kubernetes.io/managed-by': 'ganymede' } },
  spec: {
    restartPolicy: 'OnFailure',
    containers: [{
      name: 'notebook', image: 'quay.io/jupyter/base-notebook:2025-01-01',
      ports: [{ name: 'notebook-port', containerPort: 8888 }],
      env: [
        { name: 'JUPYTERHUB_USER', value: 'alice' },
        { name: 'JUPYTERHUB_SERVICE_URL', value: 'http://0.0.0.0:8888/user/alice/' },
        { name: 'JUPYTERHUB_API_TOKEN', valueFrom: { secretKeyRef: { name: `${name}-secret`, key: 'token' } } },
      ],
      ...extra,
    }],
  },
});
const code = (err: unknown): number => (err as { code?: number }).code ?? -1;
const body = (err: unknown): { reason?: string; message?: string; code?: number; details?: { causes?: { field: string }[] } } =>
  JSON.parse(String((err as { body?: unknown }).body)) as never;

async function until<T>(f: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Kubernetes API stand-in through @kubernetes/client-node', () => {
  let k8s: K8sStandin;
  let api: CoreV1Api;
  let kc: KubeConfig;
  const secret = async (podName: string, value: string): Promise<void> => {
    await api.createNamespacedSecret({ namespace: NS, body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${podName}-secret` }, stringData: { token: value } } });
  };
  const podEvents = async (name: string): Promise<CoreV1Event[]> =>
    (await api.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name}` })).items;

  /** A request outside client-node (with the token unless `auth` is false). */
  const raw = (method: string, path: string, payload?: unknown, auth = true): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = https.request(`${k8s.url}${path}`, { method, ca: k8s.caPem, headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: `Bearer ${k8s.token}` } : {}) } }, (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      });
      req.on('error', reject);
      req.end(payload === undefined ? undefined : JSON.stringify(payload));
    });

  before(async () => {
    k8s = await startK8sStandin({ stepMs: 10 });
    kc = new KubeConfig();
    kc.loadFromFile(k8s.kubeconfigPath);
    api = kc.makeApiClient(CoreV1Api);
  });
  let closed = false;
  after(async () => {
    if (!closed) await k8s.close();
  });

  it('creates, gets, lists and deletes with the metadata the apiserver fills', async () => {
    await secret('crud', 's3cret');
    const created = await api.createNamespacedPod({ namespace: NS, body: pod('crud') });
    assert.equal(created.kind, 'Pod');
    assert.ok(created.metadata?.uid && created.metadata.resourceVersion && created.metadata.creationTimestamp);
    assert.equal(created.metadata.namespace, NS);
    const got = await api.readNamespacedPod({ namespace: NS, name: 'crud' });
    assert.equal(got.metadata?.uid, created.metadata.uid);
    const listed = await api.listNamespacedPod({ namespace: NS, labelSelector: 'component=singleuser-server,app.kubernetes.io/managed-by=ganymede' });
    assert.ok(listed.items.some((p) => p.metadata?.name === 'crud'));
    assert.ok(Number(listed.metadata?.resourceVersion) >= Number(created.metadata.resourceVersion));
    assert.equal((await api.listNamespacedPod({ namespace: NS, labelSelector: 'component=other' })).items.length, 0);
    const all = await api.listPodForAllNamespaces({ labelSelector: 'component=singleuser-server' });
    assert.ok(all.items.some((p) => p.metadata?.name === 'crud'));
    await assert.rejects(api.createNamespacedPod({ namespace: NS, body: pod('crud') }), (e) => code(e) === 409 && body(e).reason === 'AlreadyExists');
    await api.deleteNamespacedPod({ namespace: NS, name: 'crud' });
    await until(() => !k8s.get('pods', NS, 'crud'), 'the pod to go');
    await assert.rejects(api.readNamespacedPod({ namespace: NS, name: 'crud' }), (e) => code(e) === 404 && body(e).reason === 'NotFound');
    await assert.rejects(api.createNamespacedPod({ namespace: 'nowhere', body: pod('x') }), (e) => code(e) === 404 && /namespaces "nowhere"/.test(body(e).message ?? ''));
    await api.createNamespace({ body: { metadata: { name: 'user-ns' } } });
    assert.equal((await api.readNamespace({ name: 'user-ns' })).status?.phase, 'Active');
    assert.ok(k8s.counts.create >= 2 && k8s.counts.get >= 2 && k8s.counts.list >= 3 && k8s.counts.delete === 1);
  });

  it('refuses an unknown field, a wrong type and a bad name with 422 naming the field, storing nothing', async () => {
    // client-node's serializer drops unknown fields and fixes types before sending, so bad bodies go raw.
    const before = k8s.resourceVersion;
    for (const [bad, field] of [
      [pod('bad1', { resourcez: {} }), 'spec.containers[0].resourcez'],
      [pod('bad2', { ports: [{ name: 'notebook-port', containerPort: '8888' }] }), 'containerPort'],
      [pod('Bad_Name'), 'metadata.name'],
      [{ ...pod('bad3'), metadata: { name: 'bad3', labelz: {} } }, 'metadata.labelz'],
    ] as const) {
      const answer = await raw('POST', `/api/v1/namespaces/${NS}/pods`, bad);
      assert.equal(answer.status, 422);
      const status = JSON.parse(answer.body) as { kind: string; reason: string; details: { causes: { field: string }[] } };
      assert.equal(status.kind, 'Status');
      assert.equal(status.reason, 'Invalid');
      assert.ok(status.details.causes.some((c) => c.field.includes(field)), answer.body);
    }
    assert.equal((await raw('POST', `/api/v1/namespaces/${NS}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { a: 'not base64!' } })).status, 422);
    assert.equal((await raw('POST', `/api/v1/namespaces/${NS}/pods`, { ...pod('other-ns'), metadata: { name: 'other-ns', namespace: 'kube-system' } })).status, 400);
    assert.equal(k8s.resourceVersion, before);
    assert.equal(k8s.list('pods').filter((p) => String(p.metadata.name).startsWith('bad')).length, 0);
  });

  it('refuses a request without the bearer token with 401', async () => {
    const answer = await raw('GET', '/api/v1/namespaces/default/pods', undefined, false);
    assert.equal(answer.status, 401);
    assert.equal((JSON.parse(answer.body) as { kind: string }).kind, 'Status');
  });

  it('watches ADDED, MODIFIED and DELETED in order, and a too-old resourceVersion gets 410 so the client relists', async () => {
    const list = await api.listNamespacedPod({ namespace: NS, labelSelector: 'component=singleuser-server' });
    const seen: [string, string, string | undefined][] = [];
    let doneErr: unknown = 'not done';
    const abort = await new Watch(kc).watch(`/api/v1/namespaces/${NS}/pods`, { labelSelector: 'component=singleuser-server', resourceVersion: list.metadata?.resourceVersion },
      (type, obj: V1Pod) => seen.push([type, obj.metadata?.name ?? '', obj.status?.phase]), (err) => (doneErr = err));
    await secret('w1', 'x');
    await api.createNamespacedPod({ namespace: NS, body: pod('w1') });
    await until(() => seen.some(([t, n, ph]) => t === 'MODIFIED' && n === 'w1' && ph === 'Running'), 'w1 running');
    await api.deleteNamespacedPod({ namespace: NS, name: 'w1' });
    await until(() => seen.some(([t, n]) => t === 'DELETED' && n === 'w1'), 'w1 deleted');
    const w1 = seen.filter(([, n]) => n === 'w1').map(([t]) => t);
    assert.equal(w1[0], 'ADDED');
    assert.equal(w1.at(-1), 'DELETED');
    assert.ok(w1.slice(1, -1).every((t) => t === 'MODIFIED') && w1.length >= 4);
    assert.ok(k8s.counts.watch >= 1);

    k8s.expireWatches();
    await until(() => doneErr !== 'not done', 'the watch to end');
    assert.ok(seen.some(([t]) => t === 'ERROR'), 'an ERROR event with the 410 Status');
    abort.abort();
    const errors: unknown[] = [];
    await new Promise<void>((resolve) => {
      void new Watch(kc).watch(`/api/v1/namespaces/${NS}/pods`, { resourceVersion: list.metadata?.resourceVersion }, (type, obj) => {
        if (type === 'ERROR') errors.push(obj);
      }, () => resolve());
    });
    assert.equal((errors[0] as { code: number; reason: string }).code, 410);
    assert.equal((errors[0] as { reason: string }).reason, 'Expired');
    const relisted = await api.listNamespacedPod({ namespace: NS });
    const fresh: string[] = [];
    const ctl = await new Watch(kc).watch(`/api/v1/namespaces/${NS}/pods`, { resourceVersion: relisted.metadata?.resourceVersion, timeoutSeconds: 1 }, (t) => fresh.push(t), () => {});
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(fresh, []);
    ctl.abort();
  });

  it('runs a pod: Scheduled, Pulling image, Pulled, Created, Started; the server answers at podIP:port with the env it was given', async () => {
    await secret('runner', 'the-api-token');
    await api.createNamespacedPod({ namespace: NS, body: pod('runner') });
    const running = await until(() => {
      const p = k8s.get('pods', NS, 'runner') as V1Pod | undefined;
      return p?.status?.phase === 'Running' ? p : undefined;
    }, 'runner running');
    assert.match(running.status?.podIP ?? '', /^127\.0\.\d+\.\d+$/);
    assert.ok(running.status?.containerStatuses?.[0]?.state?.running);
    const reasons = (await podEvents('runner')).map((e) => e.reason);
    assert.deepEqual(reasons, ['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']);
    assert.ok((await podEvents('runner')).some((e) => e.message === 'Pulling image "quay.io/jupyter/base-notebook:2025-01-01"'));
    const res = await fetch(`http://${running.status?.podIP}:8888/user/alice/api`);
    const served = (await res.json()) as { user: string; api_token_sha256: string };
    assert.equal(served.user, 'alice');
    assert.equal(served.api_token_sha256, createHash('sha256').update('the-api-token').digest('hex'));
    assert.equal(k8s.podEnv(NS, 'runner')?.JUPYTERHUB_API_TOKEN, 'the-api-token');
    await k8s.deleteOutside(NS, 'runner');
    await until(() => !k8s.get('pods', NS, 'runner'), 'runner deleted outside');
    await assert.rejects(fetch(`http://${running.status?.podIP}:8888/`));
  });

  it('unschedulable: stays Pending with PodScheduled False and a FailedScheduling event', async () => {
    k8s.setScenario('nosched', 'unschedulable');
    await api.createNamespacedPod({ namespace: NS, body: pod('nosched') });
    const p = await until(() => {
      const x = k8s.get('pods', NS, 'nosched') as V1Pod | undefined;
      return x?.status?.conditions?.length ? x : undefined;
    }, 'scheduling verdict');
    assert.equal(p.status?.phase, 'Pending');
    assert.deepEqual(p.status?.conditions?.map((c) => [c.type, c.status, c.reason]), [['PodScheduled', 'False', 'Unschedulable']]);
    const events = await podEvents('nosched');
    assert.equal(events[0]?.reason, 'FailedScheduling');
    assert.equal(events[0]?.message, '0/3 nodes are available: 3 Insufficient cpu.');
    assert.equal(events[0]?.type, 'Warning');
  });

  it('image-pull-fail: ErrImagePull then ImagePullBackOff, with events', async () => {
    k8s.setScenario((_ns, n) => n.startsWith('nopull'), 'image-pull-fail');
    await api.createNamespacedPod({ namespace: NS, body: pod('nopull-1') });
    await until(() => (k8s.get('pods', NS, 'nopull-1') as V1Pod | undefined)?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff', 'ImagePullBackOff');
    const events = await podEvents('nopull-1');
    assert.deepEqual(events.map((e) => e.reason), ['Scheduled', 'Pulling', 'Failed', 'Failed', 'BackOff', 'Failed']);
    assert.ok(events.some((e) => e.message === 'Error: ErrImagePull'));
    assert.ok(events.some((e) => e.message === 'Error: ImagePullBackOff'));
    assert.equal((k8s.get('pods', NS, 'nopull-1') as V1Pod).status?.phase, 'Pending');
  });

  it('oom: runs, then terminated OOMKilled exit 137 and its server gone (restartPolicy Never: Failed)', async () => {
    k8s.setScenario('oomer', 'oom');
    await secret('oomer', 't');
    const never = pod('oomer');
    never.spec!.restartPolicy = 'Never';
    await api.createNamespacedPod({ namespace: NS, body: never });
    const p = await until(() => {
      const x = k8s.get('pods', NS, 'oomer') as V1Pod | undefined;
      return x?.status?.phase === 'Failed' ? x : undefined;
    }, 'OOMKilled');
    const term = p.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(term?.reason, 'OOMKilled');
    assert.equal(term?.exitCode, 137);
    await assert.rejects(fetch(`http://${p.status?.podIP}:8888/`));
    assert.ok((await podEvents('oomer')).some((e) => e.reason === 'Started'));
  });

  it('oom with restartPolicy OnFailure, set after the pod runs: CrashLoopBackOff with OOMKilled in lastState', async () => {
    await secret('oomer2', 't');
    await api.createNamespacedPod({ namespace: NS, body: pod('oomer2') });
    await until(() => (k8s.get('pods', NS, 'oomer2') as V1Pod | undefined)?.status?.phase === 'Running', 'oomer2 running');
    k8s.setScenario('oomer2', 'oom');
    const p = await until(() => {
      const x = k8s.get('pods', NS, 'oomer2') as V1Pod | undefined;
      return x?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff' ? x : undefined;
    }, 'oomer2 restarted');
    assert.equal(p.status?.phase, 'Running');
    assert.equal(p.status?.containerStatuses?.[0]?.lastState?.terminated?.reason, 'OOMKilled');
    assert.equal(p.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 137);
  });

  it('crash-loop: CrashLoopBackOff with restarts and BackOff events', async () => {
    k8s.setScenario('looper', 'crash-loop');
    await secret('looper', 't');
    await api.createNamespacedPod({ namespace: NS, body: pod('looper') });
    const p = await until(() => {
      const x = k8s.get('pods', NS, 'looper') as V1Pod | undefined;
      return (x?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2 ? x : undefined;
    }, 'CrashLoopBackOff');
    assert.equal(p.status?.containerStatuses?.[0]?.state?.waiting?.reason, 'CrashLoopBackOff');
    assert.equal(p.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 1);
    assert.ok((await podEvents('looper')).some((e) => e.reason === 'BackOff' && e.type === 'Warning'));
  });

  it('a missing secret: CreateContainerConfigError naming it', async () => {
    await api.createNamespacedPod({ namespace: NS, body: pod('nosecret') });
    await until(() => (k8s.get('pods', NS, 'nosecret') as V1Pod | undefined)?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError', 'config error');
    assert.match((k8s.get('pods', NS, 'nosecret') as V1Pod).status?.containerStatuses?.[0]?.state?.waiting?.message ?? '', /secret "nosecret-secret" not found/);
  });

  it('setDown drops connections; close() leaves no process', async () => {
    k8s.setDown(true);
    await assert.rejects(api.listNamespacedPod({ namespace: NS }));
    k8s.setDown(false);
    await secret('last', 't');
    await api.createNamespacedPod({ namespace: NS, body: pod('last') });
    await until(() => (k8s.get('pods', NS, 'last') as V1Pod | undefined)?.status?.phase === 'Running', 'last running');
    assert.ok(k8s.runningServers >= 1);
    const ip = (k8s.get('pods', NS, 'last') as V1Pod).status?.podIP;
    await k8s.close();
    assert.equal(k8s.runningServers, 0);
    await assert.rejects(fetch(`http://${ip}:8888/`));
    closed = true;
  });
});

describe('Kubernetes API stand-in for benchmarks (realServers: false)', () => {
  it('runs 300 pods without processes; one list and one watch see them all, counted per kind', async () => {
    const k8s = await startK8sStandin({ stepMs: 1, realServers: false, tls: false });
    try {
      const kc = new KubeConfig();
      kc.loadFromFile(k8s.kubeconfigPath);
      const api = kc.makeApiClient(CoreV1Api);
      const running = new Set<string>();
      const ctl = await new Watch(kc).watch('/api/v1/pods', { labelSelector: 'component=singleuser-server', resourceVersion: k8s.resourceVersion },
        (_t, p: V1Pod) => p.status?.phase === 'Running' && running.add(p.metadata?.name ?? ''), () => {});
      for (let i = 0; i < 300; i += 50)
        await Promise.all(Array.from({ length: 50 }, (_, j) => api.createNamespacedPod({ namespace: NS, body: pod(`bench-${i + j}`, { env: [] }) })));
      await until(() => running.size === 300, '300 running', 20_000);
      assert.equal((await api.listPodForAllNamespaces({ labelSelector: 'component=singleuser-server' })).items.length, 300);
      assert.equal(k8s.runningServers, 0);
      assert.deepEqual({ ...k8s.counts }, { list: 1, watch: 1, get: 0, create: 300, delete: 0, other: 0 });
      assert.ok(k8s.requests.every((r) => r.status === 200 || r.status === 201));
      ctl.abort();
    } finally {
      await k8s.close();
    }
  });
});
