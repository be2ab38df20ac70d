/**
 * JupyterHub 5.5 scopes as data, and the pure functions that parse, validate,
 * expand, reduce and intersect them.
 *
 * Vocabulary (the same as JupyterHub's `scopes.py`):
 * - a *raw* scope may use metascopes (`self`, `inherit`) and bare owner filters
 *   (`users:activity!user`, `access:servers!server`);
 * - an *expanded* scope set has every subscope spelled out, filters resolved to
 *   concrete names (`!user=alice`) and overlaps removed (an unfiltered scope
 *   makes the filtered copies of the same scope redundant).
 *
 * Authorization checks (`src/rbac/check.ts`) work on expanded sets only.
 *
 * @see https://jupyterhub.readthedocs.io/en/5.5.0/rbac/scopes.html
 */
import { HubError } from '../lib/errors.js';

/** One scope: what it grants, and the narrower scopes it implies. */
export interface ScopeDefinition {
  readonly description: string;
  /** Scopes implied by this one (expanded recursively; filters carry over). */
  readonly subscopes?: readonly string[];
}

/** A scope table: the built-in one, or the built-in one plus custom scopes. */
export type ScopeDefinitions = Readonly<Record<string, ScopeDefinition>>;

const builtinDefinitions = {
  '(no_scope)': { description: 'Identify the entity that owns the credentials, and nothing more.' },
  self: {
    description:
      "Metascope: the user's own resources. Expands to the user's own model, servers, tokens, shares and activity; resolves to (no_scope) for services.",
  },
  inherit: {
    description: 'Metascope for tokens: everything the owner of the token can do.',
  },
  'admin-ui': {
    description: 'Open the admin page. Taking actions from it needs the matching scopes as well.',
  },
  'admin:users': {
    description:
      'Create, read, modify and delete users, including their authentication state, but not their servers or tokens. Equivalent to superuser in practice.',
    subscopes: ['admin:auth_state', 'users', 'read:roles:users', 'delete:users'],
  },
  'admin:auth_state': { description: "Read a user's authentication state." },
  users: {
    description: 'Read and modify user models (not their servers, tokens or authentication state).',
    subscopes: ['read:users', 'list:users', 'users:activity'],
  },
  'delete:users': { description: 'Delete users.' },
  'list:users': {
    description: 'List users; each entry has at least the name.',
    subscopes: ['read:users:name'],
  },
  'read:users': {
    description: "Read user models, including the URL of the user's default server when it runs.",
    subscopes: ['read:users:name', 'read:users:groups', 'read:users:activity'],
  },
  'read:users:name': { description: "Read users' names." },
  'read:users:groups': { description: "Read users' group memberships." },
  'read:users:activity': { description: "Read users' last activity time." },
  'read:roles': {
    description: 'Read role assignments.',
    subscopes: ['read:roles:users', 'read:roles:services', 'read:roles:groups'],
  },
  'read:roles:users': { description: 'Read the roles assigned to users.' },
  'read:roles:services': { description: 'Read the roles assigned to services.' },
  'read:roles:groups': { description: 'Read the roles assigned to groups.' },
  'users:activity': {
    description: "Report (update) users' last activity time.",
    subscopes: ['read:users:activity'],
  },
  'admin:servers': {
    description: 'Read, start, stop, create and delete user servers, including their spawner state.',
    subscopes: ['admin:server_state', 'servers'],
  },
  'admin:server_state': { description: "Read and write user servers' spawner state." },
  servers: {
    description: 'Start and stop user servers.',
    subscopes: ['read:servers', 'delete:servers'],
  },
  'read:servers': {
    description: "Read users' names and their server models (without the spawner state).",
    subscopes: ['read:users:name'],
  },
  'delete:servers': { description: 'Stop and delete user servers.' },
  tokens: {
    description: "Read, create and delete users' API tokens.",
    subscopes: ['read:tokens'],
  },
  'read:tokens': { description: "Read users' API tokens." },
  'admin:groups': {
    description: 'Create, read, modify and delete groups.',
    subscopes: ['groups', 'read:roles:groups', 'delete:groups'],
  },
  groups: {
    description:
      'Read and modify groups, including adding and removing members. Changing membership can change permissions.',
    subscopes: ['read:groups', 'list:groups'],
  },
  'list:groups': {
    description: 'List groups; each entry has at least the name.',
    subscopes: ['read:groups:name'],
  },
  'read:groups': {
    description: 'Read group models.',
    subscopes: ['read:groups:name'],
  },
  'read:groups:name': { description: "Read groups' names." },
  'delete:groups': { description: 'Delete groups.' },
  'admin:services': {
    description: 'Create, read, modify and delete services added through the API (not those defined in configuration).',
    subscopes: ['list:services', 'read:services', 'read:roles:services'],
  },
  'list:services': {
    description: 'List services; each entry has at least the name.',
    subscopes: ['read:services:name'],
  },
  'read:services': {
    description: 'Read service models.',
    subscopes: ['read:services:name'],
  },
  'read:services:name': { description: "Read services' names." },
  'read:hub': { description: 'Read detailed information about the hub.' },
  'access:servers': { description: 'Use user servers, through the API or a browser.' },
  'access:services': { description: 'Use services, through the API or a browser.' },
  'users:shares': {
    description: 'Read and revoke the shared-server access granted to a user.',
    subscopes: ['read:users:shares'],
  },
  'read:users:shares': { description: 'Read which servers are shared with a user.' },
  'groups:shares': {
    description: 'Read and revoke the shared-server access granted to a group.',
    subscopes: ['read:groups:shares'],
  },
  'read:groups:shares': { description: 'Read which servers are shared with a group.' },
  'read:shares': { description: 'Read who has shared access to servers.' },
  shares: {
    description: 'Manage shared access to servers.',
    subscopes: ['access:servers', 'read:shares', 'users:shares', 'groups:shares'],
  },
  proxy: {
    description: "Read the proxy's routing table, make the hub resynchronise it, and tell the hub about a new proxy.",
  },
  shutdown: { description: 'Shut the hub down.' },
  'read:metrics': { description: 'Read the Prometheus metrics.' },
  // Ganymede's own (not in JupyterHub 5.5): GET /hub/api/audit and the admin page's audit section
  'read:audit': { description: 'Read the audit log of admin actions and token creations (Ganymede only).' },
} as const satisfies Record<string, ScopeDefinition>;

/** The name of a scope that JupyterHub 5.5 defines. */
export type BuiltinScope = keyof typeof builtinDefinitions;

/**
 * Every JupyterHub 5.5 scope (the same names and hierarchy as `scope_definitions`
 * in JupyterHub 5.5.1 `jupyterhub/scopes.py`), in JupyterHub's order.
 */
export const scopeDefinitions: ScopeDefinitions = Object.freeze(builtinDefinitions);

/** Metascopes: they stand for other scopes and accept no filter. */
export const metascopes: ReadonlySet<string> = new Set(['self', 'inherit', '(no_scope)']);

/**
 * What `self` expands to for a user, each filtered `!user=<name>` (JupyterHub 5.x).
 * Already closed under subscopes.
 */
export const selfScopeNames: readonly BuiltinScope[] = Object.freeze([
  'read:users',
  'read:users:name',
  'read:users:groups',
  'users:shares',
  'read:users:shares',
  'read:shares',
  'users:activity',
  'read:users:activity',
  'servers',
  'delete:servers',
  'read:servers',
  'tokens',
  'read:tokens',
  'access:servers',
] as const);

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/** The kinds of resource a scope can be limited to with `!kind=value`. */
export type FilterKind = 'user' | 'server' | 'group' | 'service';

const filterKinds: ReadonlySet<string> = new Set<FilterKind>(['user', 'server', 'group', 'service']);
/** Filters that may be written bare (`!user`) to mean "the owner". `!group` may not. */
const bareFilterKinds: ReadonlySet<string> = new Set<FilterKind>(['user', 'server', 'service']);

/** A scope split into its base and optional filter. */
export interface ParsedScope {
  base: string;
  /**
   * `value` is the user name, `user/servername`, group name or service name.
   * The empty string marks a bare owner filter (`!user`, `!server`, `!service`),
   * which `expandScopes` resolves against the owner.
   */
  filter?: { kind: FilterKind; value: string };
}

/** True for `scope!user`, `scope!server` and `scope!service` (unresolved owner filters). */
export function isOwnerFilter(p: ParsedScope): boolean {
  return p.filter !== undefined && p.filter.value === '';
}

/**
 * Split a scope into base and filter, checking the filter syntax only
 * (not whether the base exists: see `validateScopes`).
 *
 * @throws HubError (400) for an unknown filter kind, a bare `!group`, an empty
 *   filter value or an empty base.
 */
export function parseScope(scope: string): ParsedScope {
  const err = syntaxError(scope);
  if (err !== null) throw new HubError(400, err);
  return splitScope(scope);
}

/** Split at the first `!` and the first `=` after it; assumes valid syntax. */
function splitScope(scope: string): ParsedScope {
  const bang = scope.indexOf('!');
  if (bang === -1) return { base: scope };
  const base = scope.slice(0, bang);
  const filter = scope.slice(bang + 1);
  const eq = filter.indexOf('=');
  const kind = (eq === -1 ? filter : filter.slice(0, eq)) as FilterKind;
  const value = eq === -1 ? '' : filter.slice(eq + 1);
  return { base, filter: { kind, value } };
}

function syntaxError(scope: string): string | null {
  const bang = scope.indexOf('!');
  if (bang === 0 || scope === '') return `Scope '${scope}' has no name`;
  if (bang === -1) return null;
  const filter = scope.slice(bang + 1);
  const eq = filter.indexOf('=');
  const kind = eq === -1 ? filter : filter.slice(0, eq);
  if (!filterKinds.has(kind)) {
    return `Scope filter '!${filter}' in scope '${scope}' does not exist (use !user=, !server=, !group= or !service=)`;
  }
  if (eq === -1) {
    return bareFilterKinds.has(kind) ? null : `Scope filter '!${kind}' in scope '${scope}' needs a value`;
  }
  if (eq === filter.length - 1) return `Scope '${scope}' has an empty filter value`;
  return null;
}

/** The scope string for a parsed scope (inverse of `parseScope`). */
export function formatScope(p: ParsedScope): string {
  if (p.filter === undefined) return p.base;
  return p.filter.value === '' ? `${p.base}!${p.filter.kind}` : `${p.base}!${p.filter.kind}=${p.filter.value}`;
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/** Error text for one scope, or null if it is valid against `defs`. */
function scopeError(scope: string, defs: ScopeDefinitions): string | null {
  const syntax = syntaxError(scope);
  if (syntax !== null) return syntax;
  const { base, filter } = splitScope(scope);
  if (!Object.hasOwn(defs, base)) {
    if (base === 'all') return "Scope 'all' does not exist: the draft scope 'all' is now called 'inherit'";
    return `Scope '${scope}' does not exist`;
  }
  if (filter !== undefined && metascopes.has(base)) return `Metascope '${base}' cannot be filtered (in '${scope}')`;
  return null;
}

/**
 * Check raw scopes (as written in roles, token requests or share requests).
 *
 * Accepts: known bases (from `defs`, default the JupyterHub table), optional
 * filters `!user=x`, `!server=user/name`, `!group=g`, `!service=s`, and the
 * bare owner filters `!user`, `!server`, `!service`.
 * Like JupyterHub, a `!server=` value is not checked for the `user/name` shape.
 *
 * @returns an error message naming the first bad scope, or null if all are valid.
 */
export function validateScopes(scopes: readonly string[], defs: ScopeDefinitions = scopeDefinitions): string | null {
  for (const scope of scopes) {
    if (typeof scope !== 'string') return `Scope ${JSON.stringify(scope)} is not a string`;
    const err = scopeError(scope, defs);
    if (err !== null) return err;
  }
  return null;
}

// ---------------------------------------------------------------------------
// Custom scopes
// ---------------------------------------------------------------------------

/** JupyterHub's rule for custom scope names (`JupyterHub.custom_scopes`). */
export const customScopePattern = /^custom:[a-z0-9][a-z0-9_\-*:]+[a-z0-9_*]$/;

/**
 * Add custom scopes (`custom:...`) to a scope table, as `JupyterHub.custom_scopes` does.
 * Custom scopes may only have custom subscopes, defined in the same call.
 *
 * @returns a new frozen table; `base` is not modified.
 * @throws HubError (500, HUB_CONFIG_ERROR) naming the bad definition.
 */
export function withCustomScopes(
  custom: Readonly<Record<string, ScopeDefinition>>,
  base: ScopeDefinitions = scopeDefinitions,
): ScopeDefinitions {
  const fail = (msg: string): never => {
    throw new HubError(500, msg, { code: 'HUB_CONFIG_ERROR' });
  };
  for (const [name, def] of Object.entries(custom)) {
    if (!customScopePattern.test(name)) {
      fail(
        `Invalid custom scope name '${name}': it must start with 'custom:', contain only lowercase ASCII letters, digits and '-_:*', ` +
          "start with a letter or digit after 'custom:', and not end with '-' or ':'",
      );
    }
    if (Object.hasOwn(base, name)) fail(`Custom scope '${name}' is already defined`);
    if (typeof def.description !== 'string') fail(`Custom scope '${name}' needs a description`);
    for (const sub of def.subscopes ?? []) {
      if (Object.hasOwn(custom, sub)) continue;
      if (Object.hasOwn(base, sub)) {
        fail(`Custom scope '${name}' lists the non-custom subscope '${sub}': custom scopes may only have custom subscopes`);
      }
      fail(`Subscope '${sub}' of custom scope '${name}' is not defined`);
    }
  }
  return Object.freeze({ ...base, ...custom });
}

// ---------------------------------------------------------------------------
// Expansion
// ---------------------------------------------------------------------------

/**
 * Who holds the scopes being expanded; used for `self` and for bare owner filters.
 * For a server's own token pass both `user` and `server` (`'alice/gpu'`, or
 * `'alice/'` for the default server).
 */
export interface ScopeOwner {
  user?: string;
  /** `user/servername` */
  server?: string;
  service?: string;
}

/** All names implied by `base` (itself included), following subscopes recursively. */
function closure(base: string, defs: ScopeDefinitions, into: Set<string>): void {
  if (into.has(base)) return;
  into.add(base);
  for (const sub of defs[base]?.subscopes ?? []) closure(sub, defs, into);
}

/**
 * Expand raw scopes to a reduced, expanded set.
 *
 * - Subscopes are added recursively and keep the filter of their parent, except
 *   that a `!server=` filter is not carried to `read:user*` scopes (JupyterHub
 *   drops e.g. `read:users:name!server=...` because it makes no sense).
 * - Bare `!user`, `!server`, `!service` become `!user=<owner.user>`,
 *   `!server=<owner.server>`, `!service=<owner.service>`; a scope whose owner
 *   filter cannot be resolved is dropped, as in JupyterHub.
 * - `self` becomes `selfScopeNames` filtered `!user=<owner.user>`; it expands to
 *   nothing for an owner that is not a user.
 * - `inherit` is kept as is: the caller replaces it with the owner's own scopes.
 * - The result is reduced (see `reduceScopes`).
 *
 * @throws HubError (400) for an invalid or unknown scope (validate first).
 */
export function expandScopes(
  scopes: Iterable<string>,
  owner: ScopeOwner = {},
  defs: ScopeDefinitions = scopeDefinitions,
): Set<string> {
  const out = new Set<string>();
  for (const raw of scopes) {
    const err = scopeError(raw, defs);
    if (err !== null) throw new HubError(400, err);
    const { base, filter } = splitScope(raw);
    if (base === 'self') {
      if (owner.user !== undefined) for (const s of selfScopeNames) out.add(`${s}!user=${owner.user}`);
      continue;
    }
    let suffix = '';
    let serverFilter = false;
    if (filter !== undefined) {
      const value = filter.value === '' ? owner[filter.kind as 'user' | 'server' | 'service'] : filter.value;
      if (value === undefined || value === '') continue; // unresolvable owner filter: dropped
      suffix = `!${filter.kind}=${value}`;
      serverFilter = filter.kind === 'server';
    }
    const names = new Set<string>();
    closure(base, defs, names);
    for (const name of names) {
      if (serverFilter && name.startsWith('read:user')) continue;
      out.add(name + suffix);
    }
  }
  return reduceScopes(out);
}

/**
 * The scopes that identify an entity (`GET /hub/api/user` works with only these):
 * JupyterHub adds them to every token.
 */
export function identifyScopes(owner: ScopeOwner): Set<string> {
  if (owner.user !== undefined) {
    return new Set([`read:users:name!user=${owner.user}`, `read:users:groups!user=${owner.user}`]);
  }
  if (owner.service !== undefined) return new Set([`read:services:name!service=${owner.service}`]);
  return new Set();
}

// ---------------------------------------------------------------------------
// Parsed sets, reduction and intersection
// ---------------------------------------------------------------------------

/** Per base scope: held without filter (`'all'`), or the filter values held per kind. */
export type ParsedScopes = Map<string, 'all' | Map<FilterKind, Set<string>>>;

/**
 * Group an expanded set by base scope. Unresolved owner filters (`!user` with
 * no value) are ignored: expand first.
 */
export function parseScopeSet(scopes: Iterable<string>): ParsedScopes {
  const parsed: ParsedScopes = new Map();
  for (const scope of scopes) {
    const { base, filter } = splitScope(scope);
    if (filter === undefined) {
      parsed.set(base, 'all');
      continue;
    }
    if (filter.value === '' || !filterKinds.has(filter.kind)) continue;
    let entry = parsed.get(base);
    if (entry === 'all') continue;
    if (entry === undefined) {
      entry = new Map();
      parsed.set(base, entry);
    }
    let values = entry.get(filter.kind);
    if (values === undefined) {
      values = new Set();
      entry.set(filter.kind, values);
    }
    values.add(filter.value);
  }
  return parsed;
}

/** The expanded set for a parsed one (inverse of `parseScopeSet`). */
export function unparseScopeSet(parsed: ParsedScopes): Set<string> {
  const out = new Set<string>();
  for (const [base, filters] of parsed) {
    if (filters === 'all') {
      out.add(base);
      continue;
    }
    for (const [kind, values] of filters) for (const v of values) out.add(`${base}!${kind}=${v}`);
  }
  return out;
}

/** Drop filtered scopes made redundant by the same scope held unfiltered. */
export function reduceScopes(scopes: Iterable<string>): Set<string> {
  return unparseScopeSet(parseScopeSet(scopes));
}

/** The user part of `user/servername` (up to the first `/`, as JupyterHub does). */
export function serverOwner(server: string): string {
  const slash = server.indexOf('/');
  return slash === -1 ? server : server.slice(0, slash);
}

/** Looks up the groups a user belongs to; needed to intersect `!group=` with `!user=`/`!server=`. */
export type GroupsOf = (user: string) => readonly string[];

/**
 * JupyterHub's intersection of two expanded scope sets (what a token may do
 * given what its owner may do, what an OAuth client may request, and so on).
 *
 * Per base scope: unfiltered ∩ X = X; otherwise filters of the same kind are
 * intersected, and the resource hierarchy is honoured in both directions:
 * `!server=alice/x` survives against `!user=alice`, and, when `groupsOf` is
 * given, `!user=alice` / `!server=alice/x` survive against `!group=g` if alice
 * is in g. Without `groupsOf`, user/server-versus-group overlaps are dropped
 * (JupyterHub does the same without a database: permissions can only come out
 * lower than intended, never higher). Group-versus-group is exact.
 */
export function intersectScopes(a: ReadonlySet<string>, b: ReadonlySet<string>, groupsOf?: GroupsOf): Set<string> {
  const pa = parseScopeSet(a);
  const pb = parseScopeSet(b);
  const common: ParsedScopes = new Map();
  const groupCache = new Map<string, ReadonlySet<string>>();
  const groupsFor = (user: string): ReadonlySet<string> => {
    let g = groupCache.get(user);
    if (g === undefined && groupsOf !== undefined) {
      g = new Set(groupsOf(user));
      groupCache.set(user, g);
    }
    return g ?? new Set();
  };
  const inAnyGroup = (user: string, groups: ReadonlySet<string>): boolean => {
    for (const g of groupsFor(user)) if (groups.has(g)) return true;
    return false;
  };

  for (const [base, fa] of pa) {
    const fb = pb.get(base);
    if (fb === undefined) continue;
    if (fa === 'all') {
      common.set(base, fb);
      continue;
    }
    if (fb === 'all') {
      common.set(base, fa);
      continue;
    }
    const result = new Map<FilterKind, Set<string>>();
    for (const [kind, va] of fa) {
      const vb = fb.get(kind);
      if (vb === undefined) continue;
      result.set(kind, new Set([...va].filter((v) => vb.has(v))));
    }
    const servers = new Set(result.get('server') ?? []);
    const users = new Set(result.get('user') ?? []);
    for (const [x, y] of [
      [fa, fb],
      [fb, fa],
    ] as const) {
      const xServers = x.get('server');
      const yUsers = y.get('user');
      const yGroups = y.get('group');
      for (const s of xServers ?? []) {
        if (servers.has(s)) continue;
        const owner = serverOwner(s);
        if (yUsers?.has(owner) === true) servers.add(s);
        else if (groupsOf !== undefined && yGroups !== undefined && inAnyGroup(owner, yGroups)) servers.add(s);
      }
      if (groupsOf !== undefined && yGroups !== undefined) {
        for (const u of x.get('user') ?? []) if (!users.has(u) && inAnyGroup(u, yGroups)) users.add(u);
      }
    }
    if (servers.size > 0) result.set('server', servers);
    if (users.size > 0) result.set('user', users);
    common.set(base, result);
  }
  return unparseScopeSet(common);
}
