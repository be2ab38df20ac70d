/**
 * The batch spawner's wait for a job and its cancel, over a scripted
 * transport answering as Slurm does (the real Slurm runs in
 * test/integration/batch-spawner-local.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { SpawnError } from '../../src/lib/errors.js';
import type { BatchState } from '../../src/spawners/batch/batch-state.js';
import { cancelAndWait } from '../../src/spawners/batch/job-cancel.js';
import { JobCommands } from '../../src/spawners/batch/job-commands.js';
import type { JobStatus } from '../../src/spawners/batch/job-status.js';
import { waitForServer, type JobWatch } from '../../src/spawners/batch/job-watch.js';
import { slurmScheduler } from '../../src/spawners/batch/slurm.js';
import type { CommandResult, RunOptions, Transport } from '../../src/spawners/batch/transport.js';
import type { ProgressEvent } from '../../src/spawners/spawner.js';

const log = pino({ level: 'silent' });

/** A transport that answers each command from `answer` and records it with its environment. */
function scripted(answer: (cmd: string) => CommandResult): Transport & { ran: { cmd: string; env?: Record<string, string> }[] } {
  const ran: { cmd: string; env?: Record<string, string> }[] = [];
  return {
    where: 'login1',
    ran,
    run: async (cmd: string, opts: RunOptions) => {
      ran.push({ cmd, ...(opts.env ? { env: opts.env } : {}) });
      return answer(cmd);
    },
    close: async () => undefined,
  };
}

const ok = (stdout: string): CommandResult => ({ stdout, stderr: '', code: 0 });
const state: BatchState = { v: 1, job_id: '42', system_user: 'carol.proj1', where: 'login1' };

function watch(statuses: JobStatus[], more: Partial<JobWatch> = {}): { w: JobWatch; events: ProgressEvent[] } {
  const events: ProgressEvent[] = [];
  let i = 0;
  const w: JobWatch = {
    jobId: '42',
    logPath: '/home/u/jupyterhub_slurmspawner_42.log',
    query: async () => statuses[Math.min(i++, statuses.length - 1)]!,
    hostOf: (s) => (s.state === 'running' ? s.host : undefined),
    onRunning: async () => undefined,
    reportedPort: async () => 4242,
    progress: (e) => events.push(e),
    intervalMs: 5,
    signal: AbortSignal.timeout(5000),
    ...more,
  };
  return { w, events };
}

describe('waitForServer', () => {
  it('says the pending reason once per change, keeps waiting while the scheduler cannot be asked, and returns host and port', async () => {
    const { w, events } = watch([
      { state: 'pending', reason: 'Priority' },
      { state: 'pending', reason: 'Priority' },
      { state: 'unknown', reason: 'Unable to contact slurm controller' },
      { state: 'pending', reason: 'Resources' },
      { state: 'running', host: 'nid001' },
    ]);
    assert.deepEqual(await waitForServer(w), { host: 'nid001', port: 4242 });
    assert.deepEqual(
      events.map((e) => e.message),
      [
        'Job 42 is queued (reason: Priority); its log will be /home/u/jupyterhub_slurmspawner_42.log',
        'Job 42: the scheduler could not be asked (Unable to contact slurm controller); still waiting',
        'Job 42 is queued (reason: Resources); its log will be /home/u/jupyterhub_slurmspawner_42.log',
        'Job 42 runs on nid001; waiting for the server to report its port (log: /home/u/jupyterhub_slurmspawner_42.log)',
      ],
    );
  });

  it('fails with a SpawnError when the job ends first, naming its final state', async () => {
    const { w } = watch([{ state: 'pending' }, { state: 'gone', final: 'FAILED' }]);
    await assert.rejects(waitForServer(w), (err: unknown) => err instanceof SpawnError && /Job 42 ended before the server started \(final state FAILED\)/.test(err.message));
  });

  it('keeps checking the job while it waits for the port', async () => {
    let asked = 0;
    const { w } = watch([{ state: 'running', host: 'nid001' }, { state: 'gone' }], { reportedPort: async () => (asked++, undefined) });
    await assert.rejects(waitForServer(w), /ended before the server started/);
    assert.ok(asked >= 1);
  });

  it('stops at once when the signal aborts', async () => {
    const ctl = new AbortController();
    const { w } = watch([{ state: 'pending' }], { signal: ctl.signal, intervalMs: 60_000 });
    const waiting = waitForServer(w);
    setTimeout(() => ctl.abort(new Error('given up')), 20);
    const started = Date.now();
    await assert.rejects(waiting, /given up/);
    assert.ok(Date.now() - started < 1000);
  });
});

describe('JobCommands and cancelAndWait', () => {
  const cfg = { execPrefix: 'sudo -n -u {username}', submitCmd: 'slurmspawner_sbatch', queryCmd: 'slurmspawner_squeue', cancelCmd: 'slurmspawner_scancel', queryAllCmd: '', timeoutMs: 1000 };

  it('runs the commands as the system user, shell-quoted, with SLURMSPAWNER_JOB_ID set', async () => {
    const t = scripted((cmd) => (cmd.includes('squeue') ? ok('') : ok('')));
    await cancelAndWait(new JobCommands(t, slurmScheduler, cfg), state, 1, log);
    assert.deepEqual(t.ran, [
      { cmd: "sudo -n -u 'carol.proj1' slurmspawner_scancel", env: { SLURMSPAWNER_JOB_ID: '42' } },
      { cmd: "sudo -n -u 'carol.proj1' slurmspawner_squeue", env: { SLURMSPAWNER_JOB_ID: '42' } },
    ]);
  });

  it('a job the scheduler no longer knows is stopped, whatever the cancel said', async () => {
    const t = scripted((cmd) =>
      cmd.includes('scancel') ? { stdout: '', stderr: 'scancel: error: Invalid job id specified', code: 1 } : { stdout: '', stderr: 'slurm_load_jobs error: Invalid job id specified', code: 1 },
    );
    await cancelAndWait(new JobCommands(t, slurmScheduler, cfg), state, 1, log);
  });

  it('never claims a job stopped when the scheduler cannot be asked, or refused the cancel', async () => {
    const down = scripted(() => ({ stdout: '', stderr: 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)', code: 1 }));
    await assert.rejects(cancelAndWait(new JobCommands(down, slurmScheduler, cfg), state, 0.3, log), /Job 42 on login1 could not be cancelled: .*Unable to contact slurm controller/);
    const queryDown = scripted((cmd) => (cmd.includes('scancel') ? ok('') : { stdout: '', stderr: 'slurm_load_jobs error: Socket timed out on send/recv operation', code: 1 }));
    await assert.rejects(cancelAndWait(new JobCommands(queryDown, slurmScheduler, cfg), state, 0.3, log), /Job 42 on login1 was cancelled but the scheduler could not say whether it is gone/);
    const refused = scripted((cmd) => (cmd.includes('scancel') ? { stdout: '', stderr: 'scancel: error: Kill job error on job id 42: Access/permission denied', code: 210 } : ok('RUNNING nid001')));
    await assert.rejects(cancelAndWait(new JobCommands(refused, slurmScheduler, cfg), state, 5, log), /could not be cancelled: the cancel command ended with status 210: .*permission denied/);
  });

  it('a submit the scheduler refuses is a SpawnError quoting it', async () => {
    const t = scripted(() => ({ stdout: '', stderr: 'sbatch: error: invalid partition specified: nope', code: 1 }));
    await assert.rejects(new JobCommands(t, slurmScheduler, cfg).submit('#!/bin/sh\n', { username: 'carol.proj1' }, AbortSignal.timeout(1000)), (err: unknown) => err instanceof SpawnError && /refused the job \(exit status 1\): sbatch: error: invalid partition specified: nope/.test(err.message));
  });
});
