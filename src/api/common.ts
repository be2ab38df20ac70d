import type { FastifyReply, FastifyRequest } from 'fastify';
import { HubError } from '../lib/errors.js';
import { authorize, type Target } from '../rbac/check.js';
import type { Hub } from '../hub/context.js';
import { identify, type Identity } from '../hub/identity.js';
import { checkXsrf } from '../hub/cookies.js';
import { getUser, type UserRow } from '../db/repos/users.js';
import { isPlainObject } from '../config/load.js';

const IDENTITY = Symbol('identity');
type WithIdentity = FastifyRequest & { [IDENTITY]?: Identity | null };

/**
 * The identity behind an API request: a token in the Authorization header, or
 * the login cookie (then non-GET requests must echo the XSRF token in
 * `X-XSRFToken`, as JupyterHub 4.1+ requires). Cached on the request.
 */
export async function apiIdentity(hub: Hub, req: FastifyRequest): Promise<Identity | null> {
  const r = req as WithIdentity;
  if (r[IDENTITY] !== undefined) return r[IDENTITY];
  let who = await identify(hub.db, req, true);
  if (who && who.via === 'cookie' && req.method !== 'GET' && req.method !== 'HEAD') {
    const header = req.headers['x-xsrftoken'];
    if (!checkXsrf(req, typeof header === 'string' ? header : undefined)) who = null;
  }
  r[IDENTITY] = who;
  return who;
}

/** Requires one of `anyOf` on `target`; throws 403/404 as JupyterHub's `needs_scope` does. */
export async function requireScope(hub: Hub, req: FastifyRequest, anyOf: readonly string[], target: Target = {}): Promise<Identity> {
  const who = await apiIdentity(hub, req);
  if (!who) {
    throw new HubError(403, `Missing or invalid credentials; requires any of [${anyOf.join(', ')}]`);
  }
  const decision = authorize(who.scopes, anyOf, target);
  if (!decision.ok) throw new HubError(decision.status, decision.message);
  return who;
}

/** Group names of a user, for `!group=` filters on a target. */
export async function groupsOf(hub: Hub, userName: string): Promise<string[]> {
  const rows = await hub.db
    .selectFrom('user_groups')
    .innerJoin('groups', 'groups.id', 'user_groups.group_id')
    .innerJoin('users', 'users.id', 'user_groups.user_id')
    .select('groups.name')
    .where('users.name', '=', userName)
    .execute();
  return rows.map((r) => r.name);
}

/** Looks a user up after the scope check; 404 with JupyterHub's wording when missing. */
export async function findUserOr404(hub: Hub, name: string): Promise<UserRow> {
  const user = await getUser(hub.db, name);
  if (!user) throw new HubError(404, `No such user: ${name}`);
  return user;
}

/**
 * The JSON object body of a request, or {} when there is none. Anything else
 * (an array, a string) is a 400 naming the problem.
 */
export function jsonObjectBody(req: FastifyRequest, optional = true): Record<string, unknown> {
  const body = req.body;
  if (body === undefined || body === null || body === '') {
    if (optional) return {};
    throw new HubError(400, 'Request body must be a JSON object');
  }
  if (!isPlainObject(body)) throw new HubError(400, 'Request body must be a JSON object');
  return body;
}

/** Rejects keys other than `allowed`, naming the first unknown one. */
export function onlyKeys(body: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw new HubError(400, `${what}: unknown field ${JSON.stringify(key)}; allowed: ${allowed.join(', ')}`);
  }
}

export function expectType(body: Record<string, unknown>, key: string, type: 'string' | 'boolean' | 'number' | 'array' | 'object', what: string): void {
  const v = body[key];
  if (v === undefined) return;
  const ok = type === 'array' ? Array.isArray(v) : type === 'object' ? isPlainObject(v) : typeof v === type;
  if (!ok) throw new HubError(400, `${what}: field ${JSON.stringify(key)} must be ${type === 'array' || type === 'object' ? `an ${type}` : `a ${type}`}, got ${JSON.stringify(v)}`);
}

export function sendStatus(reply: FastifyReply, status: number): FastifyReply {
  return reply.code(status).type('text/plain').send();
}

/** Whether a `?flag` query parameter is on (present and not 0/false). */
export function queryFlag(value: unknown): boolean {
  if (value === undefined) return false;
  const s = String(value).toLowerCase();
  return s !== '0' && s !== 'false';
}
