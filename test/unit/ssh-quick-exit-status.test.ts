/**
 * Issue 11 (review): the exit status of a command that ends at once. ssh2
 * parses the reply to `exec`, the output, the exit status and the close of a
 * quick command from one read; the exit status was emitted before the
 * transport listened for it, and the run failed with "the connection was
 * lost while a command ran" although the command ran (a submit then left
 * its job behind). An in-process SSH server sends all of it in one write, so
 * the race happens every time.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SshTransport } from '../../src/spawners/batch/ssh-transport.js';
import { startInProcessSshd, type InProcessSshd } from '../helpers/in-process-sshd.js';

let sshd: InProcessSshd;
let transport: SshTransport;

before(async () => {
  sshd = await startInProcessSshd(({ command, accept, socket }) => {
    socket.cork(); // the exec reply, output, status and close in one write
    const ch = accept();
    ch.write(`ran: ${command}\n`);
    ch.exit(/exit 3/.test(command) ? 3 : 0);
    ch.end();
    socket.uncork();
  });
  transport = new SshTransport(sshd.options);
});

after(async () => {
  await transport?.close();
  await sshd?.close();
});

test('a command that ends at once gives its output and exit status, every time', async () => {
  for (let i = 0; i < 20; i++) {
    const ok = await transport.run(`echo ${i}`, { timeoutMs: 5000 });
    assert.deepEqual(ok, { stdout: `ran: echo ${i}\n`, stderr: '', code: 0 });
  }
  const failed = await transport.run('exit 3', { timeoutMs: 5000 });
  assert.equal(failed.code, 3);
});
