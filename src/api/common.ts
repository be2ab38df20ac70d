import type { FastifyReply, FastifyRequest } from 'fastify';
import { HubError } from '../lib/errors.js';
import { quoteName } from '../lib/quote-name.js';
import { authorize, type Target } from '../rbac/check.js';
import type { Hub } from '../hub/context.js';
import { identify, tokenFromHeader } from '../hub/identity.js';
import { refreshIfStale } from '../auth/refresh.js';
import { identifyService, type Requester } from '../hub/service-identity.js';
import { IdentityCache } from '../hub/identity-cache.js';
import { noteRequestActivity } from '../hub/request-activity.js';
import { checkXsrf, LOGIN_COOKIE, xsrfHeader } from '../hub/cookies.js';
import { getUser, type UserRow } from '../db/repos/users.js';
import { isPlainObject } from '../config/load.js';

const IDENTITY = Symbol('identity');
type WithIdentity = FastifyRequest & { [IDENTITY]?: Requester | null };

const HEADER_KEY = Symbol('authorization key');
type KeyedSocket = { [HEADER_KEY]?: { header: string; key: string } };

/**
 * The identity-cache key of the request's token (its SHA-256), or undefined
 * without a token. A keep-alive client sends the same Authorization header
 * on each request: the key is kept on the connection with the header it was
 * made from, and reused while the next request's header is the same text.
 * Nothing crosses connections (the proxy's connections carry many users'
 * headers: each different one is hashed), and the identity behind the key
 * still expires from the identity cache as before.
 */
function tokenKey(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const socket = req.raw.socket as unknown as KeyedSocket | null;
  const memo = socket?.[HEADER_KEY];
  if (memo && memo.header === header) return memo.key;
  const token = tokenFromHeader(req);
  if (!token) return undefined;
  const key = IdentityCache.key('token', token);
  if (socket) socket[HEADER_KEY] = { header, key };
  return key;
}

/**
 * The identity behind an API request when it is known without a database
 * read: found earlier in this request, or a token (Authorization header)
 * whose identity the identity cache holds. Undefined otherwise, and always
 * for the login cookie, whose session may need a refresh and whose XSRF
 * token is checked (apiIdentity does both). A route's fast path uses it
 * before any await; every other caller goes through apiIdentity.
 */
export function knownIdentity(hub: Hub, req: FastifyRequest): Requester | null | undefined {
  const r = req as WithIdentity;
  if (r[IDENTITY] !== undefined) return r[IDENTITY];
  const key = tokenKey(req);
  if (key === undefined) return undefined;
  const who = hub.identities.get(key);
  if (!who) return undefined;
  r[IDENTITY] = who;
  noteRequestActivity(hub, who);
  return who;
}

/**
 * The identity behind an API request: a user's or a service's token in the
 * Authorization header, or the login cookie (then non-GET requests must echo
 * the XSRF token of the login session in `X-XSRFToken`, or as an `_xsrf`
 * query parameter, as JupyterHub 4.1+ requires). Cached on the request.
 */
export async function apiIdentity(hub: Hub, req: FastifyRequest): Promise<Requester | null> {
  const known = knownIdentity(hub, req);
  if (known !== undefined) return known;
  const token = tokenFromHeader(req);
  const cookie = token ? undefined : req.cookies[LOGIN_COOKIE];
  const key = token ? tokenKey(req) : cookie ? IdentityCache.key('cookie', cookie) : undefined;
  let who = key ? hub.identities.get(key) ?? null : null;
  if (!who) {
    who = (await identify(hub.db, req, true)) ?? (token ? await identifyService(hub.db, token) : null);
    if (who && key) hub.identities.set(key, who);
  }
  if (who && who.via === 'cookie') {
    const fresh = await refreshIfStale(hub, who.user, hub.log);
    if (fresh !== who.user) who = (await identify(hub.db, req, true)) ?? who;
  }
  if (who && who.via === 'cookie' && req.method !== 'GET' && req.method !== 'HEAD') {
    const field = (req.query as Record<string, unknown> | undefined)?.['_xsrf'];
    if (!checkXsrf(req, xsrfHeader(req) ?? (typeof field === 'string' ? field : undefined), who.sessionId)) who = null;
  }
  (req as WithIdentity)[IDENTITY] = who;
  noteRequestActivity(hub, who);
  return who;
}

/** Requires one of `anyOf` on `target`; throws 403/404 as JupyterHub's `needs_scope` does. */
export async function requireScope(hub: Hub, req: FastifyRequest, anyOf: readonly string[], target: Target = {}): Promise<Requester> {
  return scopeHeld(await apiIdentity(hub, req), anyOf, target);
}

/** requireScope's check, for a requester already identified (e.g. by knownIdentity): returns it, or throws 403/404. */
export function scopeHeld(who: Requester | null, anyOf: readonly string[], target: Target = {}): Requester {
  if (!who) {
    throw new HubError(403, `Missing or invalid credentials; requires any of [${anyOf.join(', ')}]`);
  }
  const decision = authorize(who.scopes, anyOf, target);
  if (!decision.ok) throw new HubError(decision.status, decision.message);
  return who;
}

/**
 * Group names of a user, for `!group=` filters on a target. Read only when
 * the requester holds a group-filtered scope (otherwise they cannot matter).
 */
export async function groupsOf(hub: Hub, userName: string, req?: FastifyRequest): Promise<string[]> {
  if (req) {
    const who = await apiIdentity(hub, req);
    if (!who || !hasGroupFilter(who)) return [];
  }
  const rows = await hub.db
    .selectFrom('user_groups')
    .innerJoin('groups', 'groups.id', 'user_groups.group_id')
    .innerJoin('users', 'users.id', 'user_groups.user_id')
    .select('groups.name')
    .where('users.name', '=', userName)
    .execute();
  return rows.map((r) => r.name);
}

const groupFilterCache = new WeakMap<Requester, boolean>();
/** Whether any of the requester's scopes is filtered by group (then a target's groups must be read). */
export function hasGroupFilter(who: Requester): boolean {
  let has = groupFilterCache.get(who);
  if (has === undefined) {
    has = [...who.scopes].some((s) => s.includes('!group='));
    groupFilterCache.set(who, has);
  }
  return has;
}

/** Looks a user up after the scope check; 404 with JupyterHub's wording when missing. */
export async function findUserOr404(hub: Hub, name: string): Promise<UserRow> {
  const user = await getUser(hub.db, name);
  if (!user) throw new HubError(404, `No such user: ${quoteName(name)}`);
  return user;
}

/**
 * The JSON object body of a request, or {} when there is none. Anything else
 * (an array, a string) is a 400 naming the problem.
 */
export function jsonObjectBody(req: FastifyRequest, optional = true): Record<string, unknown> {
  const body = req.body;
  if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    throw new HubError(415, 'Unsupported request body: the API takes JSON (Content-Type: application/json), not form fields');
  }
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
    if (!allowed.includes(key)) throw new HubError(400, `${what}: unknown field ${JSON.stringify(clip(key))}; allowed: ${allowed.join(', ')}`);
  }
}

/** Shortens user-supplied text quoted in a message. */
export function clip(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
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
