/**
 * Queries built and compiled by Kysely once, then run with new parameters:
 * the hot API paths skip building the query tree and compiling it to SQL
 * (about half of a small query's cost), on SQLite and PostgreSQL alike.
 * SQLite's statement cache (database.ts) then finds the SQL text it has
 * already prepared.
 */
import { SqliteAdapter, type CompiledQuery, type Compilable, type Kysely } from 'kysely';
import type { DB } from './schema.js';

/** The SQL dialect behind a Kysely instance. */
export function dialectOf(db: Kysely<DB>): 'sqlite' | 'postgres' {
  return db.getExecutor().adapter instanceof SqliteAdapter ? 'sqlite' : 'postgres';
}

/** A marker value standing for the `i`-th parameter while the query is compiled. */
const marker = (i: number) => `\u0000ganymede-param-${i}\u0000`;

/**
 * A query compiled once per database. `build` receives placeholders for the
 * `arity` parameters and must use each only as a bound value; calls then
 * pass the real values in the same order.
 */
export function preparedQuery<R>(arity: number, build: (db: Kysely<DB>, params: string[]) => Compilable<R>): (db: Kysely<DB>, ...values: unknown[]) => Promise<R[]> {
  const compiled = new WeakMap<Kysely<DB>, { query: CompiledQuery<R>; slots: number[] }>();
  return async (db, ...values) => {
    let c = compiled.get(db);
    if (!c) {
      const markers = Array.from({ length: arity }, (_, i) => marker(i));
      const query = build(db, markers).compile();
      const slots = query.parameters.map((p) => markers.indexOf(p as string));
      if (slots.some((s) => s < 0)) throw new Error('preparedQuery: every parameter of the query must be one of the placeholders');
      c = { query, slots };
      compiled.set(db, c);
    }
    if (values.length !== arity) throw new Error(`preparedQuery: expected ${arity} values, got ${values.length}`);
    const { query, slots } = c;
    const result = await db.executeQuery<R>({ ...query, parameters: slots.map((s) => values[s]) });
    return result.rows;
  };
}
