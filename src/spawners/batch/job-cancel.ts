/**
 * Stopping a batch job: cancel it, then ask until the scheduler no longer
 * has it, bounded in time (batchspawner asks 10 times, once a second).
 */
import type { Logger } from 'pino';
import { sleep } from '../../lib/time.js';
import type { BatchState } from './batch-state.js';
import { describeOutput } from './command-output.js';
import type { JobCommands } from './job-commands.js';

/**
 * Cancels the job of `s` and waits until it is gone (asking after 0.1 s,
 * then at growing intervals up to 1 s, for at most `waitSeconds`). A job
 * already gone is success, also when the cancel command said "Invalid job
 * id". Throws an Error saying what happened when the cancel could not be
 * run, when it was refused and the job is still there, or when the job is
 * still there (or the scheduler could not say) at the end of the wait:
 * never claims a job stopped that may run.
 */
export async function cancelAndWait(commands: JobCommands, s: BatchState, waitSeconds: number, log: Logger): Promise<void> {
  const cancelled = await commands.cancel(s.job_id, s.system_user).catch((err: Error) => {
    throw new Error(`Cannot cancel job ${s.job_id} on ${s.where}: ${err.message}`, { cause: err });
  });
  const said = describeOutput(`${cancelled.stderr} ${cancelled.stdout}`);
  const refused = cancelled.code !== 0 && !/invalid job id/i.test(said) ? `the cancel command ended with status ${cancelled.code ?? 'killed'}${said ? `: ${said}` : ''}` : undefined;
  const end = Date.now() + waitSeconds * 1000;
  for (let wait = 100; ; wait = Math.min(wait * 2, 1000)) {
    const status = await commands.query(s.job_id, s.system_user);
    if (status.state === 'gone') return;
    if (refused) throw new Error(`Job ${s.job_id} on ${s.where} could not be cancelled: ${refused}`);
    if (Date.now() + wait > end) {
      const now = status.state === 'unknown' ? `the scheduler could not say whether it is gone (${status.reason})` : `it is still ${status.state}`;
      throw new Error(`Job ${s.job_id} on ${s.where} was cancelled but ${now} after ${waitSeconds} s`);
    }
    log.debug({ jobId: s.job_id, state: status.state }, 'waiting for the cancelled job to go');
    await sleep(wait);
  }
}
