/**
 * `column IN (ids)` with the list bound as one parameter: a JSON array read by
 * `json_each` on SQLite, an integer array on PostgreSQL. A page of 200 users
 * then runs one statement whose SQL never changes (so it can be compiled once,
 * see prepared.ts) instead of compiling and binding 200 values.
 */
import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { DB } from './schema.js';
import { dialectOf } from './prepared.js';

/** The bound value standing for `ids` in an idIn expression. */
export function idListValue(db: Kysely<DB>, ids: readonly number[]): unknown {
  return dialectOf(db) === 'sqlite' ? JSON.stringify(ids) : [...ids];
}

/** `column IN (list)`, where `list` is idListValue's value (or a preparedQuery placeholder for it). */
export function idInList(db: Kysely<DB>, column: string, list: unknown): Expression<SqlBool> {
  const ref = sql.ref(column);
  if (dialectOf(db) === 'sqlite') return sql<SqlBool>`${ref} in (select value from json_each(${list}))`;
  return sql<SqlBool>`${ref} = any(${list}::int[])`;
}

export function idIn(db: Kysely<DB>, column: string, ids: readonly number[]): Expression<SqlBool> {
  return idInList(db, column, idListValue(db, ids));
}
