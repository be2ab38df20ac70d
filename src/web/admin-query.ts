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
