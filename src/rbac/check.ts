/**
 * Authorization checks on expanded scope sets (JupyterHub 5.5 `has_scope`,
 * `check_scope_filter` and `needs_scope` semantics). Pure functions: group
 * membership is passed in by the caller.
 */
import { parseScope, serverOwner } from './scopes.js';

/**
 * The resource a request acts on. Fill in the resource itself, e.g. `{ user }`
 * for `/users/alice`, `{ server: 'alice/gpu' }` for `/users/alice/servers/gpu`
 * (`'alice/'` for the default server), `{ group }`, `{ service }`.
 * `userGroups` lists the groups of the user (or of the server's owner), so that
 * `!group=` filters can match users and servers.
 */
export interface Target {
  user?: string;
  /** `user/servername` */
  server?: string;
  group?: string;
  userGroups?: readonly string[];
  service?: string;
  /**
   * Only for collection endpoints that filter their results (`GET /users`):
   * a filtered copy of the scope is then enough, and the handler must filter
   * with `filterFor`. Without it, an empty target is an action on the whole
   * hub (creating a user or group, reading hub info), which needs the scope
   * unfiltered: a route that forgets to filter cannot leak past a filter.
   */
  list?: boolean;
}

/** The resources a filtered scope reaches, by kind. */
export interface ScopeFilter {
  users: Set<string>;
  servers: Set<string>;
  groups: Set<string>;
  services: Set<string>;
}

const kindKey = {
  user: 'users',
  server: 'servers',
  group: 'groups',
  service: 'services',
} as const;

/**
 * What `held` grants for the base scope `needed`: `'all'` if held unfiltered,
 * otherwise the filter values (all sets empty when the scope is not held at all).
 * Use it to filter list results (e.g. `GET /users` with `list:users!group=x`),
 * together with `matchesFilter`.
 */
export function filterFor(held: ReadonlySet<string>, needed: string): 'all' | ScopeFilter {
  if (held.has(needed)) return 'all';
  const f: ScopeFilter = { users: new Set(), servers: new Set(), groups: new Set(), services: new Set() };
  const prefix = `${needed}!`;
  for (const scope of held) {
    if (!scope.startsWith(prefix)) continue;
    const rest = scope.slice(prefix.length);
    const eq = rest.indexOf('=');
    if (eq <= 0 || eq === rest.length - 1) continue; // unresolved owner filter or malformed
    const kind = rest.slice(0, eq);
    if (!Object.hasOwn(kindKey, kind)) continue;
    f[kindKey[kind as keyof typeof kindKey]].add(rest.slice(eq + 1));
  }
  return f;
}

/** True if the filter grants nothing. */
export function isEmptyFilter(f: ScopeFilter): boolean {
  return f.users.size === 0 && f.servers.size === 0 && f.groups.size === 0 && f.services.size === 0;
}

/**
 * Whether a filter reaches the target: `!server=` matches that server;
 * `!user=` matches the user and all of the user's servers; `!group=` matches
 * the group, and users and servers whose owner is in `target.userGroups`;
 * `!service=` matches the service.
 */
export function matchesFilter(f: 'all' | ScopeFilter, target: Target): boolean {
  if (f === 'all') return true;
  const inGroups = (): boolean => target.userGroups?.some((g) => f.groups.has(g)) === true;
  if (target.server !== undefined) {
    if (f.servers.has(target.server) || f.users.has(serverOwner(target.server)) || inGroups()) return true;
  }
  if (target.user !== undefined) {
    if (f.users.has(target.user) || inGroups()) return true;
  }
  if (target.group !== undefined && f.groups.has(target.group)) return true;
  if (target.service !== undefined && f.services.has(target.service)) return true;
  return false;
}

/**
 * Whether the expanded set `held` grants `needed` on `target`.
 *
 * True if `needed` is held unfiltered, or a filtered copy matches the target
 * (see `matchesFilter`). `needed` may itself carry a filter, which is added to
 * the target: `hasScope(held, 'access:servers!server=alice/gpu')`.
 * With an empty target only the unfiltered scope counts; for list endpoints
 * use `holdsScope` + `filterFor` instead.
 */
export function hasScope(held: ReadonlySet<string>, needed: string, target: Target = {}): boolean {
  if (held.has(needed)) return true;
  const { base, filter } = parseScope(needed);
  let t = target;
  if (filter !== undefined) {
    if (filter.value === '') return false; // an unresolved owner filter cannot be checked
    t = { ...target, [filter.kind]: filter.value };
  }
  return matchesFilter(filterFor(held, base), t);
}

/**
 * Whether `held` contains `needed` in any form, filtered or not (JupyterHub's
 * "post-filter" case: the endpoint is allowed and the results are filtered).
 */
export function holdsScope(held: ReadonlySet<string>, needed: string): boolean {
  if (held.has(needed)) return true;
  const prefix = `${needed}!`;
  for (const scope of held) if (scope.startsWith(prefix)) return true;
  return false;
}

/** The outcome of `authorize`. */
export type AuthorizeResult = { ok: true } | { ok: false; status: 403 | 404; message: string };

function isEmptyTarget(t: Target): boolean {
  return t.user === undefined && t.server === undefined && t.group === undefined && t.service === undefined;
}

/**
 * JupyterHub's `@needs_scope(*anyOf)` decision for a request on `target`.
 *
 * - Allowed if any scope in `anyOf` is granted on the target.
 * - An empty target is an action on the hub as a whole (creating users or
 *   groups, hub info): only the unfiltered scope counts, so that a holder of
 *   `admin:users!group=g1` cannot create users outside g1. List endpoints
 *   pass `{ list: true }`: a filtered scope is then enough, and the handler
 *   filters its results with `filterFor` (JupyterHub's "post-filter").
 * - Otherwise 404 "No access to resources or resources not found" when the
 *   caller holds one of the scopes for other resources (so that the existence
 *   of resources is not revealed), else 403 naming the required scopes.
 */
export function authorize(held: ReadonlySet<string>, anyOf: readonly string[], target: Target = {}): AuthorizeResult {
  const empty = isEmptyTarget(target);
  for (const needed of anyOf) {
    if (empty ? (target.list === true ? holdsScope(held, needed) : held.has(needed)) : hasScope(held, needed, target)) return { ok: true };
  }
  if (!empty && anyOf.some((s) => holdsScope(held, s))) {
    return { ok: false, status: 404, message: 'No access to resources or resources not found' };
  }
  if (empty && anyOf.some((s) => holdsScope(held, s))) {
    return {
      ok: false,
      status: 403,
      message: `Action is not authorized with current scopes; requires any of [${anyOf.join(', ')}] without a filter (held only for some resources)`,
    };
  }
  return {
    ok: false,
    status: 403,
    message: `Action is not authorized with current scopes; requires any of [${anyOf.join(', ')}]`,
  };
}

/**
 * The scopes that give access to a user's server; any one of them is enough.
 * This is the default `JUPYTERHUB_OAUTH_ACCESS_SCOPES` (`Spawner.oauth_access_scopes`).
 * `serverName` is `''` for the default server.
 */
export function accessScopesFor(user: string, serverName: string): string[] {
  return [`access:servers!server=${user}/${serverName}`, `access:servers!user=${user}`];
}
