/**
 * Issue 11 (review): a scheduler command whose output the transport cut at
 * its size limit is never read as "these jobs are gone": a running server must not
 * be cleared because a `batch_query_all_cmd` listing was incomplete. Both
 * transports say when they cut (`truncated`); the readers answer `unknown`
 * and the submit refuses to guess a job id.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SpawnError } from '../../src/lib/errors.js';
import { JobCommands } from '../../src/spawners/batch/job-commands.js';
import { LocalTransport } from '../../src/spawners/batch/local-transport.js';
import { slurmScheduler } from '../../src/spawners/batch/slurm.js';
import { SshTransport } from '../../src/spawners/batch/ssh-transport.js';
import type { Transport } from '../../src/spawners/batch/transport.js';
import { ensureSlurmCluster } from '../helpers/slurm-cluster.js';

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

  it('a query-all listing cut at a line end keeps the unlisted job unknown (not gone)', async () => {
    const statuses = await commands(new LocalTransport({ maxOutputBytes: 13 }), `printf '${LISTING.replaceAll('\n', '\\n')}'`).queryAll(['1', '2']);
    assert.equal(statuses.get('1')!.state, 'unknown');
    assert.equal(statuses.get('2')!.state, 'unknown');
    assert.match((statuses.get('2') as { reason: string }).reason, /incomplete/);
  });

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
