/**
 * Parsed route targets and one keep-alive agent per target origin, so that
 * requests to the same single-user server reuse connections.
 */
import http from 'node:http';
import https from 'node:https';

/** Upper bound on concurrent upstream connections per target origin. */
export const MAX_SOCKETS_PER_TARGET = 256;

export interface ParsedTarget {
  readonly url: URL;
  readonly secure: boolean;
  readonly hostname: string;
  readonly port: number;
  /** The target's path without trailing `/`; the request path is appended to it. */
  readonly basePath: string;
  readonly agent: http.Agent;
  /** False when `--insecure` turned off certificate checks for https targets. */
  readonly rejectUnauthorized: boolean;
}

export class AgentPool {
  private readonly targets = new Map<string, ParsedTarget>();
  private readonly agents = new Map<string, http.Agent>();

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
    const parsed: ParsedTarget = {
      url,
      secure,
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
      basePath: url.pathname.replace(/\/+$/, ''),
      agent: this.agentFor(`${secure ? 'https' : 'http'}://${url.host}`, secure),
      rejectUnauthorized: this.opts.insecure !== true,
    };
    this.targets.set(target, parsed);
    return parsed;
  }

  /** Forgets targets no longer used by any route and closes their agents once idle. */
  sweep(liveTargets: Iterable<string>): void {
    const live = new Set(liveTargets);
    const liveOrigins = new Set<string>();
    for (const [target, parsed] of this.targets) {
      if (live.has(target)) liveOrigins.add(`${parsed.secure ? 'https' : 'http'}://${parsed.url.host}`);
      else this.targets.delete(target);
    }
    for (const [origin, agent] of this.agents) {
      // Keep an agent with requests in flight; a later sweep will close it.
      if (!liveOrigins.has(origin) && Object.keys(agent.sockets).length === 0) {
        agent.destroy();
        this.agents.delete(origin);
      }
    }
  }

  destroy(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
    this.targets.clear();
  }

  private agentFor(origin: string, secure: boolean): http.Agent {
    let agent = this.agents.get(origin);
    if (agent === undefined) {
      const common = { keepAlive: true, maxSockets: MAX_SOCKETS_PER_TARGET, maxFreeSockets: MAX_SOCKETS_PER_TARGET, timeout: 60_000 };
      agent = secure
        ? new https.Agent({ ...common, rejectUnauthorized: this.opts.insecure !== true })
        : new http.Agent(common);
      this.agents.set(origin, agent);
    }
    return agent;
  }
}
