/**
 * In-memory routing table of the built-in proxy, with configurable-http-proxy
 * semantics: a route key is a path prefix matched on whole path segments, the
 * longest matching prefix wins, and `/` (when present) matches everything.
 *
 * Lookups walk a segment trie, so their cost depends on the depth of the
 * request path, not on the number of routes.
 */

/** Data stored with a route, as given by the API caller (it includes `target`). */
export type RouteData = Record<string, unknown> & { target: string };

export interface RouteEntry {
  /** Normalised key: starts with `/`, no trailing `/` except for the root route `/`. */
  readonly key: string;
  data: RouteData;
  /** Last successful traffic through the route, in ms since the epoch (a number: it changes on every request). */
  lastActivity: number;
}

interface TrieNode {
  /** Created with the first child: most nodes are leaves (one per user server), and an empty Map costs about 130 bytes. */
  children: Map<string, TrieNode> | undefined;
  entry: RouteEntry | undefined;
}

const newNode = (): TrieNode => ({ children: undefined, entry: undefined });

/** `/user/alice/` -> `['user', 'alice']`; `/` and `` -> `[]`. Inner empty segments are kept. */
export function pathSegments(path: string): string[] {
  let start = 0;
  let end = path.length;
  while (start < end && path.charCodeAt(start) === 47) start++;
  while (end > start && path.charCodeAt(end - 1) === 47) end--;
  return start === end ? [] : path.slice(start, end).split('/');
}

/** The normalised form of a route key: `user/alice/` -> `/user/alice`, `` -> `/`. */
export function normalizeRouteKey(path: string): string {
  return '/' + pathSegments(path).join('/');
}

export class RouteTable {
  private readonly root: TrieNode = newNode();
  private readonly byKey = new Map<string, RouteEntry>();

  get size(): number {
    return this.byKey.size;
  }

  /** Adds or replaces the route at `path`. `lastActivity` (ms since the epoch) defaults to now. */
  set(path: string, data: RouteData, lastActivity: number = Date.now()): RouteEntry {
    const segments = pathSegments(path);
    let node = this.root;
    for (const segment of segments) {
      let child = node.children?.get(segment);
      if (child === undefined) {
        child = newNode();
        (node.children ??= new Map()).set(segment, child);
      }
      node = child;
    }
    const entry: RouteEntry = { key: '/' + segments.join('/'), data, lastActivity };
    node.entry = entry;
    this.byKey.set(entry.key, entry);
    return entry;
  }

  /** The route stored exactly at `path` (after normalisation), if any. */
  get(path: string): RouteEntry | undefined {
    return this.byKey.get(normalizeRouteKey(path));
  }

  /** Removes the route at `path`. Returns false when there was none. */
  delete(path: string): boolean {
    const segments = pathSegments(path);
    const trail: TrieNode[] = [this.root];
    let node = this.root;
    for (const segment of segments) {
      const child = node.children?.get(segment);
      if (child === undefined) return false;
      trail.push(child);
      node = child;
    }
    if (node.entry === undefined) return false;
    this.byKey.delete(node.entry.key);
    node.entry = undefined;
    // Prune branches that no longer lead to any route.
    for (let i = segments.length; i > 0; i--) {
      const current = trail[i];
      const parent = trail[i - 1];
      const segment = segments[i - 1];
      if (current === undefined || parent === undefined || segment === undefined) break;
      if (current.entry !== undefined || (current.children?.size ?? 0) > 0) break;
      parent.children?.delete(segment);
      if (parent.children?.size === 0) parent.children = undefined;
    }
    return true;
  }

  /**
   * The route with the longest key that is a whole-segment prefix of `path`
   * (an already decoded URL path, without query string).
   */
  match(path: string): RouteEntry | undefined {
    // Walks the segments in place (no array): this runs for every proxied request.
    let node = this.root;
    let best = node.entry;
    let end = path.length;
    while (end > 0 && path.charCodeAt(end - 1) === 47) end--;
    let start = 0;
    while (start < end && path.charCodeAt(start) === 47) start++;
    while (start < end) {
      let stop = path.indexOf('/', start);
      if (stop === -1 || stop > end) stop = end;
      const child = node.children?.get(path.slice(start, stop));
      if (child === undefined) break;
      node = child;
      if (node.entry !== undefined) best = node.entry;
      start = stop + 1;
    }
    return best;
  }

  /** Every route, in insertion order. */
  entries(): IterableIterator<RouteEntry> {
    return this.byKey.values();
  }

  clear(): void {
    this.root.children = undefined;
    this.root.entry = undefined;
    this.byKey.clear();
  }
}
