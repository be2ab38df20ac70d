/**
 * The batch spawner's wait for a submitted job: queued, then running on a
 * host, then the server reports its port. Shared by a fresh start and by a
 * start resumed after a hub restart.
 */
import { SpawnError } from '../../lib/errors.js';
import { sleep } from '../../lib/time.js';
import type { ProgressEvent } from '../spawner.js';
import type { JobStatus } from './job-status.js';

/** How often the database is asked for a reported port once the job runs. */
export const PORT_POLL_MS = 250;

/** What {@link waitForServer} needs. */
export interface JobWatch {
  jobId: string;
  /** Where the job's output goes (the `--output` of the default script), for messages. */
  logPath: string;
  /** One question to the scheduler; answers `unknown` (never throws) when it could not be asked, except when aborted. */
  query(signal: AbortSignal): Promise<JobStatus>;
  /** The host to connect to for a running job's answer (after `state_exechost_exp`); undefined while the scheduler names none. */
  hostOf(status: JobStatus): string | undefined;
  /** Saves the state once the job runs on `host`. */
  onRunning(host: string): Promise<void>;
  /** The port the server reported, if any (the hub's database). */
  reportedPort(): Promise<number | undefined>;
  progress(event: ProgressEvent): void;
  /** Seconds between two questions to the scheduler, in ms. */
  intervalMs: number;
  /** The spawn's signal (start timeout, cancel): the wait stops at once. */
  signal: AbortSignal;
}

/**
 * Waits until the job runs and its server reported a port; resolves with
 * where to reach it. Progress events say the job's state and pending reason
 * (only when they change). Rejects with SpawnError when the job ends first,
 * or with the signal's reason when it aborts.
 */
export async function waitForServer(w: JobWatch): Promise<{ host: string; port: number }> {
  let last = '';
  const say = (progress: number, message: string) => {
    if (message === last) return;
    last = message;
    w.progress({ progress, message });
  };
  let host: string | undefined;
  let asked = 0;
  for (;;) {
    w.signal.throwIfAborted();
    if (host === undefined || Date.now() - asked >= w.intervalMs) {
      asked = Date.now();
      const status = await w.query(w.signal);
      w.signal.throwIfAborted();
      switch (status.state) {
        case 'pending':
          say(20, `Job ${w.jobId} is queued${status.reason ? ` (reason: ${status.reason})` : ''}; its log will be ${w.logPath}`);
          break;
        case 'unknown':
          say(20, `Job ${w.jobId}: the scheduler could not be asked (${status.reason}); still waiting`);
          break;
        case 'gone':
          throw new SpawnError(`Job ${w.jobId} ended before the server started${status.final ? ` (final state ${status.final})` : ''}; see its log ${w.logPath}`, 'job-ended');
        case 'running': {
          const found = w.hostOf(status);
          if (found === undefined) {
            say(30, `Job ${w.jobId} runs; waiting for the scheduler to name its host`);
          } else if (host === undefined) {
            host = found;
            await w.onRunning(host);
            say(40, `Job ${w.jobId} runs on ${host}; waiting for the server to report its port (log: ${w.logPath})`);
          }
          break;
        }
      }
    }
    if (host !== undefined) {
      const port = await w.reportedPort();
      if (port !== undefined) return { host, port };
    }
    await sleep(host === undefined ? w.intervalMs : Math.min(PORT_POLL_MS, w.intervalMs), w.signal);
  }
}
