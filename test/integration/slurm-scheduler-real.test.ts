/**
 * Issue 11: the scheduler part against the real Slurm of this machine (the
 * dev cluster of slurm-ssh-up.sh, or CI's): the default script with the
 * job's environment as exports, submitted as `carol.proj1` (a dotted name)
 * through `sudo -n -u`, its id parsed, and every real `squeue` answer on its
 * way classified. Skipped when Slurm is not here.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import type { JobStatus } from '../../src/spawners/batch/job-status.js';
import { renderCommand, renderTemplate } from '../../src/spawners/batch/script-template.js';
import { withEnvExports } from '../../src/spawners/batch/script-env.js';
import { slurmScheduler as slurm } from '../../src/spawners/batch/slurm.js';
import { batchTemplateVars } from '../../src/spawners/batch/template-vars.js';
import type { CommandResult } from '../../src/spawners/batch/transport.js';

const USER = 'carol.proj1';

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (sudo -n -u carol.proj1)';
  try {
    execFileSync('sinfo', ['-h', '-o', '%T'], { stdio: 'ignore', timeout: 10_000 });
    execFileSync('id', [USER], { stdio: 'ignore' });
  } catch {
    return 'no Slurm or no carol.proj1 here (slurm-ssh-up.sh brings them up)';
  }
  return undefined;
}

/** Runs a command line with sh, as the local transport does. */
function sh(line: string, stdin?: string): CommandResult {
  const r = spawnSync('/bin/sh', ['-c', line], { input: stdin, encoding: 'utf8', timeout: 30_000, cwd: '/tmp' });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status };
}

const prefix = renderCommand('sudo -n -u {username}', { username: USER }, 'exec_prefix');
const query = (id: string, cmd = slurm.queryCmd) => slurm.classify(sh(`${prefix} ${renderCommand(cmd, { job_id: id }, 'batch_query_cmd')}`));

/** Polls until `pred` holds for the job's status (or 20 s pass); every status seen. */
async function until(id: string, pred: (s: JobStatus) => boolean, cmd?: string): Promise<JobStatus[]> {
  const seen: JobStatus[] = [];
  const end = Date.now() + 20_000;
  for (;;) {
    const status = query(id, cmd);
    seen.push(status);
    if (pred(status) || Date.now() > end) return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Slurm scheduler part on the real Slurm', { skip: unavailable(), concurrency: false }, () => {
  const jobs: string[] = [];
  after(() => {
    for (const id of jobs) sh(`${prefix} scancel ${id}`);
    for (const id of jobs) rmSync(`/home/${USER}/jupyterhub_slurmspawner_${id}.log`, { force: true });
  });

  it('submits the default script; the job sees its exported variables exactly; squeue answers are pending/running, then gone', async () => {
    const env = { TEST_SECRET: "it's a $secret `id`\nsecond line", TEST_PLAIN: 'plain' };
    const vars = batchTemplateVars({
      req: { srun: 'srun', runtime: '00:02:00', memory: '100M', nprocs: 1 },
      username: USER,
      hubUsername: 'carol',
      serverName: '',
      env,
      cmd: ['sh', '-c', 'printf "[%s]\\n" "$TEST_SECRET" "$TEST_PLAIN" "$HOME"; sleep 1'],
      userOptions: {},
    });
    const script = withEnvExports(renderTemplate(slurm.defaultScript, vars, 'batch_script'), env);
    const submitted = sh(`${prefix} ${slurm.submitCmd}`, script);
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = slurm.parseJobId(submitted.stdout);
    jobs.push(id);

    const seen = await until(id, (s) => s.state === 'gone');
    assert.deepEqual(seen.at(-1), { state: 'gone', final: 'COMPLETED' }); // the default query has -t all: the final state shows
    for (const s of seen.slice(0, -1)) assert.ok(s.state === 'pending' || (s.state === 'running' && s.host !== undefined), JSON.stringify(s));
    assert.ok(
      seen.some((s) => s.state === 'running'),
      JSON.stringify(seen),
    );
    const log = readFileSync(`/home/${USER}/jupyterhub_slurmspawner_${id}.log`, 'utf8');
    assert.ok(log.includes(`[${env.TEST_SECRET}]\n[plain]\n[/home/${USER}]\n`), log);

    const all = slurm.classifyAll(sh(slurm.queryAllExample), [id]);
    assert.equal(all.get(id)?.state, 'gone');
  });

  it('an impossible job pends with its reason, and is gone after scancel', async () => {
    const script = '#!/bin/bash\n#SBATCH --cpus-per-task=999\n#SBATCH --output=/dev/null\n#SBATCH --chdir=/tmp\nsleep 60\n';
    const submitted = sh(`${prefix} ${slurm.submitCmd}`, script);
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = slurm.parseJobId(submitted.stdout);
    jobs.push(id);
    const seen = await until(id, (s) => s.state === 'pending' && s.reason !== undefined && s.reason !== 'None', "squeue -h -j {job_id} -o '%T %B %r'");
    const last = seen.at(-1)!;
    assert.equal(last.state, 'pending');
    assert.match((last as { reason?: string }).reason ?? '', /^\w+$/);
    assert.equal(slurm.classifyAll(sh(slurm.queryAllExample), [id]).get(id)?.state, 'pending');
    const cancelled = sh(`${prefix} ${renderCommand(slurm.cancelCmd, { job_id: id }, 'batch_cancel_cmd')}`);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    const after = await until(id, (s) => s.state === 'gone');
    assert.deepEqual(after.at(-1), { state: 'gone', final: 'CANCELLED' });
  });

  it('an unknown job id is gone; an sbatch error is a clear message', () => {
    assert.deepEqual(query('999999999'), { state: 'gone' });
    const refused = sh(`${prefix} sbatch --parsable --partition=no-such-partition`, '#!/bin/sh\ntrue\n');
    assert.notEqual(refused.code, 0);
    assert.throws(() => slurm.parseJobId(refused.stdout + refused.stderr), /^Error: Slurm refused the job: sbatch: error: .*partition/);
    assert.throws(() => slurm.parseJobId(refused.stdout), /printed nothing where a job id was expected/);
  });
});
