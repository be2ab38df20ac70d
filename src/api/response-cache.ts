/**
 * Serialized answers of the user-model reads (`GET /users`,
 * `GET /users/{name}`), kept while the database has not changed.
 *
 * An entry is keyed by what shapes the answer and nothing else: the route,
 * its parameters and page, and the requester's visibility (the scope filters
 * the model and the listing read, see models.ts `visibilityKey`), never the
 * token. It holds the database's change stamp (src/db/change-stamp.ts) read
 * before the answer's first query, and is served only while the stamp is
 * unchanged: any write by this process, or a commit by another connection,
 * makes every entry stale. The requester is identified and its scopes are
 * checked on every request before the cache is asked; a hit replaces only the
 * queries, the model building and the serialization.
 *
 * Nothing is cached where changes cannot be seen cheaply (PostgreSQL), nor
 * when the answer would hold auth state. Memory is bounded by entries and by
 * bytes (the entries not served lately go first: a hit marks its entry, and
 * eviction spares a marked entry once).
 */
import type { Hub } from '../hub/context.js';
import { changeStampOf } from '../db/change-stamp.js';

export interface CachedAnswer {
  body: Buffer;
  /** Whatever the route needs again on a hit (e.g. a count for a log line). */
  note?: number;
}

interface Entry extends CachedAnswer {
  stamp: string;
  bytes: number;
  /** Served since it was stored or last spared by eviction (least recently used first out, approximately). */
  used: boolean;
}

export const RESPONSE_CACHE_MAX_ENTRIES = 2_000;
export const RESPONSE_CACHE_MAX_BYTES = 16 * 1024 * 1024;

export class ResponseCache {
  private readonly entries = new Map<string, Entry>();
  private size = 0;

  constructor(
    readonly maxEntries = RESPONSE_CACHE_MAX_ENTRIES,
    readonly maxBytes = RESPONSE_CACHE_MAX_BYTES,
  ) {}

  /** Entries and bytes held (keys counted at two bytes a character). */
  get stats(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.size };
  }

  /** The answer under `key` if it was stored at `stamp`; a stale one is dropped. */
  get(key: string, stamp: string): CachedAnswer | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.stamp !== stamp) {
      this.entries.delete(key);
      this.size -= e.bytes;
      return undefined;
    }
    // marked, not moved: a hit changes no table (eviction gives a marked entry a second chance)
    e.used = true;
    return e;
  }

  set(key: string, stamp: string, answer: CachedAnswer): void {
    const bytes = answer.body.length + key.length * 2 + 64;
    // one answer never takes more than an eighth of the cache
    if (bytes > this.maxBytes / 8) return;
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.size -= old.bytes;
    }
    while (this.entries.size > 0 && (this.entries.size >= this.maxEntries || this.size + bytes > this.maxBytes)) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(oldestKey);
      if (oldest.used) {
        // used since it was stored or last spared: kept, as the newest, once more
        oldest.used = false;
        this.entries.set(oldestKey, oldest);
        continue;
      }
      this.size -= oldest.bytes;
    }
    this.entries.set(key, { ...answer, stamp, bytes, used: false });
    this.size += bytes;
  }

  clear(): void {
    this.entries.clear();
    this.size = 0;
  }
}

const caches = new WeakMap<Hub, { cache: ResponseCache; urls: Hub['urls'] }>();

/** The hub's response cache, or undefined when its database's changes cannot be seen (nothing is cached). */
export function responseCacheOf(hub: Hub): ResponseCache | undefined {
  if (!changeStampOf(hub.db)) return undefined;
  let c = caches.get(hub);
  // answers hold URLs: a hub whose URLs were replaced starts afresh
  if (!c || c.urls !== hub.urls) caches.set(hub, (c = { cache: new ResponseCache(), urls: hub.urls }));
  return c.cache;
}

/**
 * The answer stored under `key` if the database is unchanged since, without
 * building anything: a route's fast path, taken before any await.
 */
export function cachedAnswer(hub: Hub, key: string): CachedAnswer | undefined {
  const cache = responseCacheOf(hub);
  return cache?.get(key, changeStampOf(hub.db)!.read());
}

/**
 * The JSON answer under `key`: from the cache while the database is
 * unchanged, else built by `build` (which runs the queries; its stamp is read
 * before them) and stored. `key` undefined: built, not stored.
 */
export async function cachedJson(hub: Hub, key: string | undefined, build: () => Promise<CachedAnswer>): Promise<CachedAnswer & { hit: boolean }> {
  const cache = key === undefined ? undefined : responseCacheOf(hub);
  if (!cache) return { ...(await build()), hit: false };
  const stamps = changeStampOf(hub.db)!;
  const stamp = stamps.read();
  const found = cache.get(key!, stamp);
  if (found) return { ...found, hit: true };
  const answer = await build();
  // written to meanwhile: the answer may mix states, and would be stale at once anyway
  if (stamps.read() === stamp) cache.set(key!, stamp, answer);
  return { ...answer, hit: false };
}
