/**
 * The hub's guarded calls into a spawner: state read from a server row
 * (upgraded), and polls that never throw or hang. Used by the spawn, stop,
 * poll and re-attach paths of src/hub/server-manager.ts.
 */
import type { Logger } from 'pino';
import { answerWithin } from '../lib/time.js';
import type { PollResult, Spawner, SpawnerState } from '../spawners/spawner.js';

/** The default of `ServerManager.pollTimeoutMs`. */
export const POLL_TIMEOUT_MS = 60_000;

/** A spawner's poll, with a throw (which the contract forbids) or no answer in time taken as `unknown` and logged: never a reason to clear a server. */
export async function pollSafely(spawner: Spawner, state: SpawnerState, log: Logger, timeoutMs: number): Promise<PollResult> {
  try {
    return await answerWithin(spawner.poll(state, { log }), timeoutMs, 'poll');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'the spawner failed to poll; taken as unknown');
    return { status: 'unknown', reason: (err as Error).message };
  }
}

/** A row's spawner state, brought up to date by the spawner's `upgradeState` (which may throw for one it cannot read). */
export function savedState(spawner: Spawner, row: { state: string }): SpawnerState {
  const state = JSON.parse(row.state) as SpawnerState;
  return state.v && spawner.upgradeState ? spawner.upgradeState(state) : state;
}
