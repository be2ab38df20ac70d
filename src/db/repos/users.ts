import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, UsersTable } from '../schema.js';
import { isoNow } from '../../lib/time.js';
import { HubError } from '../../lib/errors.js';
import { usernameProblem } from '../../lib/names.js';
import { idIn } from '../id-list.js';

export type UserRow = Selectable<UsersTable>;

export type UserStateFilter = 'active' | 'ready' | 'inactive';
export type UserSort = 'id' | 'name' | 'last_activity';

export async function getUser(db: Kysely<DB>, name: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function getUserById(db: Kysely<DB>, id: number): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Creates a user; throws HubError (400) for a name the name rules refuse (the last lock behind every entry point). */
export async function createUser(db: Kysely<DB>, name: string, admin = false): Promise<UserRow> {
  const problem = usernameProblem(name);
  if (problem) throw new HubError(400, problem);
  return db
    .insertInto('users')
    .values({ name, admin: admin ? 1 : 0, created: isoNow(), last_activity: null, auth_state: null })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Returns the user, creating it when missing. */
export async function ensureUser(db: Kysely<DB>, name: string, admin?: boolean): Promise<UserRow> {
  const existing = await getUser(db, name);
  if (existing) {
    if (admin && !existing.admin) {
      await db.updateTable('users').set({ admin: 1 }).where('id', '=', existing.id).execute();
      return { ...existing, admin: 1 };
    }
    return existing;
  }
  try {
    return await createUser(db, name, admin ?? false);
  } catch (err) {
    // another request created it first
    const again = await getUser(db, name);
    if (again) return again;
    throw err;
  }
}

export async function updateUser(db: Kysely<DB>, id: number, changes: { name?: string; admin?: boolean; auth_state?: string | null }): Promise<void> {
  const set: Partial<{ name: string; admin: number; auth_state: string | null }> = {};
  if (changes.name !== undefined) set.name = changes.name;
  if (changes.admin !== undefined) set.admin = changes.admin ? 1 : 0;
  if (changes.auth_state !== undefined) set.auth_state = changes.auth_state;
  if (Object.keys(set).length === 0) return;
  await db.updateTable('users').set(set).where('id', '=', id).execute();
}

export async function deleteUser(db: Kysely<DB>, id: number): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('api_tokens').where('user_id', '=', id).execute();
    await tx.deleteFrom('oauth_codes').where('user_id', '=', id).execute();
    await tx.deleteFrom('oauth_clients').where('user_id', '=', id).execute();
    await tx.deleteFrom('sessions').where('user_id', '=', id).execute();
    await tx.deleteFrom('servers').where('user_id', '=', id).execute();
    await tx.deleteFrom('user_groups').where('user_id', '=', id).execute();
    await tx.deleteFrom('user_roles').where('user_id', '=', id).execute();
    await tx.deleteFrom('users').where('id', '=', id).execute();
  });
}

/** Moves last_activity forward only. */
export async function touchUserActivity(db: Kysely<DB>, id: number, when: string): Promise<void> {
  await db
    .updateTable('users')
    .set({ last_activity: when })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_activity', 'is', null), eb('last_activity', '<', when)]))
    .execute();
}

export interface ListUsersQuery {
  offset: number;
  limit: number;
  state?: UserStateFilter | undefined;
  sort: UserSort;
  descending: boolean;
  /** Restrict to these user names (scope filters); undefined: all. */
  names?: string[] | undefined;
  /** Restrict to members of these groups (scope filters). */
  groups?: string[] | undefined;
  /** Only names containing this text, case-insensitively (JupyterHub's `name_filter`). */
  nameFilter?: string | undefined;
  /** Count all matches (for the pagination envelope); otherwise `total` is -1 unless the page is short. */
  count?: boolean;
}

export async function listUsers(db: Kysely<DB>, q: ListUsersQuery): Promise<{ rows: UserRow[]; total: number }> {
  let base = db.selectFrom('users');
  if (q.state) {
    const active = db.selectFrom('servers').select('servers.user_id').where((eb) => eb.or([eb('ready', '=', 1), eb('pending', 'is not', null)]));
    const ready = db.selectFrom('servers').select('servers.user_id').where('ready', '=', 1);
    if (q.state === 'active') base = base.where('users.id', 'in', active);
    else if (q.state === 'ready') base = base.where('users.id', 'in', ready);
    else base = base.where('users.id', 'not in', active);
  }
  if (q.names !== undefined || q.groups !== undefined) {
    const names = q.names ?? [];
    const groups = q.groups ?? [];
    base = base.where((eb) => {
      const ors = [];
      if (names.length) ors.push(eb('users.name', 'in', names));
      if (groups.length) {
        ors.push(
          eb(
            'users.id',
            'in',
            eb.selectFrom('user_groups').innerJoin('groups', 'groups.id', 'user_groups.group_id').select('user_groups.user_id').where('groups.name', 'in', groups),
          ),
        );
      }
      return ors.length ? eb.or(ors) : eb.val(false);
    });
  }
  // names are stored lower case (every entry point normalizes them), so a lower-cased pattern matches in any
  // case as JupyterHub's ilike does, on both dialects, without lower() on 50,000 rows
  if (q.nameFilter) base = base.where(sql<boolean>`users.name like ${`%${likeEscape(q.nameFilter.toLowerCase())}%`} escape '!'`);
  const total = q.count === false ? -1 : Number((await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const col = q.sort === 'name' ? 'users.name' : q.sort === 'last_activity' ? 'users.last_activity' : 'users.id';
  // never-active users first in ascending order, last in descending (JupyterHub's order, the same in both
  // dialects); ties by id in the same direction, so that both directions walk the (last_activity, id) index
  const rows = await base
    .selectAll('users')
    .orderBy(col, (ob) => (col !== 'users.last_activity' ? (q.descending ? ob.desc() : ob.asc()) : q.descending ? ob.desc().nullsLast() : ob.asc().nullsFirst()))
    .orderBy('users.id', col === 'users.last_activity' && q.descending ? 'desc' : 'asc')
    .limit(q.limit)
    .offset(q.offset)
    .execute();
  return { rows, total: total === -1 && rows.length < q.limit ? q.offset + rows.length : total };
}

/** `text` with LIKE's wildcards escaped by `!` (for `like ... escape '!'`). */
function likeEscape(text: string): string {
  return text.replace(/[!%_]/g, (c) => `!${c}`);
}

/** Group names per user id. */
export async function groupsOfUsers(db: Kysely<DB>, userIds: number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  if (userIds.length === 0) return out;
  const rows = await db
    .selectFrom('user_groups')
    .innerJoin('groups', 'groups.id', 'user_groups.group_id')
    .select(['user_groups.user_id', 'groups.name'])
    .where(idIn(db, 'user_groups.user_id', userIds))
    .orderBy('groups.name')
    .execute();
  for (const r of rows) {
    const list = out.get(r.user_id) ?? [];
    list.push(r.name);
    out.set(r.user_id, list);
  }
  return out;
}

/** Extra role names per user id (besides the implicit `user` and `admin`). */
export async function rolesOfUsers(db: Kysely<DB>, userIds: number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  if (userIds.length === 0) return out;
  const rows = await db.selectFrom('user_roles').select(['user_id', 'role']).where(idIn(db, 'user_id', userIds)).execute();
  for (const r of rows) {
    const list = out.get(r.user_id) ?? [];
    list.push(r.role);
    out.set(r.user_id, list);
  }
  return out;
}
