import type { Hub } from '../hub/context.js';
import type { Requester } from '../hub/service-identity.js';
import { filterFor, matchesFilter } from '../rbac/check.js';
import type { UserRow } from '../db/repos/users.js';
import type { ServerRow } from '../db/repos/servers.js';
import type { TokenRow } from '../db/repos/tokens.js';
import type { GroupRow } from '../db/repos/groups.js';
import { quotePath, urlJoin } from '../lib/names.js';
import { serverPrefix } from '../hub/spawn-env.js';
import { decryptAuthState } from '../auth/auth-state.js';

export interface UserContext {
  groups: string[];
  roles: string[];
  servers: ServerRow[];
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
interface RequestFilters {
  access: [Filter, readonly string[]][];
  readServers: Filter;
  serverState: Filter;
}
const filtersCache = new WeakMap<Requester, RequestFilters>();

/** The scope filters a request needs for models, computed once per request. */
function filtersOf(who: Requester): RequestFilters {
  let f = filtersCache.get(who);
  if (!f) {
    f = {
      access: USER_ACCESS.map(([scope, keys]) => [filterFor(who.scopes, scope), keys]),
      readServers: filterFor(who.scopes, 'read:servers'),
      serverState: filterFor(who.scopes, 'admin:server_state'),
    };
    filtersCache.set(who, f);
  }
  return f;
}

export function isActive(s: ServerRow): boolean {
  return s.ready === 1 || s.pending !== null;
}

export function serverModel(hub: Hub, user: UserRow, s: ServerRow, withState: boolean): Record<string, unknown> {
  const url = serverPrefix(hub.urls, user.name, s.name);
  const model: Record<string, unknown> = {
    name: s.name,
    last_activity: s.last_activity,
    started: s.started,
    pending: s.pending,
    ready: s.ready === 1 && s.pending === null,
    stopped: !isActive(s),
    url,
    user_options: JSON.parse(s.user_options) as unknown,
    progress_url: s.name ? urlJoin(hub.urls.hub, 'api/users', quotePath(user.name), 'servers', quotePath(s.name), 'progress') : urlJoin(hub.urls.hub, 'api/users', quotePath(user.name), 'server/progress'),
    full_url: null,
    full_progress_url: null,
  };
  if (withState) model['state'] = JSON.parse(s.state) as unknown;
  return model;
}

/** The user model, with only the keys the requester's scopes reveal. */
export function userModel(hub: Hub, who: Requester, user: UserRow, ctx: UserContext, includeStopped: boolean): Record<string, unknown> {
  const target = { user: user.name, userGroups: ctx.groups };
  const filters = filtersOf(who);
  const allowed = new Set<string>();
  for (const [filter, keys] of filters.access) {
    if (matchesFilter(filter, target)) for (const k of keys) allowed.add(k);
  }
  const defaultServer = ctx.servers.find((s) => s.name === '');
  const full: Record<string, unknown> = {
    kind: 'user',
    name: user.name,
    admin: user.admin === 1,
    roles: ctx.roles,
    groups: ctx.groups,
    server: defaultServer && defaultServer.ready && !defaultServer.pending ? serverPrefix(hub.urls, user.name, '') : null,
    pending: defaultServer?.pending ?? null,
    created: user.created,
    last_activity: user.last_activity,
  };
  const model: Record<string, unknown> = {};
  for (const key of Object.keys(full)) if (allowed.has(key)) model[key] = full[key];
  if (allowed.has('auth_state')) {
    // a state the key cannot read (a changed GANYMEDE_CRYPT_KEY) is logged and shown as none, not a 500
    model['auth_state'] = decryptAuthState(hub.crypt, user.auth_state, hub.log);
  }
  const readServers = filters.readServers;
  const stateFilter = filters.serverState;
  const servers: Record<string, unknown> = {};
  for (const s of ctx.servers) {
    const serverTarget = { server: `${user.name}/${s.name}`, userGroups: ctx.groups };
    if ((isActive(s) || includeStopped) && matchesFilter(readServers, serverTarget)) {
      servers[s.name] = serverModel(hub, user, s, matchesFilter(stateFilter, serverTarget));
    }
  }
  if (allowed.has('servers') || Object.keys(servers).length) model['servers'] = servers;
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
