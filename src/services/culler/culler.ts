import { cullDue, userCullDue, type CullRules } from './cull-at.js';
import type { CullConfig } from './culler-config.js';

/**
 * The idle culler as a REST client: it reads and changes the hub only
 * through the JupyterHub REST API with a token, so it works against any
 * JupyterHub (3.0 and later) as against Ganymede. Its I/O (fetch, clock,
 * log) is injected. One call is one round; the loop is the caller's
 * (culler-runner.ts in the hub, `ganymede cull` on the command line).
 */

/**
 * What a round does, as jupyterhub-idle-culler's flags; `keep_admin_users`
 * never deletes an admin user (their servers are still culled unless
 * `admin_users` is false): the hub's own culler sets it, as its token may not
 * delete admins (only admins may, src/api/users.ts).
 */
export type CullOptions = Omit<CullConfig, 'enabled' | 'every'> & CullRules & { keep_admin_users?: boolean };

export interface CullLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface CullClient {
  /** The hub's API root, e.g. `http://127.0.0.1:8081/hub/api`. */
  apiUrl: string;
  token: string;
  fetch?: typeof fetch;
  now?: () => Date;
  log?: CullLog;
  /** Bound on each request, ms (default 30 s). */
  requestTimeoutMs?: number;
}

/** What one round did. */
export interface CullReport {
  /** Users looked at. */
  users: number;
  /** Servers stopped (or being stopped), as `user/name` (`user/` for the default one). */
  stopped: string[];
  /** Users deleted. */
  deleted: string[];
  /** Requests that failed (each logged). */
  errors: number;
}

/** A server in a REST user model. */
interface ServerModel {
  name?: string;
  started?: string | null;
  last_activity?: string | null;
  pending?: string | null;
  ready?: boolean;
}

/** A REST user model, as far as the culler reads it. */
interface UserModel {
  name: string;
  admin?: boolean;
  last_activity?: string | null;
  created?: string | null;
  servers?: Record<string, ServerModel>;
}

const PAGE = 200;
const MAX_PAGES = 10_000;
const quiet: CullLog = { info: () => undefined, warn: () => undefined };

/** Runs `tasks` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

export class CullError extends Error {}

/** One request to the hub's API; the answer's status and JSON body (or undefined). */
async function call(client: CullClient, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const doFetch = client.fetch ?? fetch;
  const headers: Record<string, string> = { Authorization: `token ${client.token}`, Accept: 'application/jupyterhub-pagination+json, application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await doFetch(`${client.apiUrl.replace(/\/+$/, '')}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(client.requestTimeoutMs ?? 30_000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

function problem(what: string, r: { status: number; body: unknown }): string {
  const message = typeof r.body === 'object' && r.body !== null && 'message' in r.body ? String((r.body as { message: unknown }).message) : '';
  return `${what}: HTTP ${r.status}${message ? ` (${message.slice(0, 200)})` : ''}`;
}

/**
 * Every user (only those with a ready server unless `all`), page by page:
 * JupyterHub 2+ answers the pagination Accept header with
 * `{items, _pagination: {next}}`; an older hub (or one ignoring it) with a
 * bare list, read on while full pages of new users come back.
 */
export async function listUsers(client: CullClient, all: boolean): Promise<UserModel[]> {
  const out: UserModel[] = [];
  let offset = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const query = `${all ? '' : 'state=ready&'}offset=${offset}&limit=${PAGE}`;
    const r = await call(client, 'GET', `/users?${query}`);
    if (r.status !== 200) throw new CullError(problem('listing users', r));
    if (Array.isArray(r.body)) {
      // a plain list: a hub without pagination (all users at once), or one applying offset/limit
      // without the envelope; a short page is the last, a page of names already seen ends it too
      const items = r.body as UserModel[];
      const seen = new Set(out.map((u) => u.name));
      const fresh = items.filter((u) => !seen.has(u.name));
      out.push(...fresh);
      if (items.length < PAGE || fresh.length === 0) return out;
      offset += items.length;
      continue;
    }
    const body = r.body as { items?: unknown; _pagination?: { next?: { offset?: number } | null } } | undefined;
    if (!body || !Array.isArray(body.items)) throw new CullError('listing users: the answer is neither a list nor a page of users');
    out.push(...(body.items as UserModel[]));
    const next = body._pagination?.next?.offset;
    if (typeof next !== 'number' || next <= offset) return out;
    offset = next;
  }
  return out;
}

const enc = encodeURIComponent;

/**
 * One culling round: stops every server idle `timeout` seconds (or older
 * than `max_age`), then, with `users`, deletes users idle `timeout` seconds
 * who have no server left. At most `concurrency` requests are in flight.
 * A failed request is logged and counted; the round goes on. Throws
 * CullError only when the users cannot be listed.
 */
export async function cullOnce(client: CullClient, opts: CullOptions): Promise<CullReport> {
  const log = client.log ?? quiet;
  const now = (client.now ?? (() => new Date()))();
  const users = await listUsers(client, opts.users);
  const report: CullReport = { users: users.length, stopped: [], deleted: [], errors: 0 };
  const failed = (what: string, detail: string) => {
    report.errors++;
    log.warn({ detail }, `cull: ${what} failed`);
  };
  // all requests of the round share the one bound: work items are servers, then users
  const serverWork: { user: UserModel; name: string; server: ServerModel; reason: string }[] = [];
  for (const user of users) {
    for (const [name, server] of Object.entries(user.servers ?? {})) {
      const due = cullDue(server, user, opts, now);
      if (due) serverWork.push({ user, name, server, reason: due.reason });
    }
  }
  const stillRunning = new Set<string>();
  await pool(serverWork, opts.concurrency, async ({ user, name, server, reason }) => {
    const label = `${user.name}/${name}`;
    const path = name ? `/users/${enc(user.name)}/servers/${enc(name)}` : `/users/${enc(user.name)}/server`;
    const body = name && opts.remove_named_servers ? { remove: true } : undefined;
    try {
      const r = await call(client, 'DELETE', path, body);
      if (r.status === 204 || r.status === 202) {
        report.stopped.push(label);
        if (r.status === 202) stillRunning.add(user.name);
        log.info({ server: label, reason, last_activity: server.last_activity ?? null, started: server.started ?? null }, 'cull: stopping an idle server');
      } else if (r.status !== 404) {
        stillRunning.add(user.name);
        failed(`stopping ${label}`, problem(`DELETE ${path}`, r));
      }
    } catch (err) {
      stillRunning.add(user.name);
      failed(`stopping ${label}`, (err as Error).message);
    }
  });
  if (!opts.users) return report;
  const culled = new Set(serverWork.map((w) => `${w.user.name}/${w.name}`));
  const userWork = users.filter((u) => {
    if (stillRunning.has(u.name)) return false;
    if (opts.keep_admin_users && u.admin === true) return false;
    // a server not culled this round (running, or a spawn or stop in flight) keeps its user
    const left = Object.entries(u.servers ?? {}).filter(([n, s]) => !culled.has(`${u.name}/${n}`) && (s.ready || s.pending));
    return left.length === 0 && userCullDue(u, opts, now);
  });
  await pool(userWork, opts.concurrency, async (user) => {
    const path = `/users/${enc(user.name)}`;
    try {
      const r = await call(client, 'DELETE', path);
      if (r.status === 204) {
        report.deleted.push(user.name);
        log.info({ user: user.name, last_activity: user.last_activity ?? null }, 'cull: deleted an idle user');
      } else if (r.status !== 404) failed(`deleting user ${user.name}`, problem(`DELETE ${path}`, r));
    } catch (err) {
      failed(`deleting user ${user.name}`, (err as Error).message);
    }
  });
  return report;
}
