import os from 'node:os';
import type { Hub } from './context.js';
import { isoNow } from '../lib/time.js';
import { admitWaiting, dropEntries, leaveQueue, queueEntries, reserveSpawn } from '../db/repos/spawn-queue.js';
import { overUserLimit, tooManyActive, tooManySpawns, userServerLimit } from './spawn-limits.js';
import { HubError } from '../lib/errors.js';

/** A claimed spawn: admitted at once (no `entryId`) or waiting in the queue. */
export interface SpawnTicket {
  serverId: number;
  entryId?: number;
  position?: number;
}

interface Waiter {
  serverId: number;
  since: number;
  admit: (admitted: boolean) => void;
  /** Pushes a progress message to the spawn's events. */
  say: (message: string) => void;
  /** Ends the wait of a spawn whose entry another process removed (this one was taken as dead). */
  lost: () => void;
  /** Set while the spawn leaves the queue on its own (stopped, or max_wait): its entry is gone for that reason. */
  leaving?: boolean;
  /** The last position told to the user (to push a progress event only when it changes). */
  told?: string;
}

/** Spawn durations remembered for the queue's estimates. */
const RECENT = 50;

/**
 * The fair FIFO spawn queue of this process (the queue itself is in the
 * database, src/db/repos/spawn-queue.ts). {@link reserve} checks the limits
 * and claims a spawn at once; a spawn over `concurrent_spawn_limit` then
 * waits in {@link wait}. One re-check loop serves every waiter of the
 * process: it runs at once when a spawn of this process ends, and every
 * `spawn_queue.check_interval` while anyone waits (for slots freed by other
 * processes). Every option is read from `hub.config` when used.
 */
export class SpawnQueue {
  private readonly waiters = new Map<number, Waiter>();
  private readonly durations: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(private readonly hub: () => Hub) {}

  /**
   * Checks every limit and claims the server's spawn, atomically with the
   * other hub processes. Throws HubError: 429 over `active_server_limit` or
   * with the queue full, 403 over the user's own limit, 400 when the server
   * is already pending or running.
   */
  async reserve(user: { id: number; name: string }, groups: readonly string[], serverId: number, label: string): Promise<SpawnTicket> {
    const { config, db, dialect } = this.hub();
    const own = userServerLimit(config, groups);
    const r = await reserveSpawn(db, dialect, {
      serverId,
      userId: user.id,
      owner: this.hub().processId,
      now: isoNow(),
      concurrentLimit: config.concurrent_spawn_limit,
      activeLimit: config.active_server_limit,
      maxLength: config.spawn_queue.max_length,
      userLimit: own.limit,
    });
    if (r.kind === 'admitted') return { serverId };
    if (r.kind === 'queued') return { serverId, entryId: r.entryId, position: r.position };
    if (r.reason === 'busy') throw new HubError(400, `${label} is already pending or running`);
    if (r.reason === 'active-limit') {
      this.hub().metrics.spawnEnded('too-many-users', 0);
      throw tooManyActive();
    }
    if (r.reason === 'user-limit') throw overUserLimit(user.name, own.limit, own.group);
    this.hub().metrics.queueWaited('refused', 0);
    this.hub().metrics.spawnEnded('throttled', 0);
    throw tooManySpawns(this.estimate(r.count));
  }

  /**
   * Waits until a queued spawn is admitted; resolves true then. Resolves
   * false when it leaves the queue instead: `signal` aborted (a stop; the
   * stop resets the server), or `spawn_queue.max_wait` passed (the server is
   * reset and the spawn fails with JupyterHub's 429 message).
   */
  wait(ticket: SpawnTicket, signal: AbortSignal, say: (message: string) => void): Promise<boolean> {
    const entryId = ticket.entryId;
    if (entryId === undefined) return Promise.resolve(true);
    const since = Date.now();
    return new Promise<boolean>((resolve) => {
      let maxWait: NodeJS.Timeout | undefined;
      const done = (admitted: boolean, outcome: string) => {
        if (!this.waiters.delete(entryId)) return;
        clearTimeout(maxWait);
        signal.removeEventListener('abort', onAbort);
        this.hub().metrics.queueWaited(outcome, (Date.now() - since) / 1000);
        resolve(admitted);
      };
      // leaving the queue races with an admission: whichever removes the entry first decides
      const leave = async (outcome: 'cancelled' | 'timeout') => {
        waiter.leaving = true;
        const left = await leaveQueue(this.hub().db, entryId, outcome === 'timeout').catch(() => false);
        if (!left) return; // admitted meanwhile: the round that admitted it resolves it
        if (outcome === 'timeout') {
          const err = tooManySpawns(this.estimate(this.waiters.size));
          this.hub().servers.progress.fail(ticket.serverId, err.message, undefined, { status: 429 });
        }
        done(false, outcome);
        this.wake();
      };
      const onAbort = () => void leave('cancelled');
      const lost = () => {
        this.hub().servers.progress.fail(ticket.serverId, 'the spawn was dropped from the queue (this hub process did not re-check it in time); start it again');
        done(false, 'lost');
      };
      const waiter: Waiter = { serverId: ticket.serverId, since, say, lost, admit: (ok) => done(ok, 'admitted') };
      this.waiters.set(entryId, waiter);
      signal.addEventListener('abort', onAbort, { once: true });
      const seconds = this.hub().config.spawn_queue.max_wait;
      if (seconds > 0) {
        maxWait = setTimeout(() => void leave('timeout'), seconds * 1000);
        // a hub stopping (or a test's hub left behind) is not held open by a queued spawn's deadline
        maxWait.unref();
      }
      const position = ticket.position ?? this.waiters.size;
      this.tell(waiter, position, Math.max(position, this.waiters.size));
      this.wake();
    });
  }

  /** Runs a spawn that was admitted, remembering how long it took; a slot it frees admits the next at once. */
  async timed(run: () => Promise<void>): Promise<void> {
    const began = Date.now();
    try {
      await run();
    } finally {
      this.durations.push(Date.now() - began);
      if (this.durations.length > RECENT) this.durations.shift();
      this.wake();
    }
  }

  /** Seconds until a spawn at `position` is admitted, from recent spawn times; undefined before any spawn ended here. */
  estimate(position: number): number | undefined {
    if (!this.durations.length) return undefined;
    const mean = this.durations.reduce((a, b) => a + b, 0) / this.durations.length / 1000;
    const limit = this.hub().config.concurrent_spawn_limit || 1;
    return (position * mean) / limit;
  }

  /** The message the progress stream and the pending page show for a queued spawn. */
  describe(position: number, length: number): string {
    const eta = this.estimate(position);
    const about = eta === undefined ? '' : `, about ${eta < 60 ? `${Math.max(1, Math.round(eta))} s` : `${Math.round(eta / 60)} min`}`;
    return `Waiting in the spawn queue: position ${position} of ${length}${about}`;
  }

  private tell(w: Waiter, position: number, length: number): void {
    const text = this.describe(position, length);
    if (text === w.told) return;
    w.told = text;
    w.say(text);
  }

  /** Asks for a re-check now (coalesced with one running). */
  wake(): void {
    if (this.closed || !this.waiters.size) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.round()
      .catch((err: Error) => this.hub().log.warn({ err: err.message }, 'a spawn queue re-check failed; retried'))
      .finally(() => {
        this.running = undefined;
        if (this.closed || !this.waiters.size) return;
        if (this.again) {
          this.again = false;
          this.wake();
          return;
        }
        const every = this.hub().config.spawn_queue.check_interval * 1000;
        this.timer = setTimeout(() => this.wake(), every * (0.8 + Math.random() * 0.4));
        this.timer.unref();
      });
  }

  private async round(): Promise<void> {
    const hub = this.hub();
    const every = hub.config.spawn_queue.check_interval * 1000;
    const began = Date.now();
    const round = await admitWaiting(hub.db, hub.dialect, {
      owner: hub.processId,
      now: isoNow(),
      staleBefore: new Date(Date.now() - staleMs(every)).toISOString(),
      concurrentLimit: hub.config.concurrent_spawn_limit,
    });
    if (round.stale.length) hub.log.warn({ servers: round.stale.length }, 'removed queued spawns of a hub process that stopped re-checking');
    for (const id of round.admitted) this.waiters.get(id)?.admit(true);
    // a waiter older than this round whose entry is gone, not admitted: removed by another process (or leaving now)
    const present = new Set([...round.admitted, ...round.waiting.map((e) => e.id)]);
    for (const [id, w] of this.waiters) if (w.since < began && !present.has(id) && !w.leaving) w.lost();
    const length = round.waiting.length;
    round.waiting.forEach((e, i) => {
      const w = this.waiters.get(e.id);
      if (w) this.tell(w, i + 1, length);
    });
  }

  /**
   * At start-up (before re-attaching servers): the queue entries of earlier
   * processes are cleared, so that their servers are reset as any spawn that
   * cannot be resumed; the users start them again. Entries of another hub
   * process that still runs are left alone: their server ids are returned,
   * for the re-attach to skip. An owner on this host whose pid is gone (or is
   * this pid, started earlier) is dead; one elsewhere is alive while it
   * re-checks.
   */
  async forRestart(): Promise<Set<number>> {
    const hub = this.hub();
    const fresh = Date.now() - staleMs(hub.config.spawn_queue.check_interval * 1000);
    const entries = await queueEntries(hub.db);
    const live = entries.filter((e) => e.owner !== hub.processId && !deadHere(e.owner) && Date.parse(e.seen) >= fresh);
    await dropEntries(
      hub.db,
      entries.filter((e) => !live.includes(e)).map((e) => e.id),
    );
    return new Set(live.map((e) => e.server_id));
  }

  /** Stops the re-check loop (the hub closes); waiters are left as a killed process leaves them. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}

/** Whether `owner` (`pid@host:start`, see `Hub.processId`) names a process of this host that no longer runs. */
function deadHere(owner: string): boolean {
  const m = /^(\d+)@(.*):\d+$/.exec(owner);
  if (!m || m[2] !== os.hostname()) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return true; // an earlier hub of this process (its own entries are never cleared here)
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** How long an entry may go without a re-check before its process is taken as dead. */
function staleMs(checkEveryMs: number): number {
  return Math.max(15_000, 20 * checkEveryMs);
}
