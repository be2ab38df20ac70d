import type { Hub } from '../hub/context.js';
import type { Requester } from '../hub/service-identity.js';
import { filterFor, isEmptyFilter, matchesFilter } from '../rbac/check.js';
import type { UserRow } from '../db/repos/users.js';
import type { ServerModelRow } from '../db/repos/servers.js';
import type { TokenRow } from '../db/repos/tokens.js';
import type { GroupRow } from '../db/repos/groups.js';
import { quotePath, urlJoin } from '../lib/names.js';
import { decryptAuthState } from '../auth/auth-state.js';

export interface UserContext {
  groups: string[];
  roles: string[];
  servers: ServerModelRow[];
}

/** Which user-model keys each scope reveals (JupyterHub's access map). */
const USER_ACCESS: ReadonlyArray<[string, readonly string[]]> = [
  ['read:users', ['kind', 'name', 'admin', 'roles', 'groups', 'server', 'pending', 'created', 'last_activity']],
  ['read:users:name', ['kind', 'name', 'admin']],
  ['read:users:groups', ['kind', 'name', 'groups']],
  ['read:users:activity', ['kind', 'name', 'last_activity']],
  ['read:servers', ['kind', 'name', 'servers']],
  ['read:roles:users', ['kind', 'name', 'roles', 'admin']],
  ['admin:auth_state', ['kind', 'name', 'auth_state']],
];

type Filter = ReturnType<typeof filterFor>;
/** For one model key: `true` when granted on every user, else the filters that may grant it (none: never). */
type KeyGrant = true | Filter[];
interface RequestFilters {
  keys: Map<string, KeyGrant>;
  readServers: Filter;
  serverState: Filter;
}
const filtersCache = new WeakMap<Requester, RequestFilters>();

/**
 * The scope filters a request needs for models, computed once per requester
 * (an identity is per request, or per cached token for a second): which keys
 * every user reveals, and for the others the filters to match per user.
 */
function filtersOf(who: Requester): RequestFilters {
  let f = filtersCache.get(who);
  if (!f) {
    const keys = new Map<string, KeyGrant>();
    for (const [scope, scopeKeys] of USER_ACCESS) {
      const filter = filterFor(who.scopes, scope);
      if (filter !== 'all' && isEmptyFilter(filter)) continue;
      for (const k of scopeKeys) {
        const grant = keys.get(k) ?? [];
        if (grant === true) continue;
        keys.set(k, filter === 'all' ? true : [...grant, filter]);
      }
    }
    f = { keys, readServers: filterFor(who.scopes, 'read:servers'), serverState: filterFor(who.scopes, 'admin:server_state') };
    filtersCache.set(who, f);
  }
  return f;
}

const visibilityCache = new WeakMap<Requester, Map<string, string | undefined>>();

/**
 * Visibility texts by a short name (`v1`, `v2`, ...): cache keys carry the
 * name, not the text, which is long and would be hashed on every lookup.
 * Bounded: when full it is emptied, and a text seen again gets a new name
 * (names are never reused, so two texts never share one).
 */
const visibilityNames = new Map<string, string>();
const VISIBILITY_NAMES_MAX = 10_000;
let visibilityCounter = 0;
function visibilityName(text: string): string {
  let name = visibilityNames.get(text);
  if (name === undefined) {
    if (visibilityNames.size >= VISIBILITY_NAMES_MAX) visibilityNames.clear();
    name = `v${++visibilityCounter}`;
    visibilityNames.set(text, name);
  }
  return name;
}

function filterText(filter: Filter): string {
  if (filter === 'all') return '*';
  const part = (tag: string, names: Set<string>) => (names.size ? `${tag}${JSON.stringify([...names].sort())}` : '');
  return `${part('u', filter.users)}${part('s', filter.servers)}${part('g', filter.groups)}${part('v', filter.services)}`;
}

/**
 * What of the requester's scopes shapes the user models it is shown (and,
 * with `extra`, e.g. `list:users`, which users are listed), as a short name:
 * two requesters get the same name only if every scope userModel reads has
 * the same filter for both, so they get the same models of the same rows
 * (src/api/response-cache.ts keys on it). Undefined when the models would
 * hold decrypted auth state (the requester may read it and the hub has a
 * crypt key): those answers are not cached. Worked out once per requester.
 */
export function visibilityKey(hub: Hub, who: Requester, extra = ''): string | undefined {
  let byExtra = visibilityCache.get(who);
  if (!byExtra) visibilityCache.set(who, (byExtra = new Map()));
  // the crypt key can be set by a reload: part of the entry's key
  const entry = hub.crypt.enabled ? `${extra}\0crypt` : extra;
  if (byExtra.has(entry)) return byExtra.get(entry);
  let text = '';
  const scopes = [...USER_ACCESS.map(([scope]) => scope), 'read:servers', 'admin:server_state', ...(extra ? [extra] : [])];
  for (const scope of scopes) text += `${scope}=${filterText(filterFor(who.scopes, scope))};`;
  const authState = filtersOf(who).keys.has('auth_state');
  // without a key every auth state reads as null: nothing secret in the answer
  const key = authState && hub.crypt.enabled ? undefined : visibilityName(authState ? `${text}crypt=off` : text);
  byExtra.set(entry, key);
  return key;
}

export function isActive(s: Pick<ServerModelRow, 'ready' | 'pending'>): boolean {
  return s.ready === 1 || s.pending !== null;
}

/** URL parts of a hub's server models, joined once per `urls` (the joins run regular expressions). */
interface ModelUrls {
  /** `<base>user` without a trailing slash. */
  userBase: string;
  /** `<hub>api/users` without a trailing slash. */
  apiUsers: string;
}
const modelUrlsCache = new WeakMap<Hub['urls'], ModelUrls>();
function modelUrls(urls: Hub['urls']): ModelUrls {
  let m = modelUrlsCache.get(urls);
  if (!m) {
    m = { userBase: urlJoin(urls.base, 'user').replace(/\/+$/, ''), apiUsers: urlJoin(urls.hub, 'api/users').replace(/\/+$/, '') };
    modelUrlsCache.set(urls, m);
  }
  return m;
}

/**
 * A server's URL prefix, as serverPrefix gives it: quoted segments have no
 * slash and are never empty, so joining them is concatenation.
 */
function prefixOf(m: ModelUrls, quotedUser: string, serverName: string): string {
  return serverName ? `${m.userBase}/${quotedUser}/${quotePath(serverName)}/` : `${m.userBase}/${quotedUser}/`;
}

export function serverModel(hub: Hub, user: UserRow, s: ServerModelRow, withState: boolean, quotedUser = quotePath(user.name)): Record<string, unknown> {
  const m = modelUrls(hub.urls);
  const model: Record<string, unknown> = {
    name: s.name,
    last_activity: s.last_activity,
    started: s.started,
    pending: s.pending,
    ready: s.ready === 1 && s.pending === null,
    stopped: !isActive(s),
    url: prefixOf(m, quotedUser, s.name),
    // most servers have no options: no parse for them (a new object each time: models are not shared)
    user_options: s.user_options === '{}' ? {} : (JSON.parse(s.user_options) as unknown),
    progress_url: s.name ? `${m.apiUsers}/${quotedUser}/servers/${quotePath(s.name)}/progress` : `${m.apiUsers}/${quotedUser}/server/progress`,
    full_url: null,
    full_progress_url: null,
  };
  if (withState) model['state'] = JSON.parse(s.state) as unknown;
  return model;
}

/** The user model, with only the keys the requester's scopes reveal. */
export function userModel(hub: Hub, who: Requester, user: UserRow, ctx: UserContext, includeStopped: boolean): Record<string, unknown> {
  const filters = filtersOf(who);
  const target = { user: user.name, userGroups: ctx.groups };
  const matched = new Map<Filter, boolean>();
  const allowed = (key: string): boolean => {
    const grant = filters.keys.get(key);
    if (grant === undefined || grant === true) return grant === true;
    for (const filter of grant) {
      let m = matched.get(filter);
      if (m === undefined) matched.set(filter, (m = matchesFilter(filter, target)));
      if (m) return true;
    }
    return false;
  };
  // keys in JupyterHub's order; each only when revealed
  const model: Record<string, unknown> = {};
  if (allowed('kind')) model['kind'] = 'user';
  if (allowed('name')) model['name'] = user.name;
  if (allowed('admin')) model['admin'] = user.admin === 1;
  if (allowed('roles')) model['roles'] = ctx.roles;
  if (allowed('groups')) model['groups'] = ctx.groups;
  const defaultServer = ctx.servers.length ? ctx.servers.find((s) => s.name === '') : undefined;
  const quotedUser = ctx.servers.length ? quotePath(user.name) : '';
  if (allowed('server')) model['server'] = defaultServer && defaultServer.ready && !defaultServer.pending ? prefixOf(modelUrls(hub.urls), quotedUser, '') : null;
  if (allowed('pending')) model['pending'] = defaultServer?.pending ?? null;
  if (allowed('created')) model['created'] = user.created;
  if (allowed('last_activity')) model['last_activity'] = user.last_activity;
  if (allowed('auth_state')) {
    // a state the key cannot read (a changed GANYMEDE_CRYPT_KEY) is logged and shown as none, not a 500
    model['auth_state'] = decryptAuthState(hub.crypt, user.auth_state, hub.log);
  }
  // keyed by server name (user input): no prototype, so `__proto__` or `constructor` is an ordinary key
  const servers = Object.create(null) as Record<string, unknown>;
  let shown = 0;
  for (const s of ctx.servers) {
    if (!(isActive(s) || includeStopped)) continue;
    const serverTarget = { server: `${user.name}/${s.name}`, userGroups: ctx.groups };
    if (matchesFilter(filters.readServers, serverTarget)) {
      servers[s.name] = serverModel(hub, user, s, matchesFilter(filters.serverState, serverTarget), quotedUser);
      shown++;
    }
  }
  if (shown || allowed('servers')) model['servers'] = servers;
  return model;
}

export function tokenModel(user: UserRow, t: TokenRow): Record<string, unknown> {
  return {
    id: `a${t.id}`,
    kind: 'api_token',
    user: user.name,
    roles: [],
    scopes: JSON.parse(t.scopes) as string[],
    note: t.note,
    created: t.created,
    expires_at: t.expires_at,
    last_activity: t.last_activity,
    session_id: t.session_id,
    oauth_client: t.client_id ?? 'JupyterHub',
  };
}

export function groupModel(who: Requester, g: GroupRow, members: string[], roles: string[]): Record<string, unknown> {
  const target = { group: g.name };
  const model: Record<string, unknown> = {};
  const can = (scope: string) => matchesFilter(filterFor(who.scopes, scope), target);
  if (can('read:groups') || can('read:groups:name')) Object.assign(model, { kind: 'group', name: g.name });
  if (can('read:groups')) Object.assign(model, { users: members, properties: JSON.parse(g.properties) as unknown });
  if (can('read:roles:groups')) Object.assign(model, { kind: 'group', name: g.name, roles });
  return model;
}
