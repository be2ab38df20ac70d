/**
 * What a batch scheduler says about one job, as the batch spawner's poll
 * understands it. Types only.
 */

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
