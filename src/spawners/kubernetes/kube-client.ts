/**
 * {@link KubeApi} over @kubernetes/client-node 1.4: credentials from the
 * cluster, the default kubeconfig or a kubeconfig file; every call bounded by
 * `request_timeout`; every failure a {@link KubeApiError} with the HTTP status,
 * the Status reason and a sentence that never holds a credential.
 */
import { readFileSync } from 'node:fs';
import type { CoreV1Api, ConfigurationOptions, CoreV1Event, KubeConfig, RequestContext, ResponseContext, V1PersistentVolumeClaim, V1Pod, Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubernetesSpawnerConfig } from './kubernetes-config.js';
import { KubeApiError, type KubeApi, type KubeList, type WatchEvent, type WatchHandle } from './kube-api.js';
import { kubeApiErrorFrom, timedOut } from './kube-errors.js';

/**
 * The client library, loaded when a Kubernetes back-end first opens its client:
 * it is the largest package the hub uses (about 70 MB and 0.2-0.4 s to load),
 * and a hub without a Kubernetes back-end never needs it.
 */
type ClientNode = typeof import('@kubernetes/client-node');

/** Where a pod's service account keeps its namespace (in-cluster). */
export const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** Loads the credentials `kube_config` names; the hub's namespace is the service account's in-cluster, else the context's or `default`. */
function loadKubeConfig(k8s: ClientNode, config: KubernetesSpawnerConfig): { kc: KubeConfig; contextNamespace: string } {
  const kc = new k8s.KubeConfig();
  if (config.kube_config === 'in-cluster') {
    kc.loadFromCluster();
    // The service account's namespace is needed only when the `namespace` option does not name one.
    return { kc, contextNamespace: config.namespace ? config.namespace : readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim() };
  }
  if (config.kube_config === 'default') kc.loadFromDefault();
  else kc.loadFromFile(config.kube_config);
  const context = kc.getContextObject(kc.getCurrentContext());
  return { kc, contextNamespace: context?.namespace ?? 'default' };
}

/**
 * Builds the hub's {@link KubeApi} from the back-end's options.
 * `hubNamespace` is `namespace` when set, else the hub's own (see {@link loadKubeConfig}).
 * Throws a plain Error naming `kube_config` when the credentials cannot be loaded.
 */
export async function kubeApiFrom(config: KubernetesSpawnerConfig, log: Logger): Promise<{ api: KubeApi; hubNamespace: string }> {
  const k8s = await import('@kubernetes/client-node');
  let loaded: ReturnType<typeof loadKubeConfig>;
  try {
    loaded = loadKubeConfig(k8s, config);
  } catch (err) {
    throw new Error(`kube_config: the Kubernetes credentials (${config.kube_config}) could not be loaded: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (!loaded.kc.getCurrentCluster()) throw new Error(`kube_config: no current cluster in ${config.kube_config}`);
  const hubNamespace = config.namespace || loaded.contextNamespace;
  const api = new ClientNodeKubeApi(k8s, loaded.kc, config.request_timeout * 1000, Math.max(1, Math.ceil(config.watch_resync_seconds)), log);
  return { api, hubNamespace };
}

/** A per-call option of the generated client that hands the request an abort signal (the deadline's). */
function abortAfter(Observable: ClientNode['Observable'], signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(signal);
          return new Observable(Promise.resolve(ctx));
        },
        post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

class ClientNodeKubeApi implements KubeApi {
  private readonly core: CoreV1Api;
  private readonly watcher: Watch;

  constructor(
    private readonly k8s: ClientNode,
    kc: KubeConfig,
    private readonly timeoutMs: number,
    private readonly watchSeconds: number,
    private readonly log: Logger,
  ) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.watcher = new k8s.Watch(kc);
  }

  /** Runs one call with a deadline; maps every failure. `notFound` decides what a 404 becomes. */
  private async call<T>(what: string, run: (opts: ReturnType<typeof abortAfter>) => Promise<T>, notFound?: () => T): Promise<T> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(timedOut(what, this.timeoutMs));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([run(abortAfter(this.k8s.Observable, controller.signal)), deadline]);
    } catch (err) {
      if (err instanceof KubeApiError) throw err;
      if (controller.signal.aborted) throw timedOut(what, this.timeoutMs);
      const mapped = kubeApiErrorFrom(what, err);
      if (mapped.status === 404 && notFound) return notFound();
      this.log.debug({ status: mapped.status, reason: mapped.reason }, `kubernetes: ${what} failed`);
      throw mapped;
    } finally {
      clearTimeout(timer);
    }
  }

  createPod(namespace: string, pod: V1Pod) {
    return this.call(`create pod ${namespace}/${pod.metadata?.name ?? ''}`, (o) => this.core.createNamespacedPod({ namespace, body: pod }, o));
  }
  async deletePod(namespace: string, name: string, gracePeriodSeconds?: number) {
    await this.call(`delete pod ${namespace}/${name}`, (o) => this.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds }, o), () => undefined);
  }
  readPod(namespace: string, name: string) {
    return this.call<V1Pod | undefined>(`read pod ${namespace}/${name}`, (o) => this.core.readNamespacedPod({ namespace, name }, o), () => undefined);
  }
  async listPods(namespace: string | undefined, labelSelector: string): Promise<KubeList<V1Pod>> {
    const list = await this.call(`list pods in ${namespace ?? 'all namespaces'}`, (o) =>
      namespace === undefined ? this.core.listPodForAllNamespaces({ labelSelector }, o) : this.core.listNamespacedPod({ namespace, labelSelector }, o),
    );
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  }
  watchPods(namespace: string | undefined, labelSelector: string, resourceVersion: string, onEvent: (e: WatchEvent<V1Pod>) => void) {
    const path = namespace === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
    return this.watch(path, { labelSelector }, resourceVersion, onEvent);
  }
  async listEvents(namespace: string | undefined, fieldSelector: string): Promise<KubeList<CoreV1Event>> {
    const list = await this.call(`list events in ${namespace ?? 'all namespaces'}`, (o) =>
      namespace === undefined ? this.core.listEventForAllNamespaces({ fieldSelector }, o) : this.core.listNamespacedEvent({ namespace, fieldSelector }, o),
    );
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  }
  watchEvents(namespace: string | undefined, fieldSelector: string, resourceVersion: string, onEvent: (e: WatchEvent<CoreV1Event>) => void) {
    const path = namespace === undefined ? '/api/v1/events' : `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;
    return this.watch(path, { fieldSelector }, resourceVersion, onEvent);
  }
  createPvc(namespace: string, pvc: Parameters<KubeApi['createPvc']>[1]) {
    return this.call(`create volume claim ${namespace}/${pvc.metadata?.name ?? ''}`, (o) => this.core.createNamespacedPersistentVolumeClaim({ namespace, body: pvc }, o));
  }
  readPvc(namespace: string, name: string) {
    return this.call<Awaited<ReturnType<KubeApi['readPvc']>>>(`read volume claim ${namespace}/${name}`, (o) => this.core.readNamespacedPersistentVolumeClaim({ namespace, name }, o), () => undefined);
  }
  async deletePvc(namespace: string, name: string) {
    await this.call(`delete volume claim ${namespace}/${name}`, (o) => this.core.deleteNamespacedPersistentVolumeClaim({ namespace, name }, o), () => undefined);
  }
  async listPvcs(namespace: string | undefined, labelSelector: string): Promise<KubeList<V1PersistentVolumeClaim>> {
    const list = await this.call(`list volume claims in ${namespace ?? 'all namespaces'}`, (o) =>
      namespace === undefined
        ? this.core.listPersistentVolumeClaimForAllNamespaces({ labelSelector }, o)
        : this.core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector }, o),
    );
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  }
  createSecret(namespace: string, secret: Parameters<KubeApi['createSecret']>[1]) {
    return this.call(`create secret ${namespace}/${secret.metadata?.name ?? ''}`, (o) => this.core.createNamespacedSecret({ namespace, body: secret }, o));
  }
  async deleteSecret(namespace: string, name: string) {
    await this.call(`delete secret ${namespace}/${name}`, (o) => this.core.deleteNamespacedSecret({ namespace, name }, o), () => undefined);
  }
  readNamespace(name: string) {
    return this.call<Awaited<ReturnType<KubeApi['readNamespace']>>>(`read namespace ${name}`, (o) => this.core.readNamespace({ name }, o), () => undefined);
  }
  createNamespace(ns: Parameters<KubeApi['createNamespace']>[0]) {
    return this.call(`create namespace ${ns.metadata?.name ?? ''}`, (o) => this.core.createNamespace({ body: ns }, o));
  }

  /**
   * Opens a watch with Watch.watch; resolves once the server answered (bounded by the timeout).
   * The handle's `done` resolves when the server ends the stream or we abort it, and rejects
   * with a KubeApiError when the stream fails (a non-200 answer: its status, 410 reason `Expired`).
   */
  private async watch<T>(path: string, selector: Record<string, string>, resourceVersion: string, onEvent: (e: WatchEvent<T>) => void): Promise<WatchHandle> {
    const what = `watch ${path}`;
    let aborted = false;
    let settle!: { resolve: () => void; reject: (e: unknown) => void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    done.catch(() => undefined); // observed by the caller; never an unhandled rejection
    const query = { ...selector, resourceVersion: resourceVersion || undefined, allowWatchBookmarks: true, timeoutSeconds: this.watchSeconds };
    const callback = (phase: string, obj: unknown) => {
      if (aborted) return;
      if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' || phase === 'BOOKMARK' || phase === 'ERROR') onEvent({ type: phase, object: obj as T });
    };
    const finished = (err: unknown) => {
      if (aborted || !err) settle.resolve();
      else settle.reject(kubeApiErrorFrom(what, err));
    };
    const opening = this.watcher.watch(path, query, callback, finished);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timedOut(what, this.timeoutMs)), this.timeoutMs);
    });
    let controller: AbortController;
    try {
      controller = await Promise.race([opening, deadline]);
    } catch (err) {
      aborted = true;
      void opening.then((c) => c.abort(), () => undefined); // the late answer is closed at once
      throw err instanceof KubeApiError ? err : kubeApiErrorFrom(what, err);
    } finally {
      clearTimeout(timer);
    }
    return {
      done,
      abort: () => {
        aborted = true;
        controller.abort();
        settle.resolve();
      },
    };
  }
}
