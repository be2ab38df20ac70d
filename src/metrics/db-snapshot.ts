import type { ExpressionBuilder, Kysely } from 'kysely';
import type { DB } from '../db/schema.js';

/** The periods of `jupyterhub_active_users{period}`, as JupyterHub's ActiveUserPeriods, in hours. */
export const ACTIVE_PERIODS = { '24h': 24, '7d': 7 * 24, '30d': 30 * 24 } as const;
export type ActivePeriod = keyof typeof ACTIVE_PERIODS;

/** What the gauges read from the database at a scrape. */
export interface DbSnapshot {
  totalUsers: number;
  activeUsers: Record<ActivePeriod, number>;
  runningServers: number;
  queueLength: number;
}

/**
 * Reads the database gauges in two queries (one pass over `users`, one over
 * `servers`) plus the queue's length. `users.last_activity` is an ISO-8601
 * UTC string, so comparing strings compares times.
 */
export async function readSnapshot(db: Kysely<DB>, queueLength: (db: Kysely<DB>) => Promise<number>, now = Date.now()): Promise<DbSnapshot> {
  const since = (hours: number) => new Date(now - hours * 3600_000).toISOString();
  const active = (eb: ExpressionBuilder<DB, 'users'>, hours: number) =>
    eb.fn.sum<number>(eb.case().when('last_activity', '>=', since(hours)).then(1).else(0).end());
  const [users, servers, queued] = await Promise.all([
    db
      .selectFrom('users')
      .select((eb) => [
        eb.fn.countAll<number>().as('total'),
        active(eb, ACTIVE_PERIODS['24h']).as('d1'),
        active(eb, ACTIVE_PERIODS['7d']).as('d7'),
        active(eb, ACTIVE_PERIODS['30d']).as('d30'),
      ])
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('servers')
      .select((eb) => eb.fn.countAll<number>().as('running'))
      .where('ready', '=', 1)
      .executeTakeFirstOrThrow(),
    queueLength(db),
  ]);
  return {
    totalUsers: Number(users.total),
    activeUsers: { '24h': Number(users.d1 ?? 0), '7d': Number(users.d7 ?? 0), '30d': Number(users.d30 ?? 0) },
    runningServers: Number(servers.running),
    queueLength: queued,
  };
}

/**
 * {@link readSnapshot} kept for `ttlMs`: the gauges of one scrape share one
 * read, and scrapes close together (several Prometheus replicas) share it too.
 */
export class CachedSnapshot {
  private last: { at: number; value: Promise<DbSnapshot> } | undefined;
  constructor(
    private readonly read: () => Promise<DbSnapshot>,
    private readonly ttlMs = 1000,
  ) {}

  get(): Promise<DbSnapshot> {
    const now = Date.now();
    if (this.last && now - this.last.at < this.ttlMs) return this.last.value;
    const value = this.read();
    this.last = { at: now, value };
    // a failed read is not kept: the next scrape tries again
    value.catch(() => {
      if (this.last?.value === value) this.last = undefined;
    });
    return value;
  }

  /** Forgets the cached read (tests that change the state between two scrapes). */
  clear(): void {
    this.last = undefined;
  }
}
