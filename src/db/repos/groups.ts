import type { Kysely, Selectable } from 'kysely';
import type { DB, GroupsTable } from '../schema.js';
import { HubError } from '../../lib/errors.js';
import { groupNameProblem } from '../../lib/names.js';

export type GroupRow = Selectable<GroupsTable>;

export async function getGroup(db: Kysely<DB>, name: string): Promise<GroupRow | undefined> {
  return db.selectFrom('groups').selectAll().where('name', '=', name).executeTakeFirst();
}

/** Creates a group; throws HubError (400) for a name the name rules refuse. */
export async function createGroup(db: Kysely<DB>, name: string, properties: Record<string, unknown> = {}): Promise<GroupRow> {
  const problem = groupNameProblem(name);
  if (problem) throw new HubError(400, problem);
  return db.insertInto('groups').values({ name, properties: JSON.stringify(properties) }).returningAll().executeTakeFirstOrThrow();
}

export async function listGroups(db: Kysely<DB>, offset: number, limit: number, names?: string[]): Promise<{ rows: GroupRow[]; total: number }> {
  let q = db.selectFrom('groups');
  if (names !== undefined) q = names.length ? q.where('name', 'in', names) : q.where((eb) => eb.val(false));
  const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const rows = await q.selectAll().orderBy('id').limit(limit).offset(offset).execute();
  return { rows, total: Number(total.n) };
}

export async function deleteGroup(db: Kysely<DB>, id: number): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('user_groups').where('group_id', '=', id).execute();
    await tx.deleteFrom('group_roles').where('group_id', '=', id).execute();
    await tx.deleteFrom('groups').where('id', '=', id).execute();
  });
}

export async function setGroupProperties(db: Kysely<DB>, id: number, properties: Record<string, unknown>): Promise<void> {
  await db.updateTable('groups').set({ properties: JSON.stringify(properties) }).where('id', '=', id).execute();
}

export async function membersOfGroups(db: Kysely<DB>, groupIds: number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  if (groupIds.length === 0) return out;
  const rows = await db
    .selectFrom('user_groups')
    .innerJoin('users', 'users.id', 'user_groups.user_id')
    .select(['user_groups.group_id', 'users.name'])
    .where('user_groups.group_id', 'in', groupIds)
    .orderBy('users.name')
    .execute();
  for (const r of rows) {
    const list = out.get(r.group_id) ?? [];
    list.push(r.name);
    out.set(r.group_id, list);
  }
  return out;
}

export async function rolesOfGroups(db: Kysely<DB>, groupIds: number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  if (groupIds.length === 0) return out;
  const rows = await db.selectFrom('group_roles').select(['group_id', 'role']).where('group_id', 'in', groupIds).execute();
  for (const r of rows) out.set(r.group_id, [...(out.get(r.group_id) ?? []), r.role]);
  return out;
}

export async function addMembers(db: Kysely<DB>, groupId: number, userIds: number[]): Promise<void> {
  if (userIds.length === 0) return;
  await db
    .insertInto('user_groups')
    .values(userIds.map((user_id) => ({ user_id, group_id: groupId })))
    .onConflict((oc) => oc.columns(['user_id', 'group_id']).doNothing())
    .execute();
}

export async function removeMembers(db: Kysely<DB>, groupId: number, userIds: number[]): Promise<void> {
  if (userIds.length === 0) return;
  await db.deleteFrom('user_groups').where('group_id', '=', groupId).where('user_id', 'in', userIds).execute();
}
