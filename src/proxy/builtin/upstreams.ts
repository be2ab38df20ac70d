/**
 * Parsed route targets and, per target origin, a free list of keep-alive
 * upstream connections (`UpstreamConnection`, one socket each), so that
 * requests to the same single-user server reuse connections. Idle connections
 * are closed before the target would close them (its `Keep-Alive: timeout`
 * hint less a second, else 4 s), by a sweep once a second.
 */
import type { ClientTls } from './tls.js';
import { UpstreamConnection, type ConnectTarget, type ConnectionOwner } from './upstream-connection.js';

/** Upper bound on concurrent upstream connections per target origin. */
export const MAX_CONNECTIONS_PER_TARGET = 256;
/** How long an idle connection is kept when the target gives no `Keep-Alive: timeout` hint. */
export const IDLE_CONNECTION_MS = 4000;
/** Largest response head accepted from a target (node's default header limit). */
export const MAX_RESPONSE_HEAD_BYTES = 16 * 1024;

/**
 * The upstream connections of one origin. `acquire` hands out a connection
 * with no request in flight (or queues the caller when all are busy); the
 * connection gives itself back (`release`) or drops out (`forget`) when its
 * request ends.
 */
export class OriginConnections implements ConnectionOwner {
  private readonly idle: UpstreamConnection[] = [];
  private readonly all = new Set<UpstreamConnection>();
  private readonly waiting: ((conn: UpstreamConnection) => void)[] = [];
  private closed = false;

  constructor(
    private readonly target: ConnectTarget,
    private readonly max = MAX_CONNECTIONS_PER_TARGET,
    private readonly maxHeadBytes = MAX_RESPONSE_HEAD_BYTES,
  ) {}

  /** Calls `use` with a free connection: now, or when one is released. `fresh` skips idle ones. */
  acquire(use: (conn: UpstreamConnection) => void, fresh = false): void {
    const conn = (fresh ? undefined : this.idle.pop()) ?? this.create();
    if (conn !== undefined) use(conn);
    else this.waiting.push(use);
  }

  release(conn: UpstreamConnection): void {
    if (this.closed) {
      conn.close();
      return;
    }
    const next = this.waiting.shift();
    if (next !== undefined) next(conn);
    else this.idle.push(conn);
  }

  forget(conn: UpstreamConnection): void {
    if (!this.all.delete(conn)) return;
    const i = this.idle.indexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
    // A caller waiting for a connection gets a new one in its place.
    if (this.waiting.length > 0 && !this.closed) {
      const fresh = this.create();
      if (fresh !== undefined) (this.waiting.shift() as (c: UpstreamConnection) => void)(fresh);
    }
  }

  /** Closes connections idle for longer than their target keeps them. */
  sweep(now: number): void {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const conn = this.idle[i] as UpstreamConnection;
      if (now - conn.idleSince >= conn.idleLimitMs) conn.close();
    }
  }

  /** Connections (open or opening), idle ones, callers waiting for one. */
  get stats(): { clients: number; idle: number; waiting: number } {
    return { clients: this.all.size, idle: this.idle.length, waiting: this.waiting.length };
  }

  /** Closes idle connections now and the others as their requests end. */
  close(): void {
    this.closed = true;
    this.waiting.length = 0;
    for (const conn of [...this.idle]) conn.close();
  }

  /** Closes every connection now, cutting requests in flight. */
  destroy(): void {
    this.closed = true;
    this.waiting.length = 0;
    for (const conn of [...this.all]) conn.close();
  }

  private create(): UpstreamConnection | undefined {
    if (this.closed || this.all.size >= this.max) return undefined;
    const conn = new UpstreamConnection(this, this.target, this.maxHeadBytes, IDLE_CONNECTION_MS);
    this.all.add(conn);
    return conn;
  }
}

export interface ParsedTarget extends ConnectTarget {
  readonly url: URL;
  /** The target's path without trailing `/`; the request path is appended to it. */
  readonly basePath: string;
  /** `http://host:port` or `https://host:port`. */
  readonly origin: string;
  /** The keep-alive connections to `origin`. */
  readonly connections: OriginConnections;
}

export class UpstreamPools {
  private readonly targets = new Map<string, ParsedTarget>();
  private readonly origins = new Map<string, OriginConnections>();

  /** Closes idle connections past their limit, once a second. */
  private readonly idleSweep: NodeJS.Timeout;

  constructor(private readonly opts: { insecure?: boolean; maxResponseHeadBytes?: number | undefined; clientTls?: ClientTls | undefined } = {}) {
    this.idleSweep = setInterval(() => {
      const now = Date.now();
      for (const connections of this.origins.values()) connections.sweep(now);
    }, 1000);
    this.idleSweep.unref();
  }

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
    const endpoint: ConnectTarget = {
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
      secure,
      rejectUnauthorized: this.opts.insecure !== true,
      host: url.host,
      clientTls: this.opts.clientTls,
    };
    const parsed: ParsedTarget = {
      ...endpoint,
      url,
      basePath: url.pathname.replace(/\/+$/, ''),
      origin,
      connections: this.connectionsTo(origin, endpoint),
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
      connections.close();
    }
  }

  /** The number of target origins with connections. */
  get size(): number {
    return this.origins.size;
  }

  /** Closes every connection, cutting requests still in flight. */
  destroy(): void {
    clearInterval(this.idleSweep);
    const all = [...this.origins.values()];
    this.origins.clear();
    this.targets.clear();
    for (const c of all) c.destroy();
  }

  private connectionsTo(origin: string, target: ConnectTarget): OriginConnections {
    let connections = this.origins.get(origin);
    if (connections === undefined) {
      connections = new OriginConnections(target, MAX_CONNECTIONS_PER_TARGET, this.opts.maxResponseHeadBytes);
      this.origins.set(origin, connections);
    }
    return connections;
  }
}
