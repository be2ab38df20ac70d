/**
 * The batch spawner's wait for a submitted job: queued, then running on a
 * host, then the server reports its port. Shared by a fresh start and by a
 * start resumed after a hub restart.
 */
import { SpawnError } from '../../lib/errors.js';
import { sleep } from '../../lib/time.js';
import type { ProgressEvent, SpawnerState, SpawnRequest, StartResult } from '../spawner.js';
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

/** A job's saved state as {@link watchJobStart} updates it: its id, then its host, then its port. */
export interface WatchedJobState extends SpawnerState {
  job_id: string;
  host?: string;
  port?: number;
}

/**
 * A start's wait for job `submitted` (fresh or resumed after a restart):
 * {@link waitForServer} with the request's progress, port reports and
 * signal; the state saved once the job runs on a host and again with the
 * port. Resolves with the server's URL (an IPv6 host in brackets); every
 * failure is a SpawnError (`cancelled` when the spawn was given up,
 * `job-failed` with the job id otherwise).
 */
export async function watchJobStart<S extends WatchedJobState>(
  req: SpawnRequest,
  submitted: S,
  w: Pick<JobWatch, 'logPath' | 'hostOf' | 'intervalMs'> & { query(state: S, signal: AbortSignal): Promise<JobStatus> },
): Promise<StartResult> {
  let state = submitted;
  try {
    const { host, port } = await waitForServer({
      jobId: state.job_id,
      logPath: w.logPath,
      query: (signal) => w.query(state, signal),
      hostOf: w.hostOf,
      onRunning: async (host) => {
        state = { ...state, host };
        await req.saveState(state);
      },
      reportedPort: () => req.reportedPort(),
      progress: (e) => req.progress(e),
      intervalMs: w.intervalMs,
      signal: req.signal,
    });
    state = { ...state, host, port };
    await req.saveState(state);
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return { url: `http://${shownHost}:${port}`, state };
  } catch (err) {
    if (req.signal.aborted) throw new SpawnError(`The spawn was given up while job ${state.job_id} waited; the hub cancels it`, 'cancelled', { cause: err });
    if (err instanceof SpawnError) throw err;
    throw new SpawnError(`Job ${state.job_id}: ${(err as Error).message}`, 'job-failed', { cause: err });
  }
}
