/**
 * The batch spawner's saved state: what identifies a job after a hub
 * restart. Read back from the database, so checked again before any of it
 * reaches a command line.
 */
import type { SpawnerState } from '../spawner.js';
import { accountNameProblem } from '../system-account.js';
import { plausibleHost } from './exechost.js';

/** Version 1 of the batch spawner's state. */
export interface BatchState extends SpawnerState {
  v: 1;
  /** The scheduler's job id (`sbatch --parsable` printed it). */
  job_id: string;
  /** The system account the job runs as (the `{username}` of `exec_prefix`). */
  system_user: string;
  /** Where the scheduler commands ran (the transport's `where`), for messages. */
  where: string;
  /** The host the server runs on (after `state_exechost_exp`), once the job runs. */
  host?: string;
  /** The port the server reported, once it did. */
  port?: number;
  /** The job's log file on the cluster (the default script's `--output`). */
  log?: string;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The state version this spawner writes. */
export const BATCH_STATE_VERSION = 1;

/** A job id as schedulers print them: `123`, `123_4` (array), `123.server` (PBS); at most 64 characters. */
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Why `name` cannot be the system account of a batch job, or undefined when
 * it can: a POSIX account name ({@link accountNameProblem}) other than
 * `root`. The name may come from an identity provider (auth state) or a hub
 * user called `root`; `exec_prefix` (`sudo -u root`) would then submit, and
 * cancel any job id, with the superuser's power.
 */
export function systemUserProblem(name: string): string | undefined {
  return accountNameProblem(name) ?? (name === 'root' ? 'jobs never run as root' : undefined);
}

/** Why `id` is not a job id this spawner would use, or undefined when it is one. */
export function jobIdProblem(id: string): string | undefined {
  return JOB_ID.test(id) ? undefined : `${JSON.stringify(id.slice(0, 80))} is not a job id (letters, digits, '.', '_', '-', at most 64)`;
}

/**
 * The batch state in `state`, or undefined when it names no job (an empty
 * state, a bare `{v: 1}`: nothing was submitted). Throws for a state that
 * names a job in a way this version cannot use (a forged or damaged row).
 */
export function readBatchState(state: SpawnerState): BatchState | undefined {
  const s = state as Partial<BatchState> & Record<string, unknown>;
  if (s.job_id === undefined) return undefined;
  checkJobState(s, BATCH_STATE_VERSION, 'batch spawner');
  if (typeof s.system_user !== 'string' || systemUserProblem(s.system_user)) throw new Error(`batch spawner state of job ${String(s.job_id)} holds a bad system user ${JSON.stringify(s.system_user)}`);
  return s as BatchState;
}

/**
 * The checks every job-based spawner's state shares (batch, FirecREST): its
 * version is `version`, and its job id, host, port and log path are usable.
 * Throws an Error starting with "`what` state" naming the bad field.
 */
export function checkJobState(s: Record<string, unknown>, version: number, what: string): void {
  if (s.v !== version) throw new Error(`${what} state of version ${JSON.stringify(s.v)} cannot be read (this hub knows version ${version})`);
  if (typeof s.job_id !== 'string' || jobIdProblem(s.job_id)) throw new Error(`${what} state holds a bad job id: ${jobIdProblem(String(s.job_id))}`);
  if (s.host !== undefined && (typeof s.host !== 'string' || !plausibleHost(s.host))) throw new Error(`${what} state of job ${s.job_id} holds a bad host`);
  if (s.port !== undefined && !(Number.isInteger(s.port) && (s.port as number) > 0 && (s.port as number) < 65536)) throw new Error(`${what} state of job ${s.job_id} holds a bad port`);
  if (s.log !== undefined && (typeof s.log !== 'string' || !s.log.startsWith('/') || CONTROL.test(s.log))) throw new Error(`${what} state of job ${s.job_id} holds a bad log path`);
}

/**
 * State from the database brought to the current version: version 1 (and a
 * state naming no job) as it is; any other version is refused with a message
 * naming it, so the hub logs it instead of guessing.
 */
export function upgradeBatchState(state: SpawnerState): SpawnerState {
  return upgradeJobState(state, BATCH_STATE_VERSION, 'batch spawner');
}

/** A job-based spawner's state at `version` (or naming no job) as it is; any other version refused, naming it (`what`: the spawner). */
export function upgradeJobState(state: SpawnerState, version: number, what: string): SpawnerState {
  if (state.v === version || (state as Record<string, unknown>)['job_id'] === undefined) return state;
  throw new Error(`${what} state of version ${JSON.stringify(state.v)} cannot be read (this hub knows version ${version}); was it written by a newer Ganymede?`);
}
