/**
 * Checks that keep a request from raising privileges beyond its own: admin is
 * granted, removed or touched only by admin (JupyterHub 5's "Only admins can
 * grant admin permissions" / "Only admins can modify other admins"), and a
 * group's roles are handed out (or taken away, by changing its members) only
 * by someone who holds every scope they give. Every route that changes who
 * holds what calls these; see docs/reference/scopes.md.
 */
import type { Hub } from '../hub/context.js';
import type { Identity } from '../hub/identity.js';
import { scopesOfService, type Requester } from '../hub/service-identity.js';
import { groupsOfNamedUsers, scopesOfRoles, scopesOfUser, userRolesAndGroups } from '../hub/identity.js';
import { normalizeUsername } from '../lib/names.js';
import type { UserRow } from '../db/repos/users.js';
import { HubError } from '../lib/errors.js';
import type { GroupsOf } from '../rbac/scopes.js';
import { actsAsAdmin, listScopes, reachGainedByJoining, reachGainedByRenaming, scopesNotHeld } from '../rbac/privilege.js';

/** Throws 403 unless the request acts as admin. `what` ends the message: "grant admin permissions". */
export function requireAdmin(who: Pick<Identity, 'scopes'>, what: string): void {
  if (!actsAsAdmin(who.scopes)) throw new HubError(403, `Only admins can ${what}`);
}

/** Whether a user is admin: the admin flag, or the admin role given to them or to one of their groups. */
export async function isAdminUser(hub: Hub, user: UserRow): Promise<boolean> {
  if (user.admin === 1) return true;
  return (await userRolesAndGroups(hub.db, user)).roles.includes('admin');
}

/** The roles given to the groups with these ids (by configuration). */
async function rolesOfGroupIds(hub: Hub, groupIds: readonly number[]): Promise<string[]> {
  if (groupIds.length === 0) return [];
  const rows = await hub.db.selectFrom('group_roles').select('role').where('group_id', 'in', [...groupIds]).execute();
  return [...new Set(rows.map((r) => r.role))];
}

/** A user's roles from everything but the groups `exceptGroupIds`. */
async function rolesOutside(hub: Hub, user: UserRow, exceptGroupIds: readonly number[]): Promise<string[]> {
  const roles = new Set<string>(['user']);
  if (user.admin === 1) roles.add('admin');
  for (const r of await hub.db.selectFrom('user_roles').select('role').where('user_id', '=', user.id).execute()) roles.add(r.role);
  let q = hub.db.selectFrom('user_groups').innerJoin('group_roles', 'group_roles.group_id', 'user_groups.group_id').select('group_roles.role').where('user_groups.user_id', '=', user.id);
  if (exceptGroupIds.length) q = q.where('user_groups.group_id', 'not in', [...exceptGroupIds]);
  for (const r of await q.execute()) roles.add(r.role);
  return [...roles];
}

/**
 * Membership of a group carries the group's roles. Adding `users` to, or
 * removing them from, the groups `groupIds` (or deleting such a group) is
 * allowed only when the requester holds every scope that this gives or takes
 * away (what the groups' roles give beyond the user's other roles); the admin
 * role needs admin. 403 names the scopes not held.
 */
export async function requireGroupRolesHeld(hub: Hub, who: Pick<Identity, 'scopes'>, groupIds: readonly number[], users: readonly UserRow[], action: string): Promise<void> {
  const roles = await rolesOfGroupIds(hub, groupIds);
  if (roles.length === 0 || users.length === 0) return;
  for (const user of users) {
    const other = await rolesOutside(hub, user, groupIds);
    if (roles.includes('admin') && !other.includes('admin')) requireAdmin(who, `${action}: the group gives the admin role`);
    const [given, kept] = await Promise.all([scopesOfUser(hub.db, user, roles), scopesOfUser(hub.db, user, other)]);
    const changed = scopesNotHeld(kept, given);
    const missing = scopesNotHeld(who.scopes, changed);
    if (missing.length) {
      throw new HubError(403, `Cannot ${action}: the group's roles (${roles.sort().join(', ')}) change ${user.name}'s scopes by some the requester does not hold: ${listScopes(missing)}`);
    }
  }
}

/** The users with these ids (for `requireGroupRolesHeld`). */
export async function usersByIds(hub: Hub, ids: readonly number[]): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  return hub.db.selectFrom('users').selectAll().where('id', 'in', [...ids]).execute();
}

/**
 * Every scope the requester can act with: the request's own and those of its
 * owner (the user or service behind a token), which the owner can put in
 * another token at will. A change that extends a filtered scope (new group
 * members, a renamed user) is judged against all of them: a token limited to
 * `groups!group=g1` must not pull a user into g1 for its owner's
 * `admin:users!group=g1` to take over afterwards.
 */
export async function reachOf(hub: Hub, who: Requester): Promise<ReadonlySet<string>> {
  const owner = who.kind === 'service' ? await scopesOfService(hub.db, who.service, who.roles) : await scopesOfUser(hub.db, who.user, who.roles);
  return new Set([...who.scopes, ...owner]);
}

/**
 * Adding `users` to the group `group` must not extend the group-filtered
 * scopes (`admin:users!group=g1`) of the requester or of its owner (see
 * `reachOf`) to users they could not reach before: a group-filtered holder
 * adds only members already within its reach.
 */
export async function requireNoReachGained(hub: Hub, who: Requester, group: string, users: readonly UserRow[]): Promise<void> {
  if (users.length === 0) return;
  const reach = await reachOf(hub, who);
  for (const user of users) {
    const groups = (await userRolesAndGroups(hub.db, user)).groups;
    if (groups.includes(group)) continue;
    const gained = reachGainedByJoining(reach, group, user.name, groups);
    if (gained.length) {
      throw new HubError(403, `Cannot add ${user.name} to group ${group}: it would extend the requester's group-filtered scopes to a user outside them: ${listScopes(gained)}`);
    }
  }
}

/**
 * Renaming `user` to `newName` must not extend the `!user=<newName>` (or
 * `!server=<newName>/...`) scopes of the requester or of its owner (see
 * `reachOf`) to an account they could not reach that way before.
 */
export async function requireNoReachGainedByRenaming(hub: Hub, who: Requester, user: UserRow, newName: string): Promise<void> {
  const groups = (await userRolesAndGroups(hub.db, user)).groups;
  const gained = reachGainedByRenaming(await reachOf(hub, who), user.name, newName, groups);
  if (gained.length) {
    throw new HubError(403, `Cannot rename ${user.name} to ${newName}: the requester holds scopes on ${newName} it does not hold on ${user.name}: ${listScopes(gained)}`);
  }
}

/**
 * A synchronous group lookup for `intersectScopes`, preloaded for every user
 * named in `!user=` / `!server=` filters of `scopes` (`known` is used as is).
 */
export async function groupsLookup(hub: Hub, scopes: Iterable<string>, known: Map<string, readonly string[]> = new Map()): Promise<GroupsOf> {
  return groupsOfNamedUsers(hub.db, scopes, known);
}

/**
 * The configuration gives some names privileges by name: `admin_users` are
 * made admin, and `roles[].users` get their roles, at every start. Creating a
 * user with such a name, or renaming a user to it, hands those privileges to
 * whoever has that account, so it needs what they give: admin for
 * `admin_users`, the roles' scopes otherwise.
 */
export async function requireNamePrivilegesHeld(hub: Hub, who: Pick<Identity, 'scopes'>, name: string, action: string): Promise<void> {
  const norm = normalizeUsername(name);
  if (hub.config.admin_users.some((u) => normalizeUsername(u) === norm)) requireAdmin(who, `${action}: ${name} is in admin_users`);
  const roles = hub.config.roles.filter((r) => r.users.some((u) => normalizeUsername(u) === norm)).map((r) => r.name);
  if (roles.includes('admin')) requireAdmin(who, `${action}: the admin role is given to ${name} in the configuration`);
  if (roles.length === 0) return;
  const missing = scopesNotHeld(who.scopes, await scopesOfRoles(hub.db, roles, { user: norm }));
  if (missing.length) {
    throw new HubError(403, `Cannot ${action}: the configuration gives ${name} roles (${roles.sort().join(', ')}) with scopes the requester does not hold: ${listScopes(missing)}`);
  }
}

/**
 * Like `requireNamePrivilegesHeld`, for groups: `roles[].groups` get their
 * roles at every start, so creating a group of such a name (one deleted since)
 * would let its creator hand the roles out through its members.
 */
export async function requireGroupNamePrivilegesHeld(hub: Hub, who: Pick<Identity, 'scopes'>, group: string): Promise<void> {
  const roles = hub.config.roles.filter((r) => r.groups.includes(group)).map((r) => r.name);
  if (roles.length === 0) return;
  if (roles.includes('admin')) requireAdmin(who, `create group ${group}: the configuration gives it the admin role`);
  const missing = scopesNotHeld(who.scopes, await scopesOfRoles(hub.db, roles, {}));
  if (missing.length) {
    throw new HubError(403, `Cannot create group ${group}: the configuration gives it roles (${roles.sort().join(', ')}) with scopes the requester does not hold: ${listScopes(missing)}`);
  }
}
