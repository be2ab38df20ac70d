import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import type { Requester } from '../hub/service-identity.js';
import { HubError } from '../lib/errors.js';
import { normalizeUsername, usernameProblem } from '../lib/names.js';
import { quoteName } from '../lib/quote-name.js';
import { parseIso } from '../lib/time.js';
import { LogEvery } from '../lib/log-every.js';
import { filterFor, hasScope } from '../rbac/check.js';
import {
  createUser,
  deleteUser,
  getUser,
  listUsers,
  touchUserActivity,
  updateUser,
  type UserRow,
  type UserSort,
  type UserStateFilter,
} from '../db/repos/users.js';
import { serversOfUsers, touchServerActivity, type ServerModelRow } from '../db/repos/servers.js';
import { contextsOfUsers, serversOfUser, userWithNames } from '../db/repos/user-lookup.js';
import { USER_LIST_SCHEMA, USER_MODEL_SCHEMA, USER_PAGE_SCHEMA } from './user-schemas.js';
import { apiIdentity, expectType, findUserOr404, groupsOf, hasGroupFilter, jsonObjectBody, knownIdentity, onlyKeys, queryFlag, requireScope, scopeHeld, sendStatus } from './common.js';
import { audit } from '../hub/audit.js';
import { userModel, visibilityKey, type UserContext } from './models.js';
import { cachedAnswer, cachedJson, responseCacheOf, type CachedAnswer } from './response-cache.js';
import { paginated, readPage } from './pagination.js';
import { serviceModel } from './services.js';
import { isAdminUser, requireAdmin, requireGroupRolesHeld, requireNamePrivilegesHeld, requireNoReachGained, requireNoReachGainedByRenaming } from './privilege.js';

/** The truncated-list warning of GET /users: once a minute at most. */
const truncationWarning = new LogEvery(60_000);

const JSON_TYPE = 'application/json; charset=utf-8';

const READ_USER_SCOPES = ['read:users', 'read:users:name', 'read:servers', 'read:users:groups', 'read:users:activity', 'read:roles:users'];

/** Loads groups, roles and servers for many users in three queries. */
export async function userContexts(hub: Hub, users: UserRow[]): Promise<Map<number, UserContext>> {
  const { groups, roles, servers } = await contextsOfUsers(hub.db, users.map((u) => u.id));
  const out = new Map<number, UserContext>();
  for (const u of users) out.set(u.id, { groups: groups.get(u.id) ?? NONE, roles: userRoles(u, roles.get(u.id)), servers: servers.get(u.id) ?? NO_SERVERS });
  return out;
}

// shared by every model that has no groups, roles or servers of its own: frozen, so a change throws
const NONE = Object.freeze([]) as unknown as string[];
const NO_SERVERS = Object.freeze([]) as unknown as ServerModelRow[];
const PLAIN_ROLES = Object.freeze(['user']) as unknown as string[];
const ADMIN_ROLES = Object.freeze(['admin', 'user']) as unknown as string[];

/** The role names of a user's model: `user`, `admin` for admins, and its extra roles, sorted. */
function userRoles(user: UserRow, extra: string[] | undefined): string[] {
  if (!extra?.length) return user.admin ? ADMIN_ROLES : PLAIN_ROLES;
  const r = new Set(['user', ...extra]);
  if (user.admin) r.add('admin');
  return [...r].sort();
}

export async function modelOf(hub: Hub, who: Requester, user: UserRow, includeStopped = false): Promise<Record<string, unknown>> {
  const ctx = (await userContexts(hub, [user])).get(user.id)!;
  return userModel(hub, who, user, ctx, includeStopped);
}

/** A user's model by name, or 404: the user, its groups and roles in one statement, its servers in another (the hot path of API clients). */
async function userModelByName(hub: Hub, who: Requester, name: string, includeStopped: boolean): Promise<Record<string, unknown>> {
  const found = await userWithNames(hub.db, name);
  if (!found) throw new HubError(404, `No such user: ${quoteName(name)}`);
  const { user, groups, roles } = found;
  const ctx = { groups, roles: userRoles(user, roles), servers: await serversOfUser(hub.db, user.id) };
  return userModel(hub, who, user, ctx, includeStopped);
}

function userName(req: FastifyRequest): string {
  return (req.params as { name: string }).name;
}

function checkNewName(name: string): string {
  const problem = usernameProblem(name);
  if (problem) throw new HubError(400, problem);
  if (normalizeUsername(name) !== name) throw new HubError(400, `invalid user name ${quoteName(name)}: user names are lower case`);
  return name;
}

/** The response cache's key of one user's model (the name last: it may hold any character). */
const userAnswerKey = (name: string, includeStopped: boolean, vis: string): string => `user\0${vis}\0${includeStopped ? 1 : 0}\0${name}`;

export function usersRoutes(app: FastifyInstance, hub: Hub): void {
  app.get('/user', async (req) => {
    const who = await apiIdentity(hub, req);
    if (!who) throw new HubError(403, 'Missing or invalid credentials');
    if (who.kind === 'service') {
      // a service sees its own model, whatever the token's scopes (JupyterHub 5's identify scopes)
      const self = { scopes: new Set([...who.scopes, `read:services!service=${who.service.name}`]) };
      return { ...serviceModel(hub, self, who.service, who.roles), scopes: [...who.scopes].sort(), session_id: null, token_id: null };
    }
    const ctx = (await userContexts(hub, [who.user])).get(who.user.id)!;
    // The requester always sees their own identity, whatever the token's scopes.
    const self = { ...who, scopes: new Set([...who.scopes, `read:users!user=${who.user.name}`, `read:servers!user=${who.user.name}`]) };
    return {
      ...userModel(hub, self, who.user, ctx, false),
      scopes: [...who.scopes].sort(),
      session_id: who.sessionId,
      token_id: who.token ? `a${who.token.id}` : null,
    };
  });

  app.get('/users', async (req, reply) => {
    const who = await requireScope(hub, req, ['list:users'], { list: true });
    const q = req.query as Record<string, unknown>;
    const page = readPage(req, hub.config);
    const state = q['state'];
    if (state !== undefined && !['active', 'ready', 'inactive'].includes(String(state))) {
      throw new HubError(400, `Invalid state filter: ${JSON.stringify(state)}; expected one of active, ready, inactive`);
    }
    let sort = String(q['sort'] ?? 'id');
    const descending = sort.startsWith('-');
    if (descending) sort = sort.slice(1);
    if (!['id', 'name', 'last_activity'].includes(sort)) throw new HubError(400, `Invalid sort key: ${JSON.stringify(q['sort'])}; expected id, name or last_activity`);
    const nameFilter = q['name_filter'];
    if (nameFilter !== undefined && (typeof nameFilter !== 'string' || nameFilter.length > 255)) throw new HubError(400, 'Invalid name_filter: give it once, as text of at most 255 characters');
    const filter = filterFor(who.scopes, 'list:users');
    const build = async (): Promise<CachedAnswer> => {
      const { rows, total } = await listUsers(hub.db, {
        offset: page.offset,
        limit: page.limit,
        state: state as UserStateFilter | undefined,
        sort: sort as UserSort,
        descending,
        names: filter === 'all' ? undefined : [...filter.users],
        groups: filter === 'all' ? undefined : [...filter.groups],
        count: page.envelope,
        nameFilter: nameFilter as string | undefined,
      });
      const contexts = await userContexts(hub, rows);
      const includeStopped = queryFlag(q['include_stopped_servers']);
      const items = rows.map((u) => userModel(hub, who, u, contexts.get(u.id)!, includeStopped));
      const body = paginated(req, page, items, total);
      const json = reply.serializeInput(body as Record<string, unknown>, page.envelope ? USER_PAGE_SCHEMA : USER_LIST_SCHEMA);
      // truncated: a bare list of up to api_page_max_limit users, the client giving no limit
      return { body: Buffer.from(json), note: !page.envelope && total === -1 && q['limit'] === undefined ? rows.length : undefined };
    };
    // the same URL, page and visibility give the same answer while the database is unchanged (response-cache.ts)
    const vis = visibilityKey(hub, who, 'list:users');
    const key = vis === undefined ? undefined : `users\0${req.url}\0${page.envelope ? 1 : 0}\0${page.offset}\0${page.limit}\0${vis}`;
    const { body, note } = await cachedJson(hub, key, build);
    if (note !== undefined) {
      // a client that does not paginate asks for this on every call: the warning is not written every time
      const skipped = truncationWarning.due();
      if (skipped !== undefined) req.log.warn({ returned: note, not_logged_since: skipped }, 'Truncated user list in request that does not expect pagination');
    }
    return reply.type(JSON_TYPE).send(body);
  });

  app.post('/users', async (req, reply) => {
    const who = await requireScope(hub, req, ['admin:users']);
    const body = jsonObjectBody(req, false);
    onlyKeys(body, ['usernames', 'admin'], 'POST /users');
    expectType(body, 'admin', 'boolean', 'POST /users');
    if (body['admin'] === true) requireAdmin(who, 'grant admin permissions');
    const names = body['usernames'];
    if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string')) {
      throw new HubError(400, 'POST /users: field "usernames" must be a non-empty list of user names');
    }
    const wanted = [...new Set((names as string[]).map(normalizeUsername))];
    for (const n of wanted) checkNewName(n);
    const created: UserRow[] = [];
    const existing: string[] = [];
    for (const n of wanted) if (await getUser(hub.db, n)) existing.push(n);
    if (existing.length === wanted.length) throw new HubError(409, `All ${wanted.length} users already exist`);
    for (const n of wanted) if (!existing.includes(n)) await requireNamePrivilegesHeld(hub, who, n, `create user ${n}`);
    for (const n of wanted) if (!existing.includes(n)) created.push(await createUser(hub.db, n, body['admin'] === true));
    for (const u of created) await audit(hub, who, 'user.create', u.name, { admin: !!u.admin });
    const contexts = await userContexts(hub, created);
    return reply.code(201).send(created.map((u) => userModel(hub, who, u, contexts.get(u.id)!, false)));
  });

  // Not async: a cached answer for a known token is sent before any await (the fast path); the
  // rest is the same checks with the database.
  app.get('/users/:name', { schema: { response: { 200: USER_MODEL_SCHEMA } } }, (req, reply) => {
    const name = userName(req);
    const known = knownIdentity(hub, req);
    if (known && !hasGroupFilter(known)) {
      const who = scopeHeld(known, READ_USER_SCOPES, { user: name, userGroups: [] });
      const includeStopped = queryFlag((req.query as Record<string, unknown>)['include_stopped_servers']);
      const vis = visibilityKey(hub, who);
      const hit = vis === undefined ? undefined : cachedAnswer(hub, userAnswerKey(name, includeStopped, vis));
      if (hit) {
        void reply.type(JSON_TYPE).send(hit.body);
        return;
      }
    }
    return userByName(req, reply, name);
  });
  const userByName = async (req: FastifyRequest, reply: FastifyReply, name: string) => {
    const who = await requireScope(hub, req, READ_USER_SCOPES, { user: name, userGroups: await groupsOf(hub, name, req) });
    const includeStopped = queryFlag((req.query as Record<string, unknown>)['include_stopped_servers']);
    const vis = visibilityKey(hub, who);
    if (vis === undefined || !responseCacheOf(hub)) return userModelByName(hub, who, name, includeStopped);
    // the same user, flag and visibility give the same answer while the database is unchanged (response-cache.ts)
    const { body } = await cachedJson(hub, userAnswerKey(name, includeStopped, vis), async () => ({
      body: Buffer.from(reply.serializeInput(await userModelByName(hub, who, name, includeStopped), USER_MODEL_SCHEMA)),
    }));
    return reply.type(JSON_TYPE).send(body);
  };

  app.post('/users/:name', async (req, reply) => {
    const name = userName(req);
    // creating a user is a hub-wide action: the unfiltered scope is required
    const who = await requireScope(hub, req, ['admin:users']);
    const body = jsonObjectBody(req);
    onlyKeys(body, ['admin', 'name'], `POST /users/${name}`);
    expectType(body, 'admin', 'boolean', `POST /users/${name}`);
    if (body['admin'] === true) requireAdmin(who, 'grant admin permissions');
    checkNewName(name);
    if (await getUser(hub.db, name)) throw new HubError(409, `User ${name} already exists`);
    await requireNamePrivilegesHeld(hub, who, name, `create user ${name}`);
    const user = await createUser(hub.db, name, body['admin'] === true);
    await audit(hub, who, 'user.create', name, { admin: !!user.admin });
    return reply.code(201).send(await modelOf(hub, who, user));
  });

  app.patch('/users/:name', async (req) => {
    const name = userName(req);
    const who = await requireScope(hub, req, ['admin:users'], { user: name, userGroups: await groupsOf(hub, name, req) });
    const body = jsonObjectBody(req, false);
    const what = `PATCH /users/${name}`;
    onlyKeys(body, ['name', 'admin', 'groups', 'auth_state'], what);
    expectType(body, 'name', 'string', what);
    expectType(body, 'admin', 'boolean', what);
    expectType(body, 'groups', 'array', what);
    if (Object.keys(body).length === 0) throw new HubError(400, `${what}: give at least one of "name", "admin", "groups" or "auth_state"`);
    const user = await findUserOr404(hub, name);
    if (await isAdminUser(hub, user)) requireAdmin(who, 'modify other admins');
    if (body['admin'] === true) requireAdmin(who, 'grant admin permissions');
    const newName = body['name'] as string | undefined;
    if (newName !== undefined && newName !== name) {
      checkNewName(newName);
      if (await getUser(hub.db, newName)) throw new HubError(400, `User ${newName} already exists, username must be unique`);
      await requireNamePrivilegesHeld(hub, who, newName, `rename ${name} to ${newName}`);
      await requireNoReachGainedByRenaming(hub, who, user, newName);
      const running = await hub.db.selectFrom('servers').select('id').where('user_id', '=', user.id).where((eb) => eb.or([eb('ready', '=', 1), eb('pending', 'is not', null)])).execute();
      if (running.length) throw new HubError(400, `User ${name} has running servers; stop them before renaming`);
    }
    let groupIds: number[] | undefined;
    if (body['groups'] !== undefined) {
      const names = body['groups'] as unknown[];
      if (names.some((g) => typeof g !== 'string')) throw new HubError(400, `${what}: "groups" must be a list of group names`);
      const rows = names.length ? await hub.db.selectFrom('groups').select(['id', 'name']).where('name', 'in', names as string[]).execute() : [];
      const missing = (names as string[]).filter((g) => !rows.some((r) => r.name === g));
      if (missing.length) throw new HubError(400, `${what}: no such groups: ${missing.join(', ')}`);
      groupIds = rows.map((r) => r.id);
      const current = (await hub.db.selectFrom('user_groups').select('group_id').where('user_id', '=', user.id).execute()).map((r) => r.group_id);
      const added = rows.filter((r) => !current.includes(r.id));
      const changed = [...added.map((r) => r.id), ...current.filter((id) => !groupIds!.includes(id))];
      // changing a user's groups changes those groups' members: the same checks as POST/DELETE /groups/{name}/users
      const changedNames = await hub.db.selectFrom('groups').select('name').where('id', 'in', changed.length ? changed : [-1]).execute();
      for (const g of changedNames) {
        if (!hasScope(who.scopes, 'groups', { group: g.name })) throw new HubError(403, `${what}: changing the members of group ${g.name} requires the scope groups on it`);
      }
      for (const g of added) await requireNoReachGained(hub, who, g.name, [user]);
      await requireGroupRolesHeld(hub, who, changed, [user], `change ${name}'s groups`);
    }
    let authState: string | null | undefined;
    if (body['auth_state'] !== undefined) {
      const state = body['auth_state'];
      if (state !== null && (typeof state !== 'object' || Array.isArray(state))) throw new HubError(400, `${what}: "auth_state" must be an object or null`);
      if (state !== null && !hub.crypt.enabled) throw new HubError(400, `${what}: auth state cannot be stored: the hub has no GANYMEDE_CRYPT_KEY`);
      authState = state === null ? null : hub.crypt.encrypt(state);
    }
    await hub.db.transaction().execute(async (tx) => {
      await updateUser(tx, user.id, {
        ...(newName !== undefined ? { name: newName } : {}),
        ...(body['admin'] !== undefined ? { admin: body['admin'] as boolean } : {}),
        ...(authState !== undefined ? { auth_state: authState } : {}),
      });
      if (newName !== undefined && newName !== name) {
        // The OAuth clients of the user's servers are named and routed by the old name
        // (`jupyterhub-user-<old>`, `/user/<old>/oauth_callback`) and their secrets are old server
        // tokens: left behind, they would serve a new user of the old name with secrets known to this
        // one. They are registered again at the next start; their codes and tokens go with them.
        const clients = tx.selectFrom('oauth_clients').select('identifier').where('user_id', '=', user.id);
        await tx.deleteFrom('api_tokens').where('client_id', 'in', clients).execute();
        await tx.deleteFrom('oauth_codes').where('client_id', 'in', clients).execute();
        await tx.deleteFrom('oauth_clients').where('user_id', '=', user.id).execute();
      }
      if (groupIds !== undefined) {
        await tx.deleteFrom('user_groups').where('user_id', '=', user.id).execute();
        if (groupIds.length) await tx.insertInto('user_groups').values(groupIds.map((group_id) => ({ user_id: user.id, group_id }))).execute();
      }
    });
    if (newName !== undefined && newName !== name) await audit(hub, who, 'user.rename', newName, { from: name });
    if (body['admin'] !== undefined && (body['admin'] === true) !== !!user.admin) await audit(hub, who, body['admin'] === true ? 'user.admin.grant' : 'user.admin.revoke', newName ?? name);
    if (body['groups'] !== undefined) await audit(hub, who, 'user.groups.set', newName ?? name, { groups: body['groups'] });
    return modelOf(hub, who, (await getUser(hub.db, newName ?? name))!);
  });

  app.delete('/users/:name', async (req, reply) => {
    const name = userName(req);
    const who = await requireScope(hub, req, ['delete:users'], { user: name, userGroups: await groupsOf(hub, name, req) });
    const user = await findUserOr404(hub, name);
    if (who.kind === 'user' && who.user.id === user.id) throw new HubError(400, 'Cannot delete yourself!');
    // stricter than JupyterHub 5, which lets delete:users remove an admin: deleting an admin removes admin
    if (await isAdminUser(hub, user)) requireAdmin(who, 'delete admins');
    const servers = (await serversOfUsers(hub.db, [user.id])).get(user.id) ?? [];
    for (const s of servers) {
      if (s.pending) throw new HubError(400, `User ${name}'s server ${s.name ? `${s.name} ` : ''}is pending ${s.pending}, please wait`);
    }
    for (const s of servers) if (s.ready || s.url) await hub.servers.stop(user, s.name);
    // what back-ends keep for the user across servers (a volume claim), before the row goes: a failure keeps the user
    for (const b of hub.spawners.all()) {
      if (!b.spawner.deleteUser) continue;
      try {
        await b.spawner.deleteUser(user.name, { log: hub.log.child({ user: user.name, backend: b.name }) });
      } catch (err) {
        req.log.warn({ user: user.name, backend: b.name, err: (err as Error).message }, "could not delete the user's data on a back-end");
        throw new HubError(503, `Could not delete ${name}'s data on back-end ${JSON.stringify(b.name)}: ${(err as Error).message}; the user is kept, try again.`);
      }
    }
    await deleteUser(hub.db, user.id);
    await audit(hub, who, 'user.delete', name);
    return sendStatus(reply, 204);
  });

  app.post('/users/:name/activity', async (req, reply) => {
    const name = userName(req);
    await requireScope(hub, req, ['users:activity'], { user: name, userGroups: await groupsOf(hub, name, req) });
    const user = await findUserOr404(hub, name);
    const body = jsonObjectBody(req, false);
    onlyKeys(body, ['last_activity', 'servers'], 'activity');
    if (body['last_activity'] === undefined && body['servers'] === undefined) {
      throw new HubError(400, 'body must contain at least one of `last_activity` or `servers`');
    }
    let userLast: string | undefined;
    if (body['last_activity'] !== undefined) {
      const d = parseIso(body['last_activity']);
      if (!d) throw new HubError(400, `last_activity must be an ISO8601 timestamp, got ${JSON.stringify(body['last_activity'])}`);
      userLast = d.toISOString();
    }
    const updates: { id: number; when: string }[] = [];
    if (body['servers'] !== undefined) {
      const servers = body['servers'];
      const msg = 'servers must be a dict of the form {server_name: {last_activity: timestamp}}';
      if (typeof servers !== 'object' || servers === null || Array.isArray(servers)) throw new HubError(400, msg);
      const rows = (await serversOfUsers(hub.db, [user.id])).get(user.id) ?? [];
      for (const [serverName, info] of Object.entries(servers as Record<string, unknown>)) {
        const row = rows.find((r) => r.name === serverName);
        if (!row) throw new HubError(400, `No such server '${serverName}' for user ${name}`);
        if (typeof info !== 'object' || info === null) throw new HubError(400, msg);
        const d = parseIso((info as Record<string, unknown>)['last_activity']);
        if (!d) throw new HubError(400, `servers.${serverName}.last_activity must be an ISO8601 timestamp`);
        updates.push({ id: row.id, when: d.toISOString() });
      }
    }
    for (const u of updates) {
      await touchServerActivity(hub.db, u.id, u.when, 'server');
      if (!userLast || u.when > userLast) userLast = u.when;
    }
    if (userLast) await touchUserActivity(hub.db, user.id, userLast);
    return reply.code(200).type('text/plain').send();
  });
}
