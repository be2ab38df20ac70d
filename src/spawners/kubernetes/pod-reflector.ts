/**
 * The shared watches of the Kubernetes spawner: ONE list+watch of the hub's
 * pods per namespace (or of all namespaces, with user namespaces) and one of
 * pod events, for all users — a poll reads the cache and makes no request.
 * The loop itself (reconnect, 410 re-list, resync, backoff) is list-watch.ts.
 */
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeApi } from './kube-api.js';
import { ListWatch, objectKey, type ChangeType } from './list-watch.js';

/** The options of both reflectors. */
export interface ReflectorOptions {
  /** The namespace watched; undefined: all namespaces. */
  namespace: string | undefined;
  /** A re-list even when nothing went wrong, in ms (`watch_resync_seconds` × 1000). */
  resyncMs: number;
  log: Logger;
  /** The longest wait between attempts after failures (default 30 s). */
  maxBackoffMs?: number;
  /** The first wait after a failure (default 500 ms). */
  minBackoffMs?: number;
}

/**
 * One shared list+watch of pods per namespace (or all namespaces), reconnecting
 * with bounded backoff, re-listing on 410 Gone and every `resyncMs`;
 * `requests` counts the API calls it made.
 */
export class PodReflector {
  private readonly lw: ListWatch<V1Pod>;

  constructor(api: KubeApi, opts: ReflectorOptions & { labelSelector: string }) {
    this.lw = new ListWatch<V1Pod>({
      list: () => api.listPods(opts.namespace, opts.labelSelector),
      watch: (rv, onEvent) => api.watchPods(opts.namespace, opts.labelSelector, rv, onEvent),
      resyncMs: opts.resyncMs,
      log: opts.log,
      minBackoffMs: opts.minBackoffMs,
      maxBackoffMs: opts.maxBackoffMs,
      what: 'pods',
    });
  }

  /** Starts listing and watching; resolves after the first list attempt (on failure it retries in the background, `synced` false). */
  start(): Promise<void> {
    return this.lw.start();
  }
  /** Stops the watch and every timer. */
  stop(): Promise<void> {
    return this.lw.stop();
  }
  /** The cached pod, with no API call. */
  get(namespace: string, name: string): V1Pod | undefined {
    return this.lw.get(objectKey(namespace, name));
  }
  /** true once listed and the watch is live; false while reconnecting (polls then answer unknown rather than stopped). */
  get synced(): boolean {
    return this.lw.synced;
  }
  /** Calls `listener` on every change of a pod; returns the unsubscribe. */
  onChange(listener: (pod: V1Pod, type: ChangeType) => void): () => void {
    return this.lw.onChange(listener);
  }
  /** The API calls made so far. */
  get requests(): number {
    return this.lw.requests;
  }
}

/** The field selector of the events reflector: events about pods. */
export const POD_EVENT_FIELD_SELECTOR = 'involvedObject.kind=Pod';

/**
 * One shared list+watch of pod events (`involvedObject.kind=Pod`) per namespace
 * (or all namespaces), feeding spawn progress. `onEvent` is called for every new
 * or changed event, including those of the first list and of re-lists that
 * differ from the cache (listeners filter by pod and time).
 */
export class EventReflector {
  private readonly lw: ListWatch<CoreV1Event>;

  constructor(api: KubeApi, opts: ReflectorOptions) {
    this.lw = new ListWatch<CoreV1Event>({
      list: () => api.listEvents(opts.namespace, POD_EVENT_FIELD_SELECTOR),
      watch: (rv, onEvent) => api.watchEvents(opts.namespace, POD_EVENT_FIELD_SELECTOR, rv, onEvent),
      resyncMs: opts.resyncMs,
      log: opts.log,
      minBackoffMs: opts.minBackoffMs,
      maxBackoffMs: opts.maxBackoffMs,
      what: 'events',
    });
  }

  /** Starts listing and watching; resolves after the first list attempt. */
  start(): Promise<void> {
    return this.lw.start();
  }
  /** Stops the watch and every timer. */
  stop(): Promise<void> {
    return this.lw.stop();
  }
  /** true once listed and the watch is live. */
  get synced(): boolean {
    return this.lw.synced;
  }
  /** Calls `listener` on every added or changed event; returns the unsubscribe. */
  onEvent(listener: (e: CoreV1Event) => void): () => void {
    return this.lw.onChange((e, type) => {
      if (type !== 'DELETED') listener(e);
    });
  }
  /** The API calls made so far. */
  get requests(): number {
    return this.lw.requests;
  }
}
