/**
 * `column IN (ids)` with the list bound as one parameter: a JSON array read by
 * `json_each` on SQLite, an integer array on PostgreSQL. A page of 200 users
 * then runs one cached statement instead of compiling and binding 200 values.
 */
import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { DB } from './schema.js';
import { dialectOf } from './prepared.js';

export function idIn(db: Kysely<DB>, column: string, ids: readonly number[]): Expression<SqlBool> {
  const ref = sql.ref(column);
  if (dialectOf(db) === 'sqlite') return sql<SqlBool>`${ref} in (select value from json_each(${JSON.stringify(ids)}))`;
  return sql<SqlBool>`${ref} = any(${sql.val([...ids])}::int[])`;
}
