/**
 * An SSH server inside the test process (ssh2's own Server), for what a real
 * sshd will not do on demand: send a reply, the output, the exit status and
 * the close in one write, or drop the connection right after an `exec`
 * request arrived. Any key logs in; the test decides what each exec does.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { SshOptions } from '../../src/spawners/batch/ssh-config.js';

/** What an exec request gets: the command, a way to answer it, and the raw connection. */
export interface ExecCall {
  command: string;
  /** Accepts the exec and returns its channel. */
  accept(): ssh2.ServerChannel;
  /** The connection's socket (cork it, or destroy it). */
  socket: { cork(): void; uncork(): void; destroy(): void };
}

export interface InProcessSshd {
  /** `ssh:` options of a back-end reaching this server. */
  options: SshOptions;
  /** Every command an exec request carried, in order. */
  commands: string[];
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1 (a free port) with a fresh host key and client key. */
export async function startInProcessSshd(onExec: (call: ExecCall) => void): Promise<InProcessSshd> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ganymede-inproc-sshd-'));
  const hostKey = path.join(tmp, 'host');
  const clientKey = path.join(tmp, 'client');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
  const commands: string[] = [];
  const server = new ssh2.Server({ hostKeys: [readFileSync(hostKey)] }, (client) => {
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('error', () => undefined);
    client.on('session', (accept) => {
      accept().on('exec', (acceptExec, _reject, info) => {
        commands.push(info.command);
        const socket = (client as unknown as { _sock: ExecCall['socket'] })._sock;
        onExec({ command: info.command, accept: acceptExec, socket });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const hostPub = readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
  writeFileSync(path.join(tmp, 'known_hosts'), `[127.0.0.1]:${port} ${hostPub}\n`);
  return {
    options: { host: '127.0.0.1', port, user: 'hub', key_file: clientKey, known_hosts: path.join(tmp, 'known_hosts'), connect_timeout: 10, command_timeout: 10, max_sessions: 4 },
    commands,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
