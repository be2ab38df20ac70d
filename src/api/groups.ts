import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { HubError } from '../lib/errors.js';
import { groupNameProblem } from '../lib/names.js';
import { quoteName } from '../lib/quote-name.js';
import { filterFor } from '../rbac/check.js';
import { addMembers, createGroup, deleteGroup, getGroup, listGroups, membersOfGroups, removeMembers, rolesOfGroups, setGroupProperties, type GroupRow } from '../db/repos/groups.js';
import type { Requester } from '../hub/service-identity.js';
import { audit } from '../hub/audit.js';
import { jsonObjectBody, onlyKeys, requireScope, sendStatus } from './common.js';
import { groupModel } from './models.js';
import { paginated, readPage } from './pagination.js';
import { requireGroupNamePrivilegesHeld, requireGroupRolesHeld, requireNoReachGained, usersByIds } from './privilege.js';

function groupName(req: FastifyRequest): string {
  return (req.params as { name: string }).name;
}

async function modelOf(hub: Hub, who: Requester, g: GroupRow): Promise<Record<string, unknown>> {
  const [members, roles] = await Promise.all([membersOfGroups(hub.db, [g.id]), rolesOfGroups(hub.db, [g.id])]);
  return groupModel(who, g, members.get(g.id) ?? [], roles.get(g.id) ?? []);
}

async function findOr404(hub: Hub, name: string): Promise<GroupRow> {
  const g = await getGroup(hub.db, name);
  if (!g) throw new HubError(404, `No such group: ${name}`);
  return g;
}

/** The user ids of `users` in a body; 400 naming any user that does not exist. */
async function userIds(hub: Hub, body: Record<string, unknown>): Promise<number[]> {
  const users = body['users'];
  if (!Array.isArray(users) || users.some((u) => typeof u !== 'string')) throw new HubError(400, 'field "users" must be a list of user names');
  const rows = users.length ? await hub.db.selectFrom('users').select(['id', 'name']).where('name', 'in', users as string[]).execute() : [];
  const missing = (users as string[]).filter((u) => !rows.some((r) => r.name === u));
  if (missing.length) throw new HubError(400, `No such users: ${missing.slice(0, 10).map(quoteName).join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}`);
  return rows.map((r) => r.id);
}

export function groupsRoutes(app: FastifyInstance, hub: Hub): void {
  app.get('/groups', async (req, reply) => {
    const who = await requireScope(hub, req, ['list:groups'], { list: true });
    const page = readPage(req, hub.config);
    const f = filterFor(who.scopes, 'list:groups');
    const { rows, total } = await listGroups(hub.db, page.offset, page.limit, f === 'all' ? undefined : [...f.groups]);
    const [members, roles] = await Promise.all([membersOfGroups(hub.db, rows.map((g) => g.id)), rolesOfGroups(hub.db, rows.map((g) => g.id))]);
    const items = rows.map((g) => groupModel(who, g, members.get(g.id) ?? [], roles.get(g.id) ?? []));
    return reply.send(paginated(req, page, items, total));
  });

  app.post('/groups', async (req, reply) => {
    const who = await requireScope(hub, req, ['admin:groups']);
    const body = jsonObjectBody(req, false);
    onlyKeys(body, ['groups'], 'POST /groups');
    const names = body['groups'];
    if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string')) throw new HubError(400, 'field "groups" must be a non-empty list of group names');
    for (const n of names as string[]) {
      const p = groupNameProblem(n);
      if (p) throw new HubError(400, p);
      if (await getGroup(hub.db, n)) throw new HubError(409, `Group ${n} already exists`);
    }
    for (const n of names as string[]) await requireGroupNamePrivilegesHeld(hub, who, n);
    const created = [];
    for (const n of names as string[]) {
      created.push(await modelOf(hub, who, await createGroup(hub.db, n)));
      await audit(hub, who, 'group.create', n);
    }
    return reply.code(201).send(created);
  });

  app.get('/groups/:name', async (req) => {
    const name = groupName(req);
    const who = await requireScope(hub, req, ['read:groups', 'read:groups:name', 'read:roles:groups'], { group: name });
    return modelOf(hub, who, await findOr404(hub, name));
  });

  app.post('/groups/:name', async (req, reply) => {
    const name = groupName(req);
    // creating a group is a hub-wide action: the unfiltered scope is required
    const who = await requireScope(hub, req, ['admin:groups']);
    const p = groupNameProblem(name);
    if (p) throw new HubError(400, p);
    const body = jsonObjectBody(req);
    onlyKeys(body, ['users', 'properties'], `POST /groups/${name}`);
    if (await getGroup(hub.db, name)) throw new HubError(409, `Group ${name} already exists`);
    await requireGroupNamePrivilegesHeld(hub, who, name);
    const ids = body['users'] !== undefined ? await userIds(hub, body) : [];
    await requireNoReachGained(hub, who, name, await usersByIds(hub, ids));
    const props = body['properties'];
    if (props !== undefined && (typeof props !== 'object' || props === null || Array.isArray(props))) throw new HubError(400, 'field "properties" must be an object');
    const g = await createGroup(hub.db, name, (props as Record<string, unknown> | undefined) ?? {});
    await addMembers(hub.db, g.id, ids);
    await audit(hub, who, 'group.create', name, { users: (await usersByIds(hub, ids)).map((u) => u.name) });
    return reply.code(201).send(await modelOf(hub, who, g));
  });

  app.delete('/groups/:name', async (req, reply) => {
    const name = groupName(req);
    const who = await requireScope(hub, req, ['delete:groups'], { group: name });
    const g = await findOr404(hub, name);
    const members = (await hub.db.selectFrom('user_groups').select('user_id').where('group_id', '=', g.id).execute()).map((r) => r.user_id);
    await requireGroupRolesHeld(hub, who, [g.id], await usersByIds(hub, members), `delete group ${name}`);
    await deleteGroup(hub.db, g.id);
    await audit(hub, who, 'group.delete', name);
    return sendStatus(reply, 204);
  });

  app.post('/groups/:name/users', async (req) => {
    const name = groupName(req);
    const who = await requireScope(hub, req, ['groups'], { group: name });
    const g = await findOr404(hub, name);
    const body = jsonObjectBody(req, false);
    onlyKeys(body, ['users'], 'group members');
    const ids = await userIds(hub, body);
    const users = await usersByIds(hub, ids);
    await requireNoReachGained(hub, who, name, users);
    await requireGroupRolesHeld(hub, who, [g.id], users, `add members to group ${name}`);
    await addMembers(hub.db, g.id, ids);
    await audit(hub, who, 'group.members.add', name, { users: users.map((u) => u.name) });
    return modelOf(hub, who, g);
  });

  app.delete('/groups/:name/users', async (req) => {
    const name = groupName(req);
    const who = await requireScope(hub, req, ['groups'], { group: name });
    const g = await findOr404(hub, name);
    const body = jsonObjectBody(req, false);
    onlyKeys(body, ['users'], 'group members');
    const ids = await userIds(hub, body);
    const users = await usersByIds(hub, ids);
    await requireGroupRolesHeld(hub, who, [g.id], users, `remove members from group ${name}`);
    await removeMembers(hub.db, g.id, ids);
    await audit(hub, who, 'group.members.remove', name, { users: users.map((u) => u.name) });
    return modelOf(hub, who, g);
  });

  app.put('/groups/:name/properties', async (req) => {
    const name = groupName(req);
    const who = await requireScope(hub, req, ['groups'], { group: name });
    const g = await findOr404(hub, name);
    const body = jsonObjectBody(req, false);
    await setGroupProperties(hub.db, g.id, body);
    await audit(hub, who, 'group.properties.set', name, { keys: Object.keys(body).slice(0, 50) });
    return modelOf(hub, who, { ...g, properties: JSON.stringify(body) });
  });
}
