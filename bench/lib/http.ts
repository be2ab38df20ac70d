/** Small HTTP helpers: free ports, a hub API client, waiting for a URL to answer. */
import http from 'node:http';
import { freePort as freePortOn } from '../../src/lib/free-port.js';
import { sleep } from './procs.js';

/** A free port on 127.0.0.1, never one handed out in the last minutes (src/lib/free-port.ts). */
export const freePort = (): Promise<number> => freePortOn('127.0.0.1');

/** `n` distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

/**
 * One GET on a fresh connection; resolves the status code, or 0 when nothing
 * answered (refused, reset, timed out).
 */
export function probe(url: string, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/**
 * Polls `url` every `intervalMs` until `ok(status)`; resolves the time it took
 * from `t0` (performance.now() based, ms). Throws after `timeoutMs`.
 */
export async function waitAnswer(url: string, opts: { t0?: number; intervalMs?: number; timeoutMs: number; ok?: (status: number) => boolean; alive?: () => boolean }): Promise<number> {
  const t0 = opts.t0 ?? performance.now();
  const ok = opts.ok ?? ((s: number) => s > 0 && s < 500);
  const interval = opts.intervalMs ?? 10;
  const deadline = t0 + opts.timeoutMs;
  for (;;) {
    const status = await probe(url, Math.max(100, Math.min(2000, deadline - performance.now())));
    if (ok(status)) return performance.now() - t0;
    if (opts.alive && !opts.alive()) throw new Error(`the process serving ${url} exited before it answered`);
    if (performance.now() > deadline) throw new Error(`${url} did not answer within ${opts.timeoutMs} ms (last status ${status})`);
    await sleep(interval);
  }
}

export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** A client of a hub's REST API (`<hub>/hub/api`), authenticated with a token. */
export class HubApi {
  constructor(
    readonly base: string,
    public token: string,
  ) {}

  async call(method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<ApiAnswer> {
    const headers: Record<string, string> = { Authorization: `token ${this.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${this.base}/hub/api${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed };
  }

  /** Like call(), but throws unless the status is one of `ok`. */
  async must(method: string, path: string, body: unknown, ok: number[], timeoutMs?: number): Promise<unknown> {
    const r = await this.call(method, path, body, timeoutMs);
    if (!ok.includes(r.status)) throw new Error(`${method} ${path}: HTTP ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
    return r.body;
  }

  /** Creates users with POST /users, `chunk` names per request (existing users are fine). */
  async createUsers(names: string[], chunk = 1000): Promise<void> {
    for (let i = 0; i < names.length; i += chunk) {
      await this.must('POST', '/users', { usernames: names.slice(i, i + chunk) }, [201, 409], 300_000);
    }
  }
}

/** The state of one server in a user model: `servers[name]`. */
export function serverOf(model: unknown, name = ''): { ready: boolean; pending: string | null } | undefined {
  if (typeof model !== 'object' || model === null) return undefined;
  const servers = (model as { servers?: Record<string, { ready?: boolean; pending?: string | null }> }).servers;
  const s = servers?.[name];
  return s ? { ready: s.ready === true, pending: s.pending ?? null } : undefined;
}
