/**
 * Why a user cannot stop their servers now, as the back-ends say
 * (`Spawner.stopBlocker`, e.g. FirecREST without a usable token of the
 * user): asked for each running or pending server when the home page is
 * drawn, each answer bounded in time; an error or no answer in time counts
 * as no blocker (logged), so the page never waits long or fails for it.
 */
import type { ServerRow } from '../db/repos/servers.js';
import { outsideText } from '../lib/outside-text.js';
import { answerWithin } from '../lib/time.js';
import type { Hub } from './context.js';
import { savedState } from './spawner-calls.js';

/** How long the home page waits for one back-end's answer. */
export const STOP_BLOCKER_TIMEOUT_MS = 3000;

/** Characters of a back-end's reason shown at most. */
const REASON_MAX = 500;

/** The reasons the back-ends give, by server name; servers that can be stopped are absent. */
export async function stopBlockers(
  hub: Pick<Hub, 'spawners' | 'log'>,
  user: string,
  rows: ServerRow[],
  timeoutMs = STOP_BLOCKER_TIMEOUT_MS,
): Promise<Map<string, string>> {
  const asked = rows
    .filter((r) => (r.ready || r.pending === 'spawn') && r.pending !== 'stop')
    .map(async (row): Promise<[string, string] | undefined> => {
      const log = hub.log.child({ user, server: row.name });
      try {
        const { spawner } = hub.spawners.forRow(row);
        if (!spawner.stopBlocker) return undefined;
        const state = savedState(spawner, row);
        if (!state.v) return undefined;
        const reason = await answerWithin(spawner.stopBlocker(state, { user, log }), timeoutMs, 'stopBlocker');
        const text = typeof reason === 'string' ? outsideText(reason, REASON_MAX) : '';
        return text === '' ? undefined : [row.name, text];
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'the back-end could not say whether the server can be stopped; taken as it can');
        return undefined;
      }
    });
  return new Map((await Promise.all(asked)).filter((e): e is [string, string] => e !== undefined));
}
