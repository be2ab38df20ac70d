/**
 * Issue 11 (review): the exit status of a command that ends at once. ssh2
 * parses the reply to `exec`, the output, the exit status and the close of a
 * quick command from one read; the exit status was emitted before the
 * transport listened for it, and the run failed with "the connection was
 * lost while a command ran" although the command ran (a submit then left
 * its job behind). An in-process SSH server (ssh2's own) sends all of it in
 * one write, so the race happens every time.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { SshTransport } from '../../src/spawners/batch/ssh-transport.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ganymede-ssh-quick-'));
let server: ssh2.Server;
let port = 0;
let transport: SshTransport;

before(async () => {
  const hostKey = path.join(tmp, 'host');
  const clientKey = path.join(tmp, 'client');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
  server = new ssh2.Server({ hostKeys: [readFileSync(hostKey)] }, (client) => {
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('error', () => undefined);
    client.on('session', (accept) => {
      accept().on('exec', (acceptExec, _reject, info) => {
        const corked = (client as unknown as { _sock?: { cork(): void; uncork(): void } })._sock;
        corked?.cork(); // the exec reply, output, status and close in one write
        const ch = acceptExec();
        ch.write(`ran: ${info.command}\n`);
        ch.exit(/exit 3/.test(info.command) ? 3 : 0);
        ch.end();
        corked?.uncork();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  const hostPub = readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
  writeFileSync(path.join(tmp, 'known_hosts'), `[127.0.0.1]:${port} ${hostPub}\n`);
  transport = new SshTransport({
    host: '127.0.0.1',
    port,
    user: 'hub',
    key_file: clientKey,
    known_hosts: path.join(tmp, 'known_hosts'),
    connect_timeout: 10,
    command_timeout: 10,
    max_sessions: 4,
  });
});

after(async () => {
  await transport?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  rmSync(tmp, { recursive: true, force: true });
});

test('a command that ends at once gives its output and exit status, every time', async () => {
  for (let i = 0; i < 20; i++) {
    const ok = await transport.run(`echo ${i}`, { timeoutMs: 5000 });
    assert.deepEqual(ok, { stdout: `ran: echo ${i}\n`, stderr: '', code: 0 });
  }
  const failed = await transport.run('exit 3', { timeoutMs: 5000 });
  assert.equal(failed.code, 3);
});
