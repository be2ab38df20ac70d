/**
 * The FirecREST spawner's saved state: what identifies a job after a hub
 * restart. Read back from the database, so checked again before any of it
 * reaches a URL or a message.
 */
import type { SpawnerState } from '../spawner.js';
import { jobIdProblem } from '../batch/batch-state.js';
import { plausibleHost } from '../batch/exechost.js';

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
  if (s.v !== FIRECREST_STATE_VERSION) throw new Error(`FirecREST spawner state of version ${JSON.stringify(s.v)} cannot be read (this hub knows version ${FIRECREST_STATE_VERSION})`);
  if (typeof s.job_id !== 'string' || jobIdProblem(s.job_id)) throw new Error(`FirecREST spawner state holds a bad job id: ${jobIdProblem(String(s.job_id))}`);
  if (typeof s.system !== 'string' || !SYSTEM.test(s.system)) throw new Error(`FirecREST spawner state of job ${s.job_id} holds a bad system name`);
  if (typeof s.user !== 'string' || s.user === '' || CONTROL.test(s.user)) throw new Error(`FirecREST spawner state of job ${s.job_id} holds a bad user name`);
  if (s.host !== undefined && (typeof s.host !== 'string' || !plausibleHost(s.host))) throw new Error(`FirecREST spawner state of job ${s.job_id} holds a bad host`);
  if (s.port !== undefined && !(Number.isInteger(s.port) && s.port > 0 && s.port < 65536)) throw new Error(`FirecREST spawner state of job ${s.job_id} holds a bad port`);
  if (s.log !== undefined && (typeof s.log !== 'string' || !s.log.startsWith('/') || CONTROL.test(s.log))) throw new Error(`FirecREST spawner state of job ${s.job_id} holds a bad log path`);
  return s as FirecrestState;
}

/**
 * State from the database brought to the current version: version 1 (and a
 * state naming no job) as it is; any other version is refused with a message
 * naming it.
 */
export function upgradeFirecrestState(state: SpawnerState): SpawnerState {
  if (state.v === FIRECREST_STATE_VERSION || (state as Record<string, unknown>)['job_id'] === undefined) return state;
  throw new Error(`FirecREST spawner state of version ${JSON.stringify(state.v)} cannot be read (this hub knows version ${FIRECREST_STATE_VERSION}); was it written by a newer Ganymede?`);
}
