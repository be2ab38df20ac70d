import type { Logger } from 'pino';
import { answerWithin, sleep } from '../lib/time.js';
import { activeServers, type ServerRow } from '../db/repos/servers.js';
import { deleteServerTokens } from '../db/repos/tokens.js';
import type { PollResult, SpawnerState } from '../spawners/spawner.js';
import type { Hub } from './context.js';
import { pollSafely, POLL_TIMEOUT_MS, savedState } from './spawner-calls.js';
import { serverPrefix } from './spawn-env.js';
import type { PostStopHooks } from './spawn-hooks.js';

/**
 * The poll loop: every `poll_interval`, asks each running server's back-end
 * whether it still runs, and clears the servers that stopped by themselves
 * (their route, tokens; the `post_stop_hook` runs). Owned by the
 * {@link ServerManager} (server-manager.ts), which also uses
 * {@link ServerPoller.pollOne} before a start of a server marked ready.
 */
export class ServerPoller {
  private pollTimer: NodeJS.Timeout | undefined;
  /** Aborted by {@link close}: ends the poll loop, including a round waiting between spread polls. */
  private readonly closing = new AbortController();
  /**
   * How long one `poll` or `pollMany` may take before its answer is taken as
   * `unknown`: a scheduler command that hangs must not stall the poll loop,
   * the hub's start-up (re-attach) or a spawn.
   */
  pollTimeoutMs = POLL_TIMEOUT_MS;

  constructor(
    private readonly hub: () => Hub,
    private readonly stopHooks: PostStopHooks,
  ) {}

  private get h(): Hub {
    return this.hub();
  }

  /**
   * Polls a ready server; when it has stopped, clears it and its route.
   * Returns true when it runs, or when its spawner could not tell (`unknown`:
   * a scheduler that cannot be reached never makes a server dead).
   */
  async pollOne(userName: string, row: ServerRow): Promise<boolean> {
    const { spawner } = this.h.spawners.forRow(row);
    let state: SpawnerState;
    try {
      state = savedState(spawner, row);
    } catch (err) {
      this.h.log.warn({ user: userName, server: row.name, err: (err as Error).message }, 'unreadable spawner state; polled again later');
      return true;
    }
    if (!state.v) return false;
    const log = this.h.log.child({ user: userName, server: row.name });
    return this.afterPoll(userName, row, await pollSafely(spawner, state, log, this.pollTimeoutMs), log);
  }

  /** Acts on one poll result of a ready server (see {@link pollOne}). */
  private async afterPoll(userName: string, row: ServerRow, result: PollResult, log: Logger): Promise<boolean> {
    const { db } = this.h;
    if (result.status === 'unknown') {
      log.warn({ reason: result.reason }, 'could not learn whether the server runs; keeping it');
      return true;
    }
    if (result.status !== 'stopped') return true;
    // clear the server only as polled: a poll of a round's snapshot (spread over the interval) must not clear a
    // server that was stopped and started again meanwhile (or is being stopped or started now)
    const cleared = await db
      .updateTable('servers')
      .set({ ready: 0, pending: null, url: null, state: '{}', owner: null })
      .where('id', '=', row.id)
      .where('state', '=', row.state)
      .where('ready', '=', 1)
      .where('pending', 'is', null)
      .executeTakeFirst();
    if (Number(cleared.numUpdatedRows) !== 1) return false;
    log.warn({ exitCode: result.exitCode, reason: result.reason }, 'server stopped by itself');
    this.stopHooks.run(this.h, { user: userName, serverName: row.name, backend: this.h.spawners.forRow(row).name, reason: 'died' });
    await this.h.proxy.deleteRoute(serverPrefix(this.h.urls, userName, row.name)).catch(() => undefined);
    await deleteServerTokens(db, row.user_id, row.name);
    this.h.identities.clear();
    return false;
  }

  /**
   * Polls every ready server every poll_interval (the whole round jittered by
   * 10%). A back-end with `pollMany` gets all its servers in one call (one
   * scheduler query per host); the others' servers are polled one by one,
   * spread over the interval, so that many servers do not mean a burst of
   * commands at the start of each round.
   */
  startPolling(): void {
    const interval = this.h.config.poll_interval * 1000;
    if (!interval) return;
    const tick = async () => {
      const began = Date.now();
      try {
        await this.pollRound(interval * 0.8);
      } catch (err) {
        this.h.log.warn({ err: (err as Error).message }, 'a poll round failed');
      } finally {
        // close() may have come while this round ran: then no further round
        if (!this.closing.signal.aborted) {
          const wait = Math.max(0, interval * (0.9 + Math.random() * 0.2) - (Date.now() - began));
          this.pollTimer = setTimeout(tick, wait);
          this.pollTimer.unref();
        }
      }
    };
    this.pollTimer = setTimeout(tick, interval);
    this.pollTimer.unref();
  }

  /** One round of polls of every ready server, spread over `spreadMs` (see {@link startPolling}). */
  async pollRound(spreadMs = 0): Promise<void> {
    const rows = (await activeServers(this.h.db)).filter((r) => r.ready && !r.pending);
    const single: typeof rows = [];
    const grouped = new Map<string, typeof rows>();
    for (const row of rows) {
      const backend = this.h.spawners.forRow(row);
      if (!backend.spawner.pollMany) single.push(row);
      else grouped.set(backend.name, [...(grouped.get(backend.name) ?? []), row]);
    }
    const batches = [...grouped.values()].map(async (group) => {
      const { spawner } = this.h.spawners.forRow(group[0]!);
      const readable: { row: (typeof rows)[number]; state: SpawnerState }[] = [];
      for (const row of group) {
        try {
          const state = savedState(spawner, row);
          if (state.v) readable.push({ row, state });
        } catch (err) {
          this.h.log.warn({ user: row.user_name, server: row.name, err: (err as Error).message }, 'unreadable spawner state; polled again later');
        }
      }
      if (!readable.length) return;
      const backendLog = this.h.log.child({ backend: this.h.spawners.forRow(group[0]!).name });
      let results: PollResult[];
      try {
        results = await answerWithin(spawner.pollMany!(readable.map((r) => r.state), { log: backendLog }), this.pollTimeoutMs, 'pollMany');
      } catch (err) {
        // the contract says never throw; a back-end that does leaves every one of its servers as it is
        const reason = (err as Error).message;
        backendLog.warn({ err: reason }, 'pollMany failed; keeping every server of this back-end');
        results = readable.map(() => ({ status: 'unknown', reason }));
      }
      for (const [i, { row }] of readable.entries()) {
        const log = this.h.log.child({ user: row.user_name, server: row.name });
        const result = results[i] ?? { status: 'unknown', reason: 'pollMany gave no answer for this server' };
        await this.afterPoll(row.user_name, row, result, log).catch((err: Error) => log.warn({ err: err.message }, 'could not act on a poll result'));
      }
    });
    const gap = single.length > 1 ? spreadMs / single.length : 0;
    const singles = (async () => {
      for (const [i, row] of single.entries()) {
        if (i && gap) await sleep(gap, this.closing.signal).catch(() => undefined);
        if (this.closing.signal.aborted) return;
        await this.pollOne(row.user_name, row).catch((err: Error) => this.h.log.warn({ user: row.user_name, server: row.name, err: err.message }, 'a poll failed'));
      }
    })();
    await Promise.allSettled([...batches, singles]);
  }


  /** Ends the poll loop (a round under way stops between two spread polls). */
  close(): void {
    this.closing.abort();
    if (this.pollTimer) clearTimeout(this.pollTimer);
  }
}

export type { Logger };
