/**
 * Parsed route targets and one keep-alive connection pool (undici `Pool`) per
 * target origin, so that requests to the same single-user server reuse
 * connections instead of opening one each.
 */
import type { Pool } from 'undici';
// Only undici's connection pool: the package's entry module also loads fetch,
// WebSocket, caches and mocks, about 8 MB of memory the proxy would never use.
import UndiciPool from 'undici/lib/dispatcher/pool.js';

/** Upper bound on concurrent upstream connections per target origin. */
export const MAX_CONNECTIONS_PER_TARGET = 256;

export interface ParsedTarget {
  readonly url: URL;
  readonly secure: boolean;
  readonly hostname: string;
  readonly port: number;
  /** The target's path without trailing `/`; the request path is appended to it. */
  readonly basePath: string;
  /** `http://host:port` or `https://host:port`: the key of the pool. */
  readonly origin: string;
  /** The keep-alive pool of `origin`. */
  readonly pool: Pool;
  /** False when `--insecure` turned off certificate checks for https targets. */
  readonly rejectUnauthorized: boolean;
}

export class UpstreamPools {
  private readonly targets = new Map<string, ParsedTarget>();
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly opts: { insecure?: boolean } = {}) {}

  /** Parses (and caches) a target URL. Throws on a malformed URL or an unsupported scheme. */
  resolve(target: string): ParsedTarget {
    const cached = this.targets.get(target);
    if (cached !== undefined) return cached;
    const url = new URL(target);
    const scheme = url.protocol.replace(/:$/, '');
    const secure = scheme === 'https' || scheme === 'wss';
    if (!secure && scheme !== 'http' && scheme !== 'ws') {
      throw new Error(`unsupported target scheme '${scheme}'`);
    }
    const origin = `${secure ? 'https' : 'http'}://${url.host}`;
    const parsed: ParsedTarget = {
      url,
      secure,
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
      basePath: url.pathname.replace(/\/+$/, ''),
      origin,
      pool: this.poolFor(origin, secure),
      rejectUnauthorized: this.opts.insecure !== true,
    };
    this.targets.set(target, parsed);
    return parsed;
  }

  /** Forgets targets no longer used by any route and closes their pools (after their requests end). */
  sweep(liveTargets: Iterable<string>): void {
    const live = new Set(liveTargets);
    const liveOrigins = new Set<string>();
    for (const [target, parsed] of this.targets) {
      if (live.has(target)) liveOrigins.add(parsed.origin);
      else this.targets.delete(target);
    }
    for (const [origin, pool] of this.pools) {
      if (liveOrigins.has(origin)) continue;
      this.pools.delete(origin);
      // close() lets requests in flight finish, then closes the connections.
      pool.close().catch(() => undefined);
    }
  }

  /** The number of pools (target origins) open now. */
  get size(): number {
    return this.pools.size;
  }

  /** Closes every pool, cutting requests still in flight. */
  async destroy(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    this.targets.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }

  private poolFor(origin: string, secure: boolean): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      pool = new UndiciPool(origin, {
        connections: MAX_CONNECTIONS_PER_TARGET,
        pipelining: 1,
        // Idle connections: undici's defaults (4 s, or the server's Keep-Alive hint less 2 s).
        // Timeouts are set per request (--timeout); none by default, as CHP.
        headersTimeout: 0,
        bodyTimeout: 0,
        ...(secure ? { connect: { rejectUnauthorized: this.opts.insecure !== true } } : {}),
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}
