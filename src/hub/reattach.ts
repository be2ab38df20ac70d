import { isoNow } from '../lib/time.js';
import { activeServers, updateServer, type ServerRow } from '../db/repos/servers.js';
import { getUserById, groupsOfUsers } from '../db/repos/users.js';
import { deleteServerTokens } from '../db/repos/tokens.js';
import { loadAuthState } from '../auth/auth-state.js';
import { forEachBounded } from '../lib/bounded.js';
import type { PollResult, SpawnUser, SpawnerState } from '../spawners/spawner.js';
import { BACKEND_OPTION } from '../spawners/backends.js';
import type { Hub } from './context.js';
import type { SpawnPlan } from './spawn-plan.js';
import { pollSafely, savedState } from './spawner-calls.js';
import { serverPrefix } from './spawn-env.js';
import { waitForHttp } from './wait-up.js';
import type { ProgressLog } from './progress.js';
import type { PostStopHooks } from './spawn-hooks.js';
import type { SpawnQueue } from './spawn-queue.js';

/** Servers re-attached at once at start-up (each is a poll and one local HTTP check). */
const REATTACH_CONCURRENCY = 64;

/** A spawn an earlier hub process began, to be resumed by this one (ServerManager's launch). */
export type ResumedSpawn = SpawnPlan & { resumeState: SpawnerState };

/** What re-attaching needs of the server manager (server-manager.ts). */
export interface ReattachHost {
  hub(): Hub;
  readonly pollTimeoutMs: number;
  readonly stopHooks: PostStopHooks;
  readonly progress: ProgressLog;
  readonly queue: SpawnQueue;
  /** Runs a resumed spawn in the background, as a spawn of this process. */
  resume(row: ServerRow, spawn: ResumedSpawn): void;
}

/**
 * At start-up: re-attaches to servers that a previous hub process started,
 * each through the back-end its row records.
 * - A server whose spawner says it runs (or cannot tell: `unknown`) and that
 *   answers HTTP is kept; one marked ready that does not answer yet is kept
 *   too (the poll loop notices if it dies).
 * - A spawn still under way on a resumable back-end (a job still queued) is
 *   resumed: this process goes on waiting for it, nothing is cancelled.
 * - A stop still under way is finished (the server is stopped and cleared).
 * - Anything else is gone or cannot be finished: it is cleaned up.
 */
export async function reattachAll(m: ReattachHost): Promise<{ kept: number; cleared: number; resumed: number }> {
  const h = m.hub();
  const { db, urls } = h;
  let kept = 0;
  let cleared = 0;
  let resumed = 0;
  // queued spawns of earlier processes are dropped (their servers are cleared below); another live hub's are left alone
  const othersQueued = await m.queue.forRestart();
  const rows = (await activeServers(db)).filter((r) => !othersQueued.has(r.id));
  // bounded: a thousand servers are checked a few dozen at a time, not with a thousand sockets at once
  await forEachBounded(rows, REATTACH_CONCURRENCY, async (row) => {
      const log = h.log.child({ user: row.user_name, server: row.name });
      const { spawner } = h.spawners.forRow(row);
      let state: SpawnerState;
      try {
        state = savedState(spawner, row);
      } catch (err) {
        if (row.ready && row.pending !== 'stop') {
          // a running server whose state this version cannot read (a newer one wrote it): clearing it would forget a job that runs on;
          // it is kept as it is, as the poll loop keeps it, and a stop clears it
          log.error({ err: (err as Error).message }, 'unreadable spawner state; the running server is kept as it is (stopping it clears it)');
          await updateServer(db, row.id, { pending: null, owner: h.processId });
          kept++;
          return;
        }
        log.error({ err: (err as Error).message }, 'unreadable spawner state; the server is cleared');
        state = { v: 0 };
      }
      const prefix = serverPrefix(urls, row.user_name, row.name);
      if (row.pending === 'stop') {
        // a stop the previous process did not finish: finish it (the user asked for it), never revive the server
        if (state.v) await spawner.stop(state, { log }).catch((err: Error) => log.warn({ err: err.message }, 'could not finish an interrupted stop'));
        await h.proxy.deleteRoute(prefix).catch(() => undefined);
        await updateServer(db, row.id, { ready: 0, pending: null, url: null, state: '{}', owner: null });
        await deleteServerTokens(db, row.user_id, row.name);
        cleared++;
        m.stopHooks.run(h, { user: row.user_name, serverName: row.name, backend: h.spawners.forRow(row).name, reason: 'finished-after-restart' });
        log.info('finished a stop an earlier hub process began');
        return;
      }
      const status: PollResult['status'] = state.v ? (await pollSafely(spawner, state, log, m.pollTimeoutMs)).status : 'stopped';
      const alive = status !== 'stopped';
      if (alive && row.url) {
        let up = true;
        try {
          await waitForHttp(`${row.url}${prefix}api`, { timeoutMs: 5000, label: prefix });
        } catch {
          up = false;
        }
        if (up) {
          // a spawn the previous process left pending is finished now: it gets its start time
          const now = isoNow();
          const times = row.started ? {} : { started: now, last_activity: row.last_activity ?? now };
          await updateServer(db, row.id, { ready: 1, pending: null, owner: h.processId, ...times });
          kept++;
          log.info({ url: row.url }, 're-attached to running server');
          return;
        }
        if (row.ready) {
          // running but not answering now: keep it, the poll loop will notice if it dies
          await updateServer(db, row.id, { pending: null, owner: h.processId });
          kept++;
          log.warn({ url: row.url }, 're-attached to a running server that does not answer HTTP yet');
          return;
        }
      }
      if (alive && row.pending === 'spawn' && spawner.resumable) {
        const user = await getUserById(db, row.user_id);
        if (user) {
          await updateServer(db, row.id, { owner: h.processId, url: null });
          const spawnUser: SpawnUser = { name: user.name, admin: !!user.admin, groups: (await groupsOfUsers(db, [user.id])).get(user.id) ?? [] };
          const stored = JSON.parse(row.user_options) as Record<string, unknown>;
          const options = { ...stored };
          delete options[BACKEND_OPTION];
          const authState = await loadAuthState(db, h.crypt, user.id, log);
          m.progress.reset(row.id);
          m.resume(row, { user, spawnUser, backend: h.spawners.forRow(row), options, stored, authState, resumeState: state });
          resumed++;
          log.info({ status }, 'resumed waiting for a server whose spawn an earlier hub process began');
          return;
        }
      }
      if (alive && state.v && row.pending === 'spawn') {
        // an interrupted spawn this back-end cannot resume: clean it up
        await spawner.stop(state, { log }).catch(() => undefined);
      }
      await h.proxy.deleteRoute(prefix).catch(() => undefined);
      await updateServer(db, row.id, { ready: 0, pending: null, url: null, state: '{}', owner: null });
      await deleteServerTokens(db, row.user_id, row.name);
      cleared++;
      log.info('cleared a server that is no longer running');
  });
  return { kept, cleared, resumed };
}

