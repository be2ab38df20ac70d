/**
 * Issue 11 (review): a command is never run twice. The SSH transport retries
 * on a fresh connection when the old one turns out to be dead, which is safe
 * only while nothing was sent: once the `exec` request went out, the login
 * host may have started the command (an `sbatch`), and running it again
 * would submit a second job. Here the server drops the connection right
 * after the first exec request arrives: the run fails, clearly, and the
 * command reached the server once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SshTransport } from '../../src/spawners/batch/ssh-transport.js';
import { TransportError } from '../../src/spawners/batch/transport.js';
import { startInProcessSshd, type InProcessSshd } from '../helpers/in-process-sshd.js';

let sshd: InProcessSshd;
let transport: SshTransport;

before(async () => {
  sshd = await startInProcessSshd(({ command, accept, socket }) => {
    if (command.includes('drop-me') && sshd.commands.filter((c) => c.includes('drop-me')).length === 1) {
      socket.destroy(); // the request arrived; the answer never leaves
      return;
    }
    const ch = accept();
    ch.write('ok\n');
    ch.exit(0);
    ch.end();
  });
  transport = new SshTransport(sshd.options, { backoff: { baseMs: 10, maxMs: 20 } });
});

after(async () => {
  await transport?.close();
  await sshd?.close();
});

test('a connection lost after the exec request was sent is an error, not a second run', async () => {
  await assert.rejects(transport.run('sbatch --parsable # drop-me', { timeoutMs: 5000 }), (err: unknown) => err instanceof TransportError && err.failure === 'unreachable');
  assert.equal(sshd.commands.filter((c) => c.includes('drop-me')).length, 1, 'the command was sent twice');
  // the transport reconnects for the next command
  assert.deepEqual(await transport.run('echo next', { timeoutMs: 5000 }), { stdout: 'ok\n', stderr: '', code: 0 });
});
