/**
 * The Slurm test environment itself (scripts/slurm-test-env/up.sh through
 * test/helpers/slurm-cluster.ts): it comes up, the service account logs in
 * over SSH with its key and a strictly checked host key, and the BriCS
 * wrappers submit, query and cancel a job as a user whose name has a dot.
 */
import assert from 'node:assert/strict';
import { jobFiles } from '../helpers/slurm-hub.js';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import {
  ensureSlurmCluster,
  jobUsersCannotUse,
  runArgv,
  runAsRoot,
  shellQuote,
  squeueJob,
  sshArgv,
  type SlurmCluster,
} from '../helpers/slurm-cluster.js';

const UP_SCRIPT = fileURLToPath(new URL('../../scripts/slurm-test-env/up.sh', import.meta.url));
const DOWN_SCRIPT = fileURLToPath(new URL('../../scripts/slurm-test-env/down.sh', import.meta.url));
const REPO_BIN = fileURLToPath(new URL('../../bin/', import.meta.url));
const REPO_FILES = [fileURLToPath(new URL('../fixtures/trivial-server.mjs', import.meta.url))];

async function cluster(t: { skip(msg: string): void }): Promise<SlurmCluster | undefined> {
  const c = await ensureSlurmCluster();
  if ('unavailable' in c) {
    t.skip(c.unavailable);
    return undefined;
  }
  return c;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('up.sh is idempotent: a second run restarts nothing', async (t) => {
  const c = await cluster(t);
  if (!c) return;
  const pids = 'cat /run/slurm/slurmctld.pid /run/slurm/slurmd.pid /run/munge/munged.pid ' + shellQuote(c.sshdPidFile);
  const before = await runAsRoot(pids);
  const started = Date.now();
  const again = await runAsRoot(`bash ${shellQuote(UP_SCRIPT)}`);
  assert.equal(again.code, 0, again.stderr);
  assert.ok(Date.now() - started < 5000, 'up.sh with everything up takes seconds at most');
  assert.equal((await runAsRoot(pids)).stdout, before.stdout);
});

test('no daemon up.sh starts keeps its lock file open (later runs would wait for it)', async (t) => {
  const c = await cluster(t);
  if (!c) return;
  // restart every daemon through up.sh, as a fresh machine does
  const down = await runAsRoot(`bash ${shellQuote(DOWN_SCRIPT)}`, { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
  const up = await runAsRoot(`bash ${shellQuote(UP_SCRIPT)}`, { timeoutMs: 60_000 });
  assert.equal(up.code, 0, up.stderr);
  const holders = await runAsRoot(
    `for fd in /proc/[0-9]*/fd/*; do
       [ "$(readlink "$fd" 2>/dev/null)" = /run/ganymede-slurm-test-env.run.lock ] || continue
       p=\${fd#/proc/}; p=\${p%%/*}; echo "$p $(cat /proc/$p/comm 2>/dev/null)"
     done`,
  );
  assert.equal(holders.stdout, '', 'processes holding the lock after up.sh');
  const started = Date.now();
  const again = await runAsRoot(`bash ${shellQuote(UP_SCRIPT)}`);
  assert.equal(again.code, 0, again.stderr);
  assert.ok(Date.now() - started < 5000, `a run after a fresh start took ${Date.now() - started} ms`);
});

test('the service account logs in with its key; the host key is checked strictly', async (t) => {
  const c = await cluster(t);
  if (!c) return;
  const r = await runArgv(sshArgv(c, 'id -un; pwd'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${c.sshUser}\n/home/${c.sshUser}\n`);
  // another user may not log in, even as root with the same key
  const other = await runArgv(sshArgv({ ...c, sshUser: 'alice' }, 'id -un'));
  assert.notEqual(other.code, 0);
});

test('sudo lets the service account run Slurm commands and wrappers as the users, nothing else', async (t) => {
  const c = await cluster(t);
  if (!c) return;
  const ok = await runArgv(sshArgv(c, 'sudo -n -u alice /usr/bin/squeue -h -j 1 -o %i; echo rc=$?'));
  assert.match(ok.stdout, /rc=(0|1)\n$/); // ran (rc 1 when job 1 is forgotten), not refused
  assert.doesNotMatch(ok.stderr, /password is required/);
  for (const cmd of ['sudo -n -u alice id', 'sudo -n -u root /usr/bin/squeue', `sudo -n -E -u alice ${c.wrappers.squeue}`]) {
    const r = await runArgv(sshArgv(c, cmd));
    assert.notEqual(r.code, 0, `${cmd} must be refused`);
  }
});

test('the files tests give to jobs are usable by the job users (copies where the checkout is private)', async (t) => {
  const c = await cluster(t);
  if (!c) return;
  // A clean clone may sit in a 0700 directory (mktemp -d): the Slurm suites then give jobs copies
  // (test/helpers/slurm-hub.ts jobFiles), which must be usable; node itself always must be.
  const inCheckout = await jobUsersCannotUse(c, REPO_FILES, [process.execPath, REPO_BIN]);
  if (inCheckout.length > 0) t.diagnostic(`NOTICE: the checkout is not usable by the job users, so jobs get copies:\n${inCheckout.join('\n')}`);
  const files = await jobFiles(c);
  try {
    assert.deepEqual(await jobUsersCannotUse(c, [files.trivialServer, process.execPath], [files.launcher, process.execPath]), []);
  } finally {
    files.remove();
  }
});

test('BriCS wrappers: submit as carol.proj1 with the script on stdin, query RUNNING <node>, cancel', async (t) => {
  const c = await cluster(t);
  if (!c) return;
  const user = 'carol.proj1';
  const script = [
    '#!/bin/bash',
    '#SBATCH --job-name=ganymede-env-selftest',
    '#SBATCH --time=00:05:00',
    `#SBATCH --output=/home/${user}/ganymede-env-selftest-%j.log`,
    'echo "ran as $(id -un) in $(pwd)"',
    'exec sleep 300',
    '',
  ].join('\n');
  const sub = await runArgv(sshArgv(c, `sudo -n -u ${user} ${c.wrappers.sbatch}`), script);
  assert.equal(sub.code, 0, sub.stderr);
  const id = sub.stdout.trim();
  assert.match(id, /^\d+$/);
  t.after(() => runAsRoot(`scancel ${id}`));

  const view = await until('the job to run', async () => {
    const v = await squeueJob(id);
    return v?.state === 'RUNNING' ? v : undefined;
  });
  assert.equal(view.user, user);
  assert.equal(view.host, c.node);

  const query = `SLURMSPAWNER_JOB_ID=${id} sudo -n -u ${user} ${c.wrappers.squeue}`;
  const q = await runArgv(sshArgv(c, query));
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stdout, `RUNNING ${c.node}\n`);
  const log = await until('the job log', async () => {
    const r = await runAsRoot(`cat /home/${user}/ganymede-env-selftest-${id}.log`);
    return r.stdout.includes('ran as') ? r.stdout : undefined;
  });
  assert.match(log, new RegExp(`ran as carol\\.proj1 in /home/carol\\.proj1`));

  const bad = await runArgv(sshArgv(c, `SLURMSPAWNER_JOB_ID='1;id' sudo -n -u ${user} ${c.wrappers.squeue}`));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /must be a job number/);

  const cancel = await runArgv(sshArgv(c, `SLURMSPAWNER_JOB_ID=${id} sudo -n -u ${user} ${c.wrappers.scancel}`));
  assert.equal(cancel.code, 0, cancel.stderr);
  await until('the job to be gone from the wrapper query', async () => {
    const r = await runArgv(sshArgv(c, query));
    return r.code === 0 && r.stdout === '' ? true : undefined;
  });
  assert.equal((await squeueJob(id))?.state, 'CANCELLED');
});
