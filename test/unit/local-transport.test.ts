import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocalTransport } from '../../src/spawners/batch/local-transport.js';
import { TransportError } from '../../src/spawners/batch/transport.js';

describe('LocalTransport', () => {
  const t = new LocalTransport({ hostEnv: { PATH: '/usr/bin:/bin', SECRET_OF_THE_HUB: 'x' } });

  it('runs a command line with sh, stdin in, stdout, stderr and the exit status out', async () => {
    const r = await t.run('read a; echo "got $a"; echo oops >&2; exit 3', { stdin: 'hello\n', timeoutMs: 5000 });
    assert.deepEqual(r, { stdout: 'got hello\n', stderr: 'oops\n', code: 3 });
  });

  it('passes only the kept variables of the hub and the ones asked for', async () => {
    const r = await t.run('echo "${SECRET_OF_THE_HUB:-none} $SLURMSPAWNER_JOB_ID $PATH"', { env: { SLURMSPAWNER_JOB_ID: '42' }, timeoutMs: 5000 });
    assert.equal(r.stdout, 'none 42 /usr/bin:/bin\n');
  });

  it('kills the whole process group at the timeout and rejects with a timeout TransportError', async () => {
    const started = Date.now();
    await assert.rejects(t.run('sleep 30 & sleep 30; echo never', { timeoutMs: 300 }), (err: unknown) => err instanceof TransportError && err.failure === 'timeout' && /did not finish within 300 ms/.test(err.message));
    assert.ok(Date.now() - started < 3000);
  });

  it('stops at an abort, and refuses to start when already aborted', async () => {
    const ctl = new AbortController();
    const run = t.run('sleep 30', { timeoutMs: 60_000, signal: ctl.signal });
    setTimeout(() => ctl.abort(), 100);
    await assert.rejects(run, (err: unknown) => err instanceof TransportError && err.failure === 'aborted');
    await assert.rejects(t.run('echo no', { timeoutMs: 1000, signal: AbortSignal.abort() }), (err: unknown) => err instanceof TransportError && err.failure === 'aborted');
  });

  it('says unreachable when the shell cannot be run', async () => {
    const bad = new LocalTransport({ shell: '/nonexistent/sh' });
    await assert.rejects(bad.run('true', { timeoutMs: 1000 }), (err: unknown) => err instanceof TransportError && err.failure === 'unreachable');
  });
});
