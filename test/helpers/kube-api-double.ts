/**
 * A small in-memory KubeApi for the reflector tests: pods and events in maps,
 * lists with a resourceVersion, watches that the test drives (send events,
 * end, fail, send 410), failures scripted for the next N calls; every call
 * recorded. Not an API stand-in: no schemas, no phases.
 */
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { KubeApiError, type KubeApi, type KubeList, type WatchEvent, type WatchHandle } from '../../src/spawners/kubernetes/kube-api.js';

/** One open watch, driven by the test. */
export interface OpenWatch {
  kind: 'pods' | 'events';
  resourceVersion: string;
  send(type: WatchEvent<unknown>['type'], object: unknown): void;
  /** The server ends the stream cleanly. */
  end(): void;
  /** The stream fails. */
  fail(err: unknown): void;
  /** An ERROR event with a 410 Expired Status. */
  gone(): void;
  closed: boolean;
}

/** A recorded call. */
export interface Call {
  op: string;
  namespace: string | undefined;
  selector?: string;
  resourceVersion?: string;
}

/** The scriptable double. */
export class KubeApiDouble implements KubeApi {
  readonly pods = new Map<string, V1Pod>();
  readonly events = new Map<string, CoreV1Event>();
  readonly calls: Call[] = [];
  readonly watches: OpenWatch[] = [];
  version = 100;
  /** The next N list/watch calls throw this (or a 500 KubeApiError). */
  private failing: { count: number; error: () => unknown } = { count: 0, error: () => undefined };
  /** The next N watches end as soon as they open. */
  endWatchesAtOnce = 0;
  /** Called when a watch opens. */
  onWatch: ((w: OpenWatch) => void) | undefined;

  /** Makes the next `count` list/watch calls fail. */
  failNext(count: number, error: () => unknown = () => new KubeApiError('Kubernetes: unreachable (test).', 0)): void {
    this.failing = { count, error };
  }

  /** Adds a pod to the store (not sent to watches). */
  putPod(namespace: string, name: string, phase = 'Running'): V1Pod {
    const pod: V1Pod = { metadata: { namespace, name, resourceVersion: String(++this.version) }, status: { phase } };
    this.pods.set(`${namespace}/${name}`, pod);
    return pod;
  }

  /** The open watches not yet closed. */
  openWatches(): OpenWatch[] {
    return this.watches.filter((w) => !w.closed);
  }

  private maybeFail(): void {
    if (this.failing.count > 0) {
      this.failing.count -= 1;
      throw this.failing.error();
    }
  }

  listPods(namespace: string | undefined, labelSelector: string): Promise<KubeList<V1Pod>> {
    this.calls.push({ op: 'listPods', namespace, selector: labelSelector });
    return Promise.resolve().then(() => {
      this.maybeFail();
      const items = [...this.pods.values()].filter((p) => namespace === undefined || p.metadata?.namespace === namespace);
      return { items: structuredClone(items), resourceVersion: String(this.version) };
    });
  }
  listEvents(namespace: string | undefined, fieldSelector: string): Promise<KubeList<CoreV1Event>> {
    this.calls.push({ op: 'listEvents', namespace, selector: fieldSelector });
    return Promise.resolve().then(() => {
      this.maybeFail();
      return { items: structuredClone([...this.events.values()]), resourceVersion: String(this.version) };
    });
  }
  watchPods(namespace: string | undefined, labelSelector: string, resourceVersion: string, onEvent: (e: WatchEvent<V1Pod>) => void): Promise<WatchHandle> {
    this.calls.push({ op: 'watchPods', namespace, selector: labelSelector, resourceVersion });
    return this.openWatch('pods', resourceVersion, onEvent as (e: WatchEvent<unknown>) => void);
  }
  watchEvents(namespace: string | undefined, fieldSelector: string, resourceVersion: string, onEvent: (e: WatchEvent<CoreV1Event>) => void): Promise<WatchHandle> {
    this.calls.push({ op: 'watchEvents', namespace, selector: fieldSelector, resourceVersion });
    return this.openWatch('events', resourceVersion, onEvent as (e: WatchEvent<unknown>) => void);
  }

  private openWatch(kind: 'pods' | 'events', resourceVersion: string, onEvent: (e: WatchEvent<unknown>) => void): Promise<WatchHandle> {
    return Promise.resolve().then(() => {
      this.maybeFail();
      let settle!: { resolve: () => void; reject: (e: unknown) => void };
      const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      done.catch(() => undefined);
      const w: OpenWatch = {
        kind,
        resourceVersion,
        closed: false,
        send: (type, object) => {
          if (!w.closed) onEvent({ type, object } as WatchEvent<unknown>);
        },
        end: () => {
          if (w.closed) return;
          w.closed = true;
          settle.resolve();
        },
        fail: (err) => {
          if (w.closed) return;
          w.closed = true;
          settle.reject(err);
        },
        gone: () => w.send('ERROR', { kind: 'Status', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' }),
      };
      this.watches.push(w);
      if (this.endWatchesAtOnce > 0) {
        this.endWatchesAtOnce -= 1;
        queueMicrotask(() => w.end());
      }
      this.onWatch?.(w);
      return { done, abort: () => w.end() };
    });
  }

  /** Puts a pod and sends it to the open pod watches as ADDED or MODIFIED. */
  emitPod(namespace: string, name: string, phase: string): V1Pod {
    const existed = this.pods.has(`${namespace}/${name}`);
    const pod = this.putPod(namespace, name, phase);
    for (const w of this.openWatches()) if (w.kind === 'pods') w.send(existed ? 'MODIFIED' : 'ADDED', structuredClone(pod));
    return pod;
  }
  /** Removes a pod and sends DELETED to the open pod watches. */
  emitPodDeleted(namespace: string, name: string): void {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) return;
    this.pods.delete(`${namespace}/${name}`);
    const gone = { ...pod, metadata: { ...pod.metadata, resourceVersion: String(++this.version) } };
    for (const w of this.openWatches()) if (w.kind === 'pods') w.send('DELETED', gone);
  }

  count(op: string): number {
    return this.calls.filter((c) => c.op === op).length;
  }

  // The calls the reflectors never make.
  createPod(): Promise<V1Pod> {
    return Promise.reject(new Error('not in the double'));
  }
  deletePod(): Promise<void> {
    return Promise.reject(new Error('not in the double'));
  }
  readPod(): Promise<V1Pod | undefined> {
    return Promise.reject(new Error('not in the double'));
  }
  createPvc(): Promise<never> {
    return Promise.reject(new Error('not in the double'));
  }
  readPvc(): Promise<never> {
    return Promise.reject(new Error('not in the double'));
  }
  listPvcs(): Promise<never> {
    return Promise.reject(new Error('not in the double'));
  }
  deletePvc(): Promise<void> {
    return Promise.reject(new Error('not in the double'));
  }
  createSecret(): Promise<never> {
    return Promise.reject(new Error('not in the double'));
  }
  deleteSecret(): Promise<void> {
    return Promise.reject(new Error('not in the double'));
  }
  readNamespace(): Promise<never> {
    return Promise.reject(new Error('not in the double'));
  }
  createNamespace(): Promise<never> {
    return Promise.reject(new Error('not in the double'));
  }
}
