/** STUB (part "watch" replaces it at merge): a minimal list+watch of pods and events, no reconnect. */
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeApi, WatchHandle } from './kube-api.js';

type PodListener = (pod: V1Pod, type: 'ADDED' | 'MODIFIED' | 'DELETED') => void;

/** One shared list+watch of pods. */
export class PodReflector {
  private readonly pods = new Map<string, V1Pod>();
  private readonly listeners = new Set<PodListener>();
  private watch: WatchHandle | undefined;
  synced = false;
  requests = 0;

  constructor(
    private readonly api: KubeApi,
    private readonly opts: { namespace: string | undefined; labelSelector: string; resyncMs: number; log: Logger; maxBackoffMs?: number },
  ) {}

  async start(): Promise<void> {
    const list = await this.api.listPods(this.opts.namespace, this.opts.labelSelector);
    this.requests++;
    for (const p of list.items) this.pods.set(key(p), p);
    this.watch = await this.api.watchPods(this.opts.namespace, this.opts.labelSelector, list.resourceVersion, (e) => {
      if (e.type !== 'ADDED' && e.type !== 'MODIFIED' && e.type !== 'DELETED') return;
      if (e.type === 'DELETED') this.pods.delete(key(e.object));
      else this.pods.set(key(e.object), e.object);
      for (const l of this.listeners) l(e.object, e.type);
    });
    this.requests++;
    this.synced = true;
  }

  stop(): Promise<void> {
    this.watch?.abort();
    this.synced = false;
    return Promise.resolve();
  }

  get(namespace: string, name: string): V1Pod | undefined {
    return this.pods.get(`${namespace}/${name}`);
  }

  onChange(listener: PodListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The same for events. */
export class EventReflector {
  private readonly listeners = new Set<(e: CoreV1Event) => void>();
  private watch: WatchHandle | undefined;
  requests = 0;

  constructor(
    private readonly api: KubeApi,
    private readonly opts: { namespace: string | undefined; resyncMs: number; log: Logger; maxBackoffMs?: number },
  ) {}

  async start(): Promise<void> {
    const sel = 'involvedObject.kind=Pod';
    const list = await this.api.listEvents(this.opts.namespace, sel);
    this.watch = await this.api.watchEvents(this.opts.namespace, sel, list.resourceVersion, (e) => {
      if (e.type === 'ADDED' || e.type === 'MODIFIED') for (const l of this.listeners) l(e.object);
    });
    this.requests += 2;
  }

  stop(): Promise<void> {
    this.watch?.abort();
    return Promise.resolve();
  }

  onEvent(listener: (e: CoreV1Event) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function key(p: V1Pod): string {
  return `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`;
}
