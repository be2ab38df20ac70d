/**
 * The hot lookups of `GET /users/{name}`: the user with its group and role
 * names in one statement, and its servers in another, both compiled once
 * (see prepared.ts). The same answers as getUser + groupsOfUsers +
 * rolesOfUsers + serversOfUsers, in two statements instead of four.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../schema.js';
import { dialectOf, preparedQuery } from '../prepared.js';
import { idInList, idListValue } from '../id-list.js';
import type { UserRow } from './users.js';
import { SERVER_MODEL_COLUMNS, type ServerModelRow } from './servers.js';

/** A JSON array of `column` (sorted as SQL sorts it) over the rows of a sub-select: a string on SQLite, parsed already on PostgreSQL. */
function jsonArray(db: Kysely<DB>, column: string): RawBuilder<unknown> {
  const ref = sql.ref(column);
  return dialectOf(db) === 'sqlite' ? sql`json_group_array(${ref} order by ${ref})` : sql`coalesce(json_agg(${ref} order by ${ref}), '[]'::json)`;
}

function names(value: unknown): string[] {
  const list = (typeof value === 'string' ? JSON.parse(value) : value) as unknown;
  return Array.isArray(list) ? (list as string[]) : [];
}

type UserWithNames = UserRow & { group_names: unknown; role_names: unknown };

const byName = preparedQuery<UserWithNames>(1, (db, [name]) =>
  db
    .selectFrom('users')
    .selectAll('users')
    .select((eb) => [
      eb
        .selectFrom('user_groups')
        .innerJoin('groups', 'groups.id', 'user_groups.group_id')
        .select(jsonArray(db, 'groups.name').as('n'))
        .whereRef('user_groups.user_id', '=', 'users.id')
        .as('group_names'),
      eb.selectFrom('user_roles').select(jsonArray(db, 'user_roles.role').as('n')).whereRef('user_roles.user_id', '=', 'users.id').as('role_names'),
    ])
    .where('users.name', '=', name!),
);

const serversOf = preparedQuery<ServerModelRow>(1, (db, [userId]) => db.selectFrom('servers').select(SERVER_MODEL_COLUMNS).where('user_id', '=', userId as unknown as number).orderBy('name'));

/** A user by name with its group names (sorted by the database) and extra role names, or undefined. */
export async function userWithNames(db: Kysely<DB>, name: string): Promise<{ user: UserRow; groups: string[]; roles: string[] } | undefined> {
  const row = (await byName(db, name))[0];
  if (!row) return undefined;
  const { group_names, role_names, ...user } = row;
  return { user, groups: names(group_names), roles: names(role_names) };
}

/** A user's servers, by name, with the columns the models read. */
export async function serversOfUser(db: Kysely<DB>, userId: number): Promise<ServerModelRow[]> {
  return serversOf(db, userId);
}

const groupsOfIds = preparedQuery<{ user_id: number; name: string }>(1, (db, [ids]) =>
  db.selectFrom('user_groups').innerJoin('groups', 'groups.id', 'user_groups.group_id').select(['user_groups.user_id', 'groups.name']).where(idInList(db, 'user_groups.user_id', ids)).orderBy('groups.name'),
);
const rolesOfIds = preparedQuery<{ user_id: number; role: string }>(1, (db, [ids]) => db.selectFrom('user_roles').select(['user_id', 'role']).where(idInList(db, 'user_id', ids)));
// by user, then name: the (user_id, name) index gives that order, with no sort of the rows
const serversOfIds = preparedQuery<ServerModelRow>(1, (db, [ids]) => db.selectFrom('servers').select(SERVER_MODEL_COLUMNS).where(idInList(db, 'user_id', ids)).orderBy('user_id').orderBy('name'));

function byUser<R extends { user_id: number }, V>(rows: R[], value: (r: R) => V): Map<number, V[]> {
  const out = new Map<number, V[]>();
  for (const r of rows) {
    const list = out.get(r.user_id);
    if (list) list.push(value(r));
    else out.set(r.user_id, [value(r)]);
  }
  return out;
}

/**
 * Group names (sorted), extra role names and servers (model columns, by name)
 * of many users, by user id: the same as groupsOfUsers, rolesOfUsers and
 * modelServersOfUsers, in three statements compiled once.
 */
export async function contextsOfUsers(
  db: Kysely<DB>,
  userIds: readonly number[],
): Promise<{ groups: Map<number, string[]>; roles: Map<number, string[]>; servers: Map<number, ServerModelRow[]> }> {
  if (userIds.length === 0) return { groups: new Map(), roles: new Map(), servers: new Map() };
  const list = idListValue(db, userIds);
  const [groups, roles, servers] = await Promise.all([groupsOfIds(db, list), rolesOfIds(db, list), serversOfIds(db, list)]);
  return { groups: byUser(groups, (r) => r.name), roles: byUser(roles, (r) => r.role), servers: byUser(servers, (r) => r) };
}
