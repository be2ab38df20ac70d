/**
 * An in-memory KubeApi for the Kubernetes spawner's unit tests: it keeps
 * pods, secrets, claims and namespaces, refuses duplicates (409) and names
 * no Kubernetes object can have (422), serves pod and event watches, and lets
 * the test move pods through their phases and emit kubelet/scheduler events
 * the way a cluster would. It records every call in order (`calls`). The
 * spec-checked API stand-in is another helper.
 */
import type { CoreV1Event, V1ContainerState, V1Namespace, V1ObjectMeta, V1PersistentVolumeClaim, V1Pod, V1Secret } from '@kubernetes/client-node';
import { KubeApiError, type KubeApi, type KubeList, type WatchEvent, type WatchHandle } from '../../src/spawners/kubernetes/kube-api.js';

const SUBDOMAIN = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

interface Watcher<T> {
  namespace: string | undefined;
  onEvent: (e: WatchEvent<T>) => void;
}

export class KubeApiFake implements KubeApi {
  readonly pods = new Map<string, V1Pod>();
  readonly secrets = new Map<string, V1Secret>();
  readonly pvcs = new Map<string, V1PersistentVolumeClaim>();
  readonly namespaces = new Map<string, V1Namespace>();
  /** Every call, e.g. `createPod ns/name`. */
  readonly calls: string[] = [];
  /** The next call of that method throws this error instead. */
  readonly failNext = new Map<keyof KubeApi, KubeApiError>();
  /** While true, deleted pods stay (terminating) until {@link finishDeletes}. */
  holdDeletes = false;
  private rv = 0;
  private uid = 0;
  private podWatchers = new Set<Watcher<V1Pod>>();
  private eventWatchers = new Set<Watcher<CoreV1Event>>();
  private held: string[] = [];

  private call(method: keyof KubeApi, what: string): void {
    this.calls.push(`${method} ${what}`);
    const err = this.failNext.get(method);
    if (err) {
      this.failNext.delete(method);
      throw err;
    }
  }

  private next(): string {
    return String(++this.rv);
  }

  /** The calls of one method (their `ns/name`). */
  callsOf(method: keyof KubeApi): string[] {
    return this.calls.filter((c) => c.startsWith(`${method} `)).map((c) => c.slice(method.length + 1));
  }

  // ---- pods ----

  createPod(namespace: string, pod: V1Pod): Promise<V1Pod> {
    const name = pod.metadata?.name ?? '';
    this.call('createPod', `${namespace}/${name}`);
    checkName(name, SUBDOMAIN, 'pod');
    const key = `${namespace}/${name}`;
    if (this.pods.has(key)) return Promise.reject(new KubeApiError(`pods "${name}" already exists`, 409, 'AlreadyExists'));
    const stored: V1Pod = structuredClone(pod);
    stored.metadata = { ...stored.metadata, name, namespace, uid: `uid-${++this.uid}`, resourceVersion: this.next() };
    stored.status = { phase: 'Pending' };
    this.pods.set(key, stored);
    this.emitPod('ADDED', stored);
    return Promise.resolve(structuredClone(stored));
  }

  deletePod(namespace: string, name: string): Promise<void> {
    this.call('deletePod', `${namespace}/${name}`);
    const key = `${namespace}/${name}`;
    const pod = this.pods.get(key);
    if (!pod) return Promise.reject(new KubeApiError(`pods "${name}" not found`, 404, 'NotFound'));
    if (this.holdDeletes) {
      this.held.push(key);
      this.mutate(namespace, name, (p) => (p.metadata!.deletionTimestamp = new Date()));
    } else this.removePod(namespace, name);
    return Promise.resolve();
  }

  readPod(namespace: string, name: string): Promise<V1Pod | undefined> {
    this.call('readPod', `${namespace}/${name}`);
    return Promise.resolve(this.pods.get(`${namespace}/${name}`));
  }

  listPods(namespace: string | undefined, labelSelector: string): Promise<KubeList<V1Pod>> {
    this.call('listPods', namespace ?? '*');
    const items = [...this.pods.values()].filter((p) => (namespace === undefined || p.metadata?.namespace === namespace) && matches(p, labelSelector));
    return Promise.resolve({ items: structuredClone(items), resourceVersion: String(this.rv) });
  }

  watchPods(namespace: string | undefined, _labelSelector: string, _rv: string, onEvent: (e: WatchEvent<V1Pod>) => void): Promise<WatchHandle> {
    this.call('watchPods', namespace ?? '*');
    return Promise.resolve(this.watch(this.podWatchers, { namespace, onEvent }));
  }

  listEvents(namespace: string | undefined): Promise<KubeList<CoreV1Event>> {
    this.call('listEvents', namespace ?? '*');
    return Promise.resolve({ items: [], resourceVersion: String(this.rv) });
  }

  watchEvents(namespace: string | undefined, _fieldSelector: string, _rv: string, onEvent: (e: WatchEvent<CoreV1Event>) => void): Promise<WatchHandle> {
    this.call('watchEvents', namespace ?? '*');
    return Promise.resolve(this.watch(this.eventWatchers, { namespace, onEvent }));
  }

  private watch<T>(set: Set<Watcher<T>>, w: Watcher<T>): WatchHandle {
    set.add(w);
    let end: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (end = resolve));
    return {
      done,
      abort: () => {
        set.delete(w);
        end();
      },
    };
  }

  // ---- secrets, claims, namespaces ----

  createSecret(namespace: string, secret: V1Secret): Promise<V1Secret> {
    return this.create('createSecret', this.secrets, namespace, secret, 'secrets');
  }

  deleteSecret(namespace: string, name: string): Promise<void> {
    return this.remove('deleteSecret', this.secrets, namespace, name, 'secrets');
  }

  createPvc(namespace: string, pvc: V1PersistentVolumeClaim): Promise<V1PersistentVolumeClaim> {
    return this.create('createPvc', this.pvcs, namespace, pvc, 'persistentvolumeclaims');
  }

  readPvc(namespace: string, name: string): Promise<V1PersistentVolumeClaim | undefined> {
    this.call('readPvc', `${namespace}/${name}`);
    return Promise.resolve(this.pvcs.get(`${namespace}/${name}`));
  }

  listPvcs(namespace: string | undefined, labelSelector: string): Promise<KubeList<V1PersistentVolumeClaim>> {
    this.call('listPvcs', namespace ?? '*');
    const items = [...this.pvcs.values()].filter((p) => (namespace === undefined || p.metadata?.namespace === namespace) && matches(p, labelSelector));
    return Promise.resolve({ items: structuredClone(items), resourceVersion: String(this.rv) });
  }

  deletePvc(namespace: string, name: string): Promise<void> {
    return this.remove('deletePvc', this.pvcs, namespace, name, 'persistentvolumeclaims');
  }

  readNamespace(name: string): Promise<V1Namespace | undefined> {
    this.call('readNamespace', name);
    return Promise.resolve(this.namespaces.get(name));
  }

  createNamespace(ns: V1Namespace): Promise<V1Namespace> {
    const name = ns.metadata?.name ?? '';
    this.call('createNamespace', name);
    checkName(name, LABEL, 'namespace');
    if (this.namespaces.has(name)) return Promise.reject(new KubeApiError(`namespaces "${name}" already exists`, 409, 'AlreadyExists'));
    this.namespaces.set(name, structuredClone(ns));
    return Promise.resolve(ns);
  }

  private create<T extends { metadata?: { name?: string } }>(method: keyof KubeApi, map: Map<string, T>, namespace: string, obj: T, kind: string): Promise<T> {
    const name = obj.metadata?.name ?? '';
    this.call(method, `${namespace}/${name}`);
    checkName(name, SUBDOMAIN, kind);
    const key = `${namespace}/${name}`;
    if (map.has(key)) return Promise.reject(new KubeApiError(`${kind} "${name}" already exists`, 409, 'AlreadyExists'));
    map.set(key, structuredClone(obj));
    return Promise.resolve(obj);
  }

  private remove(method: keyof KubeApi, map: Map<string, unknown>, namespace: string, name: string, kind: string): Promise<void> {
    this.call(method, `${namespace}/${name}`);
    if (!map.delete(`${namespace}/${name}`)) return Promise.reject(new KubeApiError(`${kind} "${name}" not found`, 404, 'NotFound'));
    return Promise.resolve();
  }

  // ---- the test drives the cluster ----

  pod(namespace: string, name: string): V1Pod | undefined {
    return this.pods.get(`${namespace}/${name}`);
  }

  /** Changes a pod as the kubelet or scheduler would (MODIFIED). */
  mutate(namespace: string, name: string, change: (p: V1Pod) => void): void {
    const p = this.pods.get(`${namespace}/${name}`);
    if (!p) throw new Error(`no pod ${namespace}/${name}`);
    change(p);
    p.metadata!.resourceVersion = this.next();
    this.emitPod('MODIFIED', p);
  }

  /** The pod goes away (deleted by anyone; DELETED). */
  removePod(namespace: string, name: string): void {
    const p = this.pods.get(`${namespace}/${name}`);
    if (!p) return;
    this.pods.delete(`${namespace}/${name}`);
    this.emitPod('DELETED', p);
  }

  /** Ends held (terminating) pods. */
  finishDeletes(): void {
    for (const key of this.held.splice(0)) {
      const [ns, name] = key.split('/') as [string, string];
      this.removePod(ns, name);
    }
  }

  schedule(namespace: string, name: string, node: string): void {
    this.mutate(namespace, name, (p) => {
      p.spec!.nodeName = node;
      p.status = { ...p.status, conditions: [{ type: 'PodScheduled', status: 'True' }] };
    });
    this.event(namespace, name, 'Scheduled', `Successfully assigned ${namespace}/${name} to ${node}`);
  }

  unschedulable(namespace: string, name: string, message: string): void {
    this.mutate(namespace, name, (p) => (p.status = { ...p.status, phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }] }));
    this.event(namespace, name, 'FailedScheduling', message);
  }

  /** Sets the notebook container's state (and lastState). */
  container(namespace: string, name: string, state: V1ContainerState, lastState?: V1ContainerState, phase?: string): void {
    this.mutate(namespace, name, (p) => {
      const image = p.spec?.containers[0]?.image ?? '';
      p.status = { ...p.status, ...(phase ? { phase } : {}), containerStatuses: [{ name: 'notebook', image, imageID: '', ready: !!state.running, restartCount: 0, state, ...(lastState ? { lastState } : {}) }] };
    });
  }

  run(namespace: string, name: string, ip: string): void {
    this.mutate(namespace, name, (p) => (p.status = { ...p.status, phase: 'Running', podIP: ip }));
    this.container(namespace, name, { running: { startedAt: new Date() } });
  }

  /** An event about pod `namespace/name` (its current uid, unless `uid` is given). */
  event(namespace: string, name: string, reason: string, message: string, uid = this.pods.get(`${namespace}/${name}`)?.metadata?.uid): void {
    const e: CoreV1Event = {
      metadata: { name: `${name}.${this.next()}`, namespace },
      involvedObject: { kind: 'Pod', name, namespace, ...(uid ? { uid } : {}) },
      reason,
      message,
      type: 'Normal',
    };
    for (const w of this.eventWatchers) if (w.namespace === undefined || w.namespace === namespace) w.onEvent({ type: 'ADDED', object: structuredClone(e) });
  }

  private emitPod(type: 'ADDED' | 'MODIFIED' | 'DELETED', p: V1Pod): void {
    for (const w of this.podWatchers) if (w.namespace === undefined || w.namespace === p.metadata?.namespace) w.onEvent({ type, object: structuredClone(p) });
  }
}

function checkName(name: string, re: RegExp, kind: string): void {
  if (!re.test(name)) throw new KubeApiError(`${kind} name ${JSON.stringify(name)} is invalid`, 422, 'Invalid');
}

function matches(p: { metadata?: V1ObjectMeta }, selector: string): boolean {
  const labels = p.metadata?.labels ?? {};
  return selector.split(',').every((kv) => {
    const [k, v] = kv.split('=');
    return k === undefined || labels[k] === v;
  });
}
