/**
 * What a batch scheduler says about one job, as the batch spawner's poll
 * understands it, and how the hub's poll reads it.
 */
import type { PollResult } from '../spawner.js';

/**
 * One job's status, from a scheduler's query output (see the Scheduler's
 * `classify`):
 * - `pending`: queued, not started yet; `reason` is the scheduler's word for
 *   why (Slurm: `Resources`, `Priority`, `PartitionConfig`), when it gave one;
 * - `running`: started; `host` is where it runs (already checked to look like
 *   a host name or an IP address), when the query printed one;
 * - `gone`: the scheduler no longer has the job (it ended, was cancelled, or
 *   was never known); `final` is its last state (e.g. `COMPLETED`,
 *   `CANCELLED`) when the query printed one;
 * - `unknown`: the scheduler could not be asked or its answer was not
 *   understood; `reason` says which. Never a reason to declare a server dead.
 */
export type JobStatus =
  | { state: 'pending'; reason?: string }
  | { state: 'running'; host?: string }
  | { state: 'gone'; final?: string }
  | { state: 'unknown'; reason: string };

/** A job status as the hub's poll result: a job gone is `stopped` (with its final state as the reason). */
export function toPoll(status: JobStatus): PollResult {
  switch (status.state) {
    case 'running':
      return { status: 'running' };
    case 'pending':
      return status.reason ? { status: 'pending', reason: status.reason } : { status: 'pending' };
    case 'gone':
      return status.final ? { status: 'stopped', reason: status.final } : { status: 'stopped' };
    case 'unknown':
      return { status: 'unknown', reason: status.reason };
  }
}
