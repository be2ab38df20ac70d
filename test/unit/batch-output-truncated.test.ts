/**
 * Issue 11 (review): a scheduler command whose output the transport cut at
 * its size limit is never read as "these jobs are gone": a running server
 * must not be cleared because a `batch_query_all_cmd` listing was cut (a big
 * site's `squeue -t all`). Both transports say when they cut (`truncated`);
 * a cut listing is read up to its last complete line and the jobs it no
 * longer shows are asked on their own; a cut single query is `unknown`; the
 * submit refuses to guess a job id.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { SpawnError } from '../../src/lib/errors.js';
import type { SlurmSpawnerConfig } from '../../src/spawners/batch/batch-config.js';
import { BatchSpawner } from '../../src/spawners/batch/batch-spawner.js';
import { JobCommands } from '../../src/spawners/batch/job-commands.js';
import { LocalTransport } from '../../src/spawners/batch/local-transport.js';
import { slurmScheduler } from '../../src/spawners/batch/slurm.js';
import { SshTransport } from '../../src/spawners/batch/ssh-transport.js';
import type { Transport } from '../../src/spawners/batch/transport.js';
import { ensureSlurmCluster } from '../helpers/slurm-cluster.js';

const log = pino({ level: 'silent' });

/** Two complete lines; the first is exactly 13 bytes with its newline. */
const LISTING = '1 RUNNING vm\n2 RUNNING vm\n';

function commands(transport: Transport, queryAllCmd: string, submitCmd = 'true'): JobCommands {
  return new JobCommands(transport, slurmScheduler, { execPrefix: '', submitCmd, queryCmd: 'true', cancelCmd: 'true', queryAllCmd, timeoutMs: 10_000 });
}

describe('a cut or silent scheduler output is unknown, never gone', () => {
  it('LocalTransport says when it cut stdout or stderr', async () => {
    const t = new LocalTransport({ maxOutputBytes: 13 });
    const cut = await t.run(`printf '${LISTING.replaceAll('\n', '\\n')}'`, { timeoutMs: 5000 });
    assert.equal(cut.stdout, '1 RUNNING vm\n');
    assert.equal(cut.truncated, true);
    const cutErr = await t.run(`printf '%020d' 0 >&2`, { timeoutMs: 5000 });
    assert.equal(cutErr.truncated, true);
    const whole = await t.run('printf 1234567890123', { timeoutMs: 5000 });
    assert.equal(whole.truncated, undefined);
  });

  for (const cut of [13, 18]) {
    it(`a query-all listing cut after ${cut} bytes: complete lines are read, the cut line dropped, the rest asked one by one`, async () => {
      const listing = `printf '${LISTING.replaceAll('\n', '\\n')}'`;
      const statuses = await commands(new LocalTransport({ maxOutputBytes: cut }), listing).queryAll(['1', '2']);
      assert.deepEqual(statuses.get('1'), { state: 'running', host: 'vm' });
      assert.deepEqual(statuses.get('2'), { state: 'gone' }, 'not listed (no final state): the spawner confirms it');
      const config = validateConfig({ spawner: { kind: 'slurm', exec_prefix: '', batch_query_all_cmd: listing, batch_query_cmd: "echo 'RUNNING vm'" } }).spawner as SlurmSpawnerConfig;
      const s = new BatchSpawner({ config, scheduler: slurmScheduler, transport: new LocalTransport({ maxOutputBytes: cut }), deps: { log, name: 'c', now: Date.now, fetch: globalThis.fetch, dataDir: '/tmp' } });
      const results = await s.pollMany!(['1', '2'].map((job_id) => ({ v: 1, job_id, system_user: 'alice', where: 'x' })), { log });
      assert.deepEqual(results.map((r) => r.status), ['running', 'running'], 'a job beyond the cut was cleared');
    });
  }

  it('the same listing uncut still answers running for both', async () => {
    const statuses = await commands(new LocalTransport(), `printf '${LISTING.replaceAll('\n', '\\n')}'`).queryAll(['1', '2']);
    assert.deepEqual(statuses.get('2'), { state: 'running', host: 'vm' });
  });

  it('one query whose output was cut is unknown', () => {
    assert.equal(slurmScheduler.classify({ stdout: '', stderr: '', code: 0, truncated: true }).state, 'unknown');
    assert.equal(slurmScheduler.classify({ stdout: 'RUNNING vm', stderr: '', code: 0, truncated: true }).state, 'unknown');
  });

  it('a submit whose output was cut is refused instead of reading a job id from it', async () => {
    const c = commands(new LocalTransport({ maxOutputBytes: 4 }), 'true', 'cat >/dev/null; echo 123456');
    await assert.rejects(
      c.submit('#!/bin/sh\n', {}, AbortSignal.timeout(10_000)),
      (err: unknown) => err instanceof SpawnError && /more than the hub keeps/.test(err.message) && /left behind/.test(err.message),
    );
  });
});

describe('SshTransport says when it cut the output (real sshd)', () => {
  const transports: SshTransport[] = [];
  after(async () => {
    await Promise.all(transports.map((t) => t.close()));
  });

  it('marks a cut stdout as truncated, keeping exactly the limit', async (t) => {
    const env = await ensureSlurmCluster();
    if ('unavailable' in env) return t.skip(env.unavailable);
    const ssh = new SshTransport(
      { host: env.sshHost, port: env.sshPort, user: env.sshUser, key_file: env.keyFile, known_hosts: env.knownHostsFile, connect_timeout: 10, command_timeout: 30, max_sessions: 2 },
      { maxOutputBytes: 13 },
    );
    transports.push(ssh);
    const cut = await ssh.run(`printf '${LISTING.replaceAll('\n', '\\n')}'`, { timeoutMs: 10_000 });
    assert.equal(cut.stdout, '1 RUNNING vm\n');
    assert.equal(cut.truncated, true);
    const whole = await ssh.run('printf 1234567890123', { timeoutMs: 10_000 });
    assert.equal(whole.truncated, undefined);
    return undefined;
  });
});
