/**
 * The FirecREST spawner's saved state: what identifies a job after a hub
 * restart. Read back from the database, so checked again before any of it
 * reaches a URL or a message.
 */
import type { SpawnerState } from '../spawner.js';
import { checkJobState, upgradeJobState } from '../batch/batch-state.js';

/** Version 1 of the FirecREST spawner's state. */
export interface FirecrestState extends SpawnerState {
  v: 1;
  /** FirecREST's job id (`jobId` of the submit answer). */
  job_id: string;
  /** The FirecREST system the job runs on. */
  system: string;
  /** The hub user whose token submitted the job (and polls and cancels it). */
  user: string;
  /** The host the server runs on, once the job runs. */
  host?: string;
  /** The port the server reported, once it did. */
  port?: number;
  /** The job's log file on the system (its `standardOutput`). */
  log?: string;
}

/** The state version this spawner writes. */
export const FIRECREST_STATE_VERSION = 1;

const SYSTEM = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The FirecREST state in `state`, or undefined when it names no job (an
 * empty state, a bare `{v: 1}`: nothing was submitted). Throws for a state
 * that names a job in a way this version cannot use (a forged or damaged row).
 */
export function readFirecrestState(state: SpawnerState): FirecrestState | undefined {
  const s = state as Partial<FirecrestState> & Record<string, unknown>;
  if (s.job_id === undefined) return undefined;
  checkJobState(s, FIRECREST_STATE_VERSION, 'FirecREST spawner');
  if (typeof s.system !== 'string' || !SYSTEM.test(s.system)) throw new Error(`FirecREST spawner state of job ${String(s.job_id)} holds a bad system name`);
  if (typeof s.user !== 'string' || s.user === '' || CONTROL.test(s.user)) throw new Error(`FirecREST spawner state of job ${String(s.job_id)} holds a bad user name`);
  return s as FirecrestState;
}

/**
 * State from the database brought to the current version: version 1 (and a
 * state naming no job) as it is; any other version is refused with a message
 * naming it.
 */
export function upgradeFirecrestState(state: SpawnerState): SpawnerState {
  return upgradeJobState(state, FIRECREST_STATE_VERSION, 'FirecREST spawner');
}
