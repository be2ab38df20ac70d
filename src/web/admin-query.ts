import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { listUsers, type UserRow } from '../db/repos/users.js';

/** The admin page's sort keys: the API's (`name`, `last_activity`, each may be `-`-prefixed) plus `active` (users with an active server first). */
export const ADMIN_SORTS = ['name', '-name', 'last_activity', '-last_activity', 'active'] as const;
export type AdminSort = (typeof ADMIN_SORTS)[number];

export interface AdminQuery {
  offset: number;
  limit: number;
  sort: AdminSort;
  /** substring of the name (JupyterHub's `name_filter`) */
  nameFilter?: string | undefined;
  /** the viewer's `list:users` filter; undefined: every user */
  names?: string[] | undefined;
  groups?: string[] | undefined;
}

/**
 * One page of users for the admin page, with the number of matches. Every
 * sort walks an index (`users.name`, `users.last_activity`); `active` reads
 * the users with an active server first (few, through the `servers.ready` /
 * `servers.pending` indexes), then fills the page from the others by name:
 * two or three queries, none of them proportional to the page's neighbours.
 */
export async function adminUserPage(db: Kysely<DB>, q: AdminQuery): Promise<{ rows: UserRow[]; total: number }> {
  const scope = { names: q.names, groups: q.groups, nameFilter: q.nameFilter };
  if (q.sort !== 'active') {
    const descending = q.sort.startsWith('-');
    const key = (descending ? q.sort.slice(1) : q.sort) as 'name' | 'last_activity';
    return listUsers(db, { ...scope, offset: q.offset, limit: q.limit, sort: key, descending });
  }
  const active = await listUsers(db, { ...scope, state: 'active', offset: q.offset, limit: q.limit, sort: 'name', descending: false });
  const all = await listUsers(db, { ...scope, offset: 0, limit: 0, sort: 'id', descending: false });
  const activeTotal = active.total;
  const rows = [...active.rows];
  if (rows.length < q.limit) {
    const rest = await listUsers(db, {
      ...scope,
      state: 'inactive',
      offset: Math.max(0, q.offset - activeTotal),
      limit: q.limit - rows.length,
      sort: 'name',
      descending: false,
      count: false,
    });
    rows.push(...rest.rows);
  }
  return { rows, total: all.total };
}

/** The first `limit` groups by name (all, or those named in the viewer's `list:groups` filter) with their member counts: two queries. */
export async function groupSummaries(db: Kysely<DB>, names: string[] | undefined, limit: number): Promise<{ name: string; members: number }[]> {
  if (names !== undefined && names.length === 0) return [];
  let q = db.selectFrom('groups').select(['id', 'name']);
  if (names !== undefined) q = q.where('name', 'in', names);
  const groups = await q.orderBy('name').limit(limit).execute();
  if (!groups.length) return [];
  const counts = await db
    .selectFrom('user_groups')
    .select((eb) => ['group_id', eb.fn.countAll<number>().as('n')])
    .where('group_id', 'in', groups.map((g) => g.id))
    .groupBy('group_id')
    .execute();
  const byId = new Map(counts.map((c) => [c.group_id, Number(c.n)]));
  return groups.map((g) => ({ name: g.name, members: byId.get(g.id) ?? 0 }));
}
