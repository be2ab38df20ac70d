import { sql, type Kysely, type Transaction } from 'kysely';
import type { Dialect } from '../database.js';
import type { DB } from '../schema.js';
import { claimSpawn } from './servers.js';

/**
 * The spawn queue in the database: admission under `concurrent_spawn_limit`
 * and the other server limits is decided in one serialised transaction, so
 * that several hub processes on one database never admit more than the limit.
 *
 * A spawn "in progress" is a server with `pending = 'spawn'` and no queue
 * entry; a queued spawn is a server with `pending = 'spawn'` and an entry.
 */

/** The key of the PostgreSQL advisory lock that serialises admission ("gany"). */
const ADVISORY_KEY = 0x67616e79;

/**
 * Runs `fn` in a transaction that no other admission (of any process) runs
 * beside. PostgreSQL: a transaction-scoped advisory lock (a conditional
 * UPDATE with a count subquery is not safe under READ COMMITTED). SQLite: one
 * connection per process runs one transaction at a time, and the database
 * allows one writer.
 */
export async function serialised<T>(db: Kysely<DB>, dialect: Dialect, fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${sql.lit(ADVISORY_KEY)})`.execute(trx);
    return fn(trx);
  });
}

/** Spawns in progress: servers pending spawn that are not waiting in the queue. */
export async function spawnsInProgress(db: Kysely<DB>): Promise<number> {
  const row = await db
    .selectFrom('servers')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('pending', '=', 'spawn')
    .where((eb) => eb.not(eb.exists(eb.selectFrom('spawn_queue').select('spawn_queue.id').whereRef('spawn_queue.server_id', '=', 'servers.id'))))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** How many spawns wait in the queue (for the metrics' gauge). */
export async function queueLength(db: Kysely<DB>): Promise<number> {
  const row = await db.selectFrom('spawn_queue').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function countServers(db: Kysely<DB>, userId?: number): Promise<number> {
  let q = db
    .selectFrom('servers')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where((eb) => eb.or([eb('ready', '=', 1), eb('pending', 'is not', null)]));
  if (userId !== undefined) q = q.where('user_id', '=', userId);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

export interface ReserveRequest {
  serverId: number;
  userId: number;
  owner: string;
  now: string;
  /** 0: no limit. */
  concurrentLimit: number;
  /** 0: no limit. */
  activeLimit: number;
  /** Most waiting entries; 0: none may wait. */
  maxLength: number;
  /** Most servers (running or pending) of this user; 0: no limit. */
  userLimit: number;
}

export type Reservation =
  | { kind: 'admitted' }
  | { kind: 'queued'; entryId: number; position: number }
  | { kind: 'refused'; reason: 'busy' | 'active-limit' | 'user-limit' | 'queue-full'; count: number };

/**
 * Checks the limits and claims the server's spawn in one serialised step:
 * admitted at once when nobody waits and a slot is free, else queued at the
 * end (when the queue has room). A refusal writes nothing.
 */
export async function reserveSpawn(db: Kysely<DB>, dialect: Dialect, r: ReserveRequest): Promise<Reservation> {
  return serialised(db, dialect, async (trx) => {
    if (r.activeLimit) {
      const active = await countServers(trx);
      if (active >= r.activeLimit) return { kind: 'refused', reason: 'active-limit', count: active };
    }
    if (r.userLimit) {
      const mine = await countServers(trx, r.userId);
      if (mine >= r.userLimit) return { kind: 'refused', reason: 'user-limit', count: mine };
    }
    const waiting = await queueLength(trx);
    const direct = !r.concurrentLimit || (waiting === 0 && (await spawnsInProgress(trx)) < r.concurrentLimit);
    if (!direct && waiting >= r.maxLength) return { kind: 'refused', reason: 'queue-full', count: waiting };
    if (!(await claimSpawn(trx, r.serverId, r.owner))) return { kind: 'refused', reason: 'busy', count: 0 };
    if (direct) return { kind: 'admitted' };
    const entry = await trx
      .insertInto('spawn_queue')
      .values({ server_id: r.serverId, owner: r.owner, enqueued: r.now, seen: r.now })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { kind: 'queued', entryId: entry.id, position: waiting + 1 };
  });
}

export interface QueueRound {
  /** Entries of this process admitted now (deleted from the queue), by id. */
  admitted: number[];
  /** Entries of dead processes removed now, by server id. */
  stale: number[];
  /** Every entry still waiting, in queue order. */
  waiting: { id: number; server_id: number }[];
}

/**
 * One re-check by a process with waiting spawns: marks its entries seen,
 * removes the entries of processes not seen since `staleBefore` (their
 * servers are reset), and admits, of the first entries that fit under the
 * limit, those of this process. An entry of another process among the first
 * keeps its slot until that process takes it.
 */
export async function admitWaiting(
  db: Kysely<DB>,
  dialect: Dialect,
  r: { owner: string; now: string; staleBefore: string; concurrentLimit: number },
): Promise<QueueRound> {
  return serialised(db, dialect, async (trx) => {
    await trx.updateTable('spawn_queue').set({ seen: r.now }).where('owner', '=', r.owner).execute();
    const stale = (await trx.selectFrom('spawn_queue').select('server_id').where('seen', '<', r.staleBefore).execute()).map((s) => s.server_id);
    if (stale.length) {
      await trx.deleteFrom('spawn_queue').where('server_id', 'in', stale).execute();
      await trx.updateTable('servers').set({ pending: null, owner: null }).where('id', 'in', stale).where('pending', '=', 'spawn').where('ready', '=', 0).execute();
    }
    const free = r.concurrentLimit ? r.concurrentLimit - (await spawnsInProgress(trx)) : Number.MAX_SAFE_INTEGER;
    let admitted: number[] = [];
    if (free > 0) {
      const head = await trx.selectFrom('spawn_queue').select(['id', 'owner']).orderBy('id').limit(Math.min(free, 100_000)).execute();
      admitted = head.filter((e) => e.owner === r.owner).map((e) => e.id);
      if (admitted.length) await trx.deleteFrom('spawn_queue').where('id', 'in', admitted).execute();
    }
    const waiting = await trx.selectFrom('spawn_queue').select(['id', 'server_id']).orderBy('id').execute();
    return { admitted, stale, waiting };
  });
}

/**
 * Takes a spawn out of the queue (given up or cancelled). Returns false when
 * it was no longer there (admitted meanwhile). With `resetServer`, its
 * server's pending spawn is cleared in the same transaction.
 */
export async function leaveQueue(db: Kysely<DB>, entryId: number, resetServer: boolean): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const gone = await trx.deleteFrom('spawn_queue').where('id', '=', entryId).returning('server_id').executeTakeFirst();
    if (!gone) return false;
    if (resetServer) {
      await trx.updateTable('servers').set({ pending: null, owner: null }).where('id', '=', gone.server_id).where('pending', '=', 'spawn').where('ready', '=', 0).execute();
    }
    return true;
  });
}

/** Every queue entry, for the start-up re-attach: whose and when last seen. */
export async function queueEntries(db: Kysely<DB>): Promise<{ id: number; server_id: number; owner: string; seen: string }[]> {
  return db.selectFrom('spawn_queue').select(['id', 'server_id', 'owner', 'seen']).orderBy('id').execute();
}

/** Removes queue entries by id (the start-up re-attach clears those of a dead process). */
export async function dropEntries(db: Kysely<DB>, ids: number[]): Promise<void> {
  if (ids.length) await db.deleteFrom('spawn_queue').where('id', 'in', ids).execute();
}
