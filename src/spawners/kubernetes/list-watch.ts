/**
 * A list+watch cache of one kind of Kubernetes object (the engine of
 * PodReflector and EventReflector): list, then watch from the list's
 * resourceVersion; re-watch from the last version when a watch ends; re-list
 * on 410 Gone and every `resyncMs`; after a failure wait a bounded exponential
 * backoff with jitter, reset by the next success. One loop, one request at a
 * time, whatever the number of objects or of readers.
 */
import type { Logger } from 'pino';
import { KubeApiError, type KubeList, type WatchEvent, type WatchHandle } from './kube-api.js';

/** What changed in the cache. */
export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** The object fields the cache reads. */
interface Meta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

/** The two calls of one list+watch, and its timings. */
export interface ListWatchOptions<T> {
  list(): Promise<KubeList<T>>;
  watch(resourceVersion: string, onEvent: (e: WatchEvent<T>) => void): Promise<WatchHandle>;
  /** A re-list even when nothing went wrong, in ms (`watch_resync_seconds` × 1000). */
  resyncMs: number;
  log: Logger;
  /** The first wait after a failure (default 500 ms); it doubles per failure. */
  minBackoffMs?: number;
  /** The longest wait between attempts (default 30 s). */
  maxBackoffMs?: number;
  /** What the logs call it (`pods`, `events`). */
  what: string;
}

/** The key of an object in the cache: `namespace/name`. */
export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function keyOf(obj: Meta | null | undefined): string | undefined {
  const name = obj?.metadata?.name;
  const namespace = obj?.metadata?.namespace;
  if (typeof name !== 'string' || !name || (namespace !== undefined && typeof namespace !== 'string')) return undefined;
  return objectKey(namespace, name);
}

/** The version to watch from after an ERROR event or a failed watch: 410 means the version is gone. */
function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 410;
}

/**
 * The list+watch loop and its in-memory cache (keyed `namespace/name`; a cache
 * that a re-list rebuilds, never a source of truth).
 */
export class ListWatch<T extends Meta> {
  private readonly cache = new Map<string, T>();
  private readonly listeners = new Set<(obj: T, type: ChangeType) => void>();
  private resourceVersion = '';
  private needList = true;
  private failures = 0;
  private stopped = false;
  private live = false;
  private calls = 0;
  private handle: WatchHandle | undefined;
  private sleeping: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private loop: Promise<void> | undefined;
  private listedAt = 0;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(private readonly opts: ListWatchOptions<T>) {
    this.minBackoffMs = opts.minBackoffMs ?? 500;
    this.maxBackoffMs = Math.max(this.minBackoffMs, opts.maxBackoffMs ?? 30_000);
  }

  /**
   * True once listed and while a watch is open or being re-opened after a clean end or
   * a periodic resync (the cache is still current then); false after a failure until
   * the next watch opens, and after stop.
   */
  get synced(): boolean {
    return this.live;
  }
  /** The API calls made so far (lists and watches). */
  get requests(): number {
    return this.calls;
  }
  /** The cached object `namespace/name`, if any. */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }
  /** Every cached object. */
  values(): IterableIterator<T> {
    return this.cache.values();
  }
  /** Calls `listener` on every change (from watch events and from re-list differences); returns the unsubscribe. */
  onChange(listener: (obj: T, type: ChangeType) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts the loop; resolves after the first list attempt (a failed one is retried in the background; `synced` stays false). */
  start(): Promise<void> {
    if (this.loop) throw new Error(`the ${this.opts.what} reflector was already started`);
    let firstList!: () => void;
    const listed = new Promise<void>((resolve) => (firstList = resolve));
    this.loop = this.run(firstList).finally(firstList);
    return listed;
  }

  /** Ends the loop and the open watch; resolves when nothing is left running. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.live = false;
    this.handle?.abort();
    this.wake();
    await this.loop;
  }

  private async run(firstList: () => void): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.needList) {
          await this.relist();
          firstList();
        }
        if (this.stopped) break;
        await this.watchOnce();
      } catch (err) {
        this.live = false;
        firstList();
        if (this.stopped) break;
        if (isGone(err)) this.needList = true;
        this.failures += 1;
        const wait = this.backoffMs();
        this.opts.log.warn({ err: err instanceof Error ? err.message : String(err), retryInMs: wait }, `kubernetes: the ${this.opts.what} watch failed; retrying`);
        await this.sleep(wait);
      }
    }
    this.live = false;
  }

  /** The wait before the next attempt: min·2^(failures−1), capped, with jitter in its upper half. */
  private backoffMs(): number {
    const full = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(this.failures - 1, 30));
    return Math.round(full / 2 + (Math.random() * full) / 2);
  }

  private async relist(): Promise<void> {
    this.calls += 1;
    const list = await this.opts.list();
    const fresh = new Map<string, T>();
    for (const item of Array.isArray(list.items) ? list.items : []) {
      const key = keyOf(item);
      if (key) fresh.set(key, item);
    }
    const old = new Map(this.cache);
    this.cache.clear();
    for (const [key, item] of fresh) this.cache.set(key, item);
    for (const [key, item] of fresh) {
      const before = old.get(key);
      if (!before) this.emit(item, 'ADDED');
      else if (before.metadata?.resourceVersion !== item.metadata?.resourceVersion) this.emit(item, 'MODIFIED');
    }
    for (const [key, item] of old) if (!fresh.has(key)) this.emit(item, 'DELETED');
    this.resourceVersion = list.resourceVersion;
    this.needList = false;
    this.listedAt = Date.now();
  }

  /** One watch until it ends, fails, is told the version is gone, or the resync time comes. */
  private async watchOnce(): Promise<void> {
    const openedAt = Date.now();
    let failure: unknown;
    const opened: { handle?: WatchHandle } = {};
    const onEvent = (e: WatchEvent<T>) => {
      if (this.stopped || failure) return;
      if (e.type === 'ERROR') {
        const status = e.object as { code?: unknown; reason?: unknown };
        const code = typeof status?.code === 'number' ? status.code : 0;
        failure = new KubeApiError(`Kubernetes: the ${this.opts.what} watch sent an error (HTTP ${code}).`, code, typeof status?.reason === 'string' ? status.reason : undefined);
        opened.handle?.abort();
        return;
      }
      this.apply(e);
    };
    this.calls += 1;
    const handle = await this.opts.watch(this.resourceVersion, onEvent);
    opened.handle = handle;
    this.handle = handle;
    if (this.stopped) handle.abort();
    if (failure) handle.abort();
    this.live = !this.stopped && !failure;
    // An open watch resets the backoff, unless it fails or ends within minBackoffMs (then the streak goes on).
    const streak = this.failures;
    this.failures = 0;
    const untilResync = Math.max(0, this.listedAt + this.opts.resyncMs - Date.now());
    let resync = false;
    const timer = setTimeout(() => {
      resync = true;
      handle.abort();
    }, untilResync);
    try {
      await handle.done;
    } finally {
      clearTimeout(timer);
      this.handle = undefined;
      if (Date.now() - openedAt < this.minBackoffMs) this.failures = streak;
    }
    if (failure) throw failure;
    if (resync) {
      this.needList = true;
      return;
    }
    // A watch that ends at once is a failure too, or a server that closes every watch would be asked in a tight loop.
    if (Date.now() - openedAt < this.minBackoffMs) throw new KubeApiError(`Kubernetes: the ${this.opts.what} watch ended at once.`, 0);
  }

  private apply(e: WatchEvent<T>): void {
    if (!e.object || typeof e.object !== 'object') return;
    const version = e.object.metadata?.resourceVersion;
    if (e.type === 'BOOKMARK') {
      if (typeof version === 'string' && version) this.resourceVersion = version;
      return;
    }
    const key = keyOf(e.object);
    if (!key) return;
    if (typeof version === 'string' && version) this.resourceVersion = version;
    if (e.type === 'DELETED') {
      const had = this.cache.delete(key);
      if (had) this.emit(e.object, 'DELETED');
      return;
    }
    const type: ChangeType = this.cache.has(key) ? 'MODIFIED' : 'ADDED';
    this.cache.set(key, e.object);
    this.emit(e.object, type);
  }

  private emit(obj: T, type: ChangeType): void {
    for (const listener of this.listeners) {
      try {
        listener(obj, type);
      } catch (err) {
        this.opts.log.error({ err: err instanceof Error ? err.message : String(err) }, `kubernetes: a ${this.opts.what} listener threw`);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleeping = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleeping = { timer, wake };
    });
  }

  private wake(): void {
    this.sleeping?.wake();
  }
}
