/**
 * What FirecREST's job info (`GET /compute/{system}/jobs/{id}`) means for a
 * server (pure): Slurm's state word mapped to the batch spawner's
 * {@link JobStatus}, the first node of the job's host list as its host.
 */
import { outsideText } from '../../lib/outside-text.js';
import type { JobStatus } from '../batch/job-status.js';
import type { FirecrestJob } from './firecrest-api.js';
import { firstHost } from './firecrest-hostlist.js';

/** Slurm states of a job that waits to run (or to run again). */
const PENDING = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD', 'SUSPENDED', 'STOPPED']);
/** Slurm states of a job that runs. */
const RUNNING = new Set(['RUNNING', 'COMPLETING', 'SIGNALING', 'STAGE_OUT', 'RESIZING']);
/** Slurm states of a job that ended. */
const ENDED = new Set(['BOOT_FAIL', 'CANCELLED', 'COMPLETED', 'DEADLINE', 'FAILED', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'REVOKED', 'SPECIAL_EXIT', 'TIMEOUT']);

/** A reason or state word shown to the user: printable, one line, at most 120 characters; undefined for none. */
function shown(text: unknown): string | undefined {
  if (typeof text !== 'string') return undefined;
  const clean = outsideText(text, 119);
  return clean === '' || /^none$/i.test(clean) ? undefined : clean;
}

/**
 * The status of `job` (undefined: FirecREST does not know it, so it is
 * gone). `host` of a running job is the first node of its host list, not
 * yet checked as a host name. A state this hub does not know is `unknown`,
 * never `gone`: only a state that says the job ended clears a server.
 */
export function firecrestJobStatus(job: FirecrestJob | undefined): JobStatus {
  if (job === undefined) return { state: 'gone' };
  const raw = typeof job.status?.state === 'string' ? job.status.state : '';
  const word = raw.trim().split(/[\s+]/)[0]!.toUpperCase();
  if (PENDING.has(word)) {
    const reason = shown(job.status.stateReason);
    return reason ? { state: 'pending', reason } : { state: 'pending' };
  }
  if (RUNNING.has(word)) {
    const host = typeof job.nodes === 'string' ? firstHost(job.nodes) : undefined;
    return host ? { state: 'running', host } : { state: 'running' };
  }
  if (ENDED.has(word)) return { state: 'gone', final: word };
  return { state: 'unknown', reason: `FirecREST gave the job the state ${JSON.stringify(shown(raw) ?? '')}, which this hub does not know` };
}
