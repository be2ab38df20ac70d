/**
 * Parsed route targets and, per target origin, a set of keep-alive upstream
 * connections (undici `Client`s, one connection each) kept on a free list, so
 * that requests to the same single-user server reuse connections.
 *
 * A free list rather than undici's `Pool`: the pool looks for a free client
 * by scanning all of them, twice per request, which at 100 requests in flight
 * is a tenth of the proxy's CPU; popping a free list costs nothing.
 */
import type { Client } from 'undici';
// Only undici's client: the package's entry module also loads fetch,
// WebSocket, caches and mocks, about 8 MB of memory the proxy would never use.
import UndiciClient from 'undici/lib/dispatcher/client.js';

/** Upper bound on concurrent upstream connections per target origin. */
export const MAX_CONNECTIONS_PER_TARGET = 256;

/**
 * The upstream connections of one origin. `acquire` hands out a client with
 * no request in flight (or queues the caller when all are busy); the caller
 * gives it back with `release` once its request has ended.
 */
export class OriginConnections {
  private readonly idle: Client[] = [];
  private readonly all = new Set<Client>();
  private readonly waiting: ((client: Client) => void)[] = [];
  private closed = false;

  constructor(
    readonly origin: string,
    private readonly options: Client.Options,
    private readonly max = MAX_CONNECTIONS_PER_TARGET,
  ) {}

  /** Calls `use` with a free client: now, or when one is released. */
  acquire(use: (client: Client) => void): void {
    const client = this.idle.pop() ?? this.create();
    if (client !== undefined) use(client);
    else this.waiting.push(use);
  }

  /** Gives back a client whose request has ended (completed or failed). */
  release(client: Client): void {
    if (this.closed) return;
    const next = this.waiting.shift();
    if (next !== undefined) next(client);
    else this.idle.push(client);
  }

  /** Clients (connections, open or not) and callers waiting for one. */
  get stats(): { clients: number; idle: number; waiting: number } {
    return { clients: this.all.size, idle: this.idle.length, waiting: this.waiting.length };
  }

  /** Lets requests in flight end, then closes every connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.idle.length = 0;
    await Promise.all([...this.all].map((c) => c.close().catch(() => undefined)));
  }

  /** Closes every connection now, cutting requests in flight. */
  async destroy(): Promise<void> {
    this.closed = true;
    this.idle.length = 0;
    this.waiting.length = 0;
    await Promise.all([...this.all].map((c) => c.destroy().catch(() => undefined)));
  }

  private create(): Client | undefined {
    if (this.closed || this.all.size >= this.max) return undefined;
    const client = new UndiciClient(this.origin, this.options);
    this.all.add(client);
    return client;
  }
}

export interface ParsedTarget {
  readonly url: URL;
  readonly secure: boolean;
  readonly hostname: string;
  readonly port: number;
  /** The target's path without trailing `/`; the request path is appended to it. */
  readonly basePath: string;
  /** `http://host:port` or `https://host:port`. */
  readonly origin: string;
  /** The keep-alive connections to `origin`. */
  readonly connections: OriginConnections;
  /** False when `--insecure` turned off certificate checks for https targets. */
  readonly rejectUnauthorized: boolean;
}

export class UpstreamPools {
  private readonly targets = new Map<string, ParsedTarget>();
  private readonly origins = new Map<string, OriginConnections>();

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
      connections: this.connectionsTo(origin, secure),
      rejectUnauthorized: this.opts.insecure !== true,
    };
    this.targets.set(target, parsed);
    return parsed;
  }

  /** Forgets targets no longer used by any route and closes their connections (after their requests end). */
  sweep(liveTargets: Iterable<string>): void {
    const live = new Set(liveTargets);
    const liveOrigins = new Set<string>();
    for (const [target, parsed] of this.targets) {
      if (live.has(target)) liveOrigins.add(parsed.origin);
      else this.targets.delete(target);
    }
    for (const [origin, connections] of this.origins) {
      if (liveOrigins.has(origin)) continue;
      this.origins.delete(origin);
      connections.close().catch(() => undefined);
    }
  }

  /** The number of target origins with connections. */
  get size(): number {
    return this.origins.size;
  }

  /** Closes every connection, cutting requests still in flight. */
  async destroy(): Promise<void> {
    const all = [...this.origins.values()];
    this.origins.clear();
    this.targets.clear();
    await Promise.all(all.map((c) => c.destroy()));
  }

  private connectionsTo(origin: string, secure: boolean): OriginConnections {
    let connections = this.origins.get(origin);
    if (connections === undefined) {
      connections = new OriginConnections(origin, {
        pipelining: 1,
        // Idle connections: undici's defaults (4 s, or the server's Keep-Alive hint less 2 s).
        // Timeouts are set per request (--timeout); none by default, as CHP.
        headersTimeout: 0,
        bodyTimeout: 0,
        ...(secure ? { connect: { rejectUnauthorized: this.opts.insecure !== true } } : {}),
      });
      this.origins.set(origin, connections);
    }
    return connections;
  }
}
