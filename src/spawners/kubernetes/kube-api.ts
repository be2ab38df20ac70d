/**
 * The Kubernetes API calls the Kubernetes spawner makes, as an interface
 * (kube-client.ts implements it with @kubernetes/client-node; tests may
 * pass a double). Every call is bounded by the back-end's `request_timeout`
 * and throws {@link KubeApiError}.
 */
import type { CoreV1Event, V1Namespace, V1PersistentVolumeClaim, V1Pod, V1Secret } from '@kubernetes/client-node';

/** A call the API refused or that did not complete: `status` is the HTTP status (0: unreachable or timed out), `reason` the Status object's reason (`AlreadyExists`, `NotFound`, `Forbidden`, `Invalid`, `Expired`). */
export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** One event of a watch (`ERROR` carries a Status, e.g. 410 Expired). */
export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** A running watch: `done` settles when the server ends it (or it fails); `abort()` ends it from our side. */
export interface WatchHandle {
  done: Promise<void>;
  abort(): void;
}

/** What list calls return: the items and the collection's resourceVersion to watch from. */
export interface KubeList<T> {
  items: T[];
  resourceVersion: string;
}

/** The calls of the Kubernetes spawner. `namespace` undefined in list/watch: all namespaces (user namespaces). */
export interface KubeApi {
  createPod(namespace: string, pod: V1Pod): Promise<V1Pod>;
  deletePod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<void>;
  readPod(namespace: string, name: string): Promise<V1Pod | undefined>;
  listPods(namespace: string | undefined, labelSelector: string): Promise<KubeList<V1Pod>>;
  watchPods(namespace: string | undefined, labelSelector: string, resourceVersion: string, onEvent: (e: WatchEvent<V1Pod>) => void): Promise<WatchHandle>;
  listEvents(namespace: string | undefined, fieldSelector: string): Promise<KubeList<CoreV1Event>>;
  watchEvents(namespace: string | undefined, fieldSelector: string, resourceVersion: string, onEvent: (e: WatchEvent<CoreV1Event>) => void): Promise<WatchHandle>;
  createPvc(namespace: string, pvc: V1PersistentVolumeClaim): Promise<V1PersistentVolumeClaim>;
  readPvc(namespace: string, name: string): Promise<V1PersistentVolumeClaim | undefined>;
  deletePvc(namespace: string, name: string): Promise<void>;
  listPvcs(namespace: string | undefined, labelSelector: string): Promise<KubeList<V1PersistentVolumeClaim>>;
  createSecret(namespace: string, secret: V1Secret): Promise<V1Secret>;
  deleteSecret(namespace: string, name: string): Promise<void>;
  readNamespace(name: string): Promise<V1Namespace | undefined>;
  createNamespace(ns: V1Namespace): Promise<V1Namespace>;
}
