/**
 * Fills a hub's database fast for tests and benchmarks at scale (50,000
 * users): multi-row inserts through Kysely, no API calls. Users are named
 * `<prefix><n>` with n zero-padded to 5 digits; every `activityEvery`-th has a
 * last activity (one minute apart), the others none. `running` users get a
 * default server row marked ready at a URL nobody listens on (keep the poll
 * loop off, as the test hub's `poll_interval: 0` does).
 */
import type { Kysely } from 'kysely';
import type { DB } from '../../src/db/schema.js';

export interface BulkUsers {
  count: number;
  prefix?: string;
  /** how many of the first users get a ready default server (default 0) */
  running?: number;
  /** every n-th user has a last activity (default 2) */
  activityEvery?: number;
  /** the spawner back-end recorded on the servers (default `default`) */
  spawner?: string;
}

export const bulkName = (prefix: string, i: number): string => `${prefix}${String(i).padStart(5, '0')}`;

export async function insertUsers(db: Kysely<DB>, opts: BulkUsers): Promise<void> {
  const prefix = opts.prefix ?? 'user';
  const every = opts.activityEvery ?? 2;
  const base = Date.parse('2026-01-01T00:00:00.000Z');
  const chunk = 500; // 6 columns: under SQLite's and PostgreSQL's bind-parameter limits
  for (let start = 0; start < opts.count; start += chunk) {
    const rows = [];
    for (let i = start; i < Math.min(opts.count, start + chunk); i++) {
      rows.push({
        name: bulkName(prefix, i),
        admin: 0,
        created: new Date(base).toISOString(),
        last_activity: i % every === 0 ? new Date(base + i * 60_000).toISOString() : null,
        auth_state: null,
        last_refresh: null,
      });
    }
    await db.insertInto('users').values(rows).execute();
  }
  const running = Math.min(opts.running ?? 0, opts.count);
  if (!running) return;
  const ids = await db.selectFrom('users').select(['id', 'name']).where('name', '>=', bulkName(prefix, 0)).where('name', '<=', bulkName(prefix, running - 1)).execute();
  for (let start = 0; start < ids.length; start += chunk) {
    const rows = ids.slice(start, start + chunk).map((u) => ({
      user_id: u.id,
      name: '',
      state: '{}',
      url: 'http://127.0.0.1:9',
      spawner: opts.spawner ?? 'default',
      started: new Date(base).toISOString(),
      last_activity: new Date(base).toISOString(),
      user_options: '{}',
      pending: null,
      ready: 1,
      owner: null,
      reported_port: null,
    }));
    await db.insertInto('servers').values(rows).execute();
  }
}
