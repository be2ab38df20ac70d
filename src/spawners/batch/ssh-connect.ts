/**
 * Opens one SSH connection (ssh2) with a key login and the host key checked
 * against a known_hosts file, and turns every way that can fail into a
 * TransportError in plain words. Used by ssh-transport.ts, which pools it.
 */
import { readFile } from 'node:fs/promises';
import type { Client } from 'ssh2';
import { checkHostKey, hostKeyAlgorithms, knownHostsName, parseKnownHosts, type HostKeyVerdict } from './known-hosts.js';
import { TransportError } from './transport.js';

/** Where and how to connect. */
export interface SshConnectTarget {
  host: string;
  port: number;
  user: string;
  keyFile: string;
  knownHostsFile: string;
  connectTimeoutMs: number;
  /** SSH keepalives, so a silently dead connection is noticed (0: none). */
  keepaliveIntervalMs: number;
}

/** `user@host:port`, for messages. */
export function sshWhere(t: Pick<SshConnectTarget, 'host' | 'port' | 'user'>): string {
  return `${t.user}@${t.host}:${t.port}`;
}

async function readOrFail(file: string, what: string, failure: 'host-key' | 'auth'): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new TransportError(failure, `Cannot read the SSH ${what} ${file}: ${code}`, { cause: err });
  }
}

/**
 * Connects and logs in. Resolves with a ready client; rejects with a
 * TransportError: `host-key` (host missing from known_hosts, key changed or
 * revoked: no command is ever sent), `auth` (key refused or unreadable),
 * `unreachable` (refused, no answer within the connect timeout, DNS, or
 * the connection closed during the handshake), `aborted`.
 */
export async function connectSsh(t: SshConnectTarget, signal?: AbortSignal): Promise<Client> {
  const hostPort = `${t.host}:${t.port}`;
  const knownHosts = parseKnownHosts((await readOrFail(t.knownHostsFile, 'known_hosts file', 'host-key')).toString('utf8'));
  const algorithms = hostKeyAlgorithms(knownHosts.entries, t.host, t.port);
  if (algorithms.length === 0) {
    // Nothing to check a key against: refuse before opening a socket.
    const verdict = checkHostKey(knownHosts.entries, t.host, t.port, Buffer.alloc(0), t.knownHostsFile);
    const why = verdict.ok ? `${knownHostsName(t.host, t.port)} has no usable key in ${t.knownHostsFile}` : verdict.message;
    throw new TransportError('host-key', `Refusing to connect to ${hostPort} over SSH: ${why}`);
  }
  const privateKey = await readOrFail(t.keyFile, 'key_file', 'auth');
  // ssh2 is loaded on the first connection: a hub that never uses SSH never loads it
  const { Client: SshClient } = await import('ssh2');
  if (signal?.aborted) throw new TransportError('aborted', `Connecting to ${hostPort} over SSH was cancelled`);

  return new Promise<Client>((resolve, reject) => {
    const client = new SshClient();
    let verdict: HostKeyVerdict | undefined;
    let settled = false;
    const finish = (err: TransportError | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        client.removeAllListeners('ready');
        client.on('error', () => undefined);
        client.destroy();
        reject(err);
      } else {
        resolve(client);
      }
    };
    const onAbort = () => finish(new TransportError('aborted', `Connecting to ${hostPort} over SSH was cancelled`));
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => finish(new TransportError('unreachable', `Could not reach ${hostPort} over SSH: no answer within ${t.connectTimeoutMs / 1000} s`)),
      t.connectTimeoutMs,
    );

    client.on('ready', () => finish(undefined));
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (verdict && !verdict.ok) {
        finish(new TransportError('host-key', `Refusing to connect to ${hostPort} over SSH: ${verdict.message}`, { cause: err }));
      } else if (err.level === 'handshake' && /host key/i.test(err.message)) {
        const listed = algorithms.join(', ');
        finish(new TransportError('host-key', `Refusing to connect to ${hostPort} over SSH: it offers no host key of the types ${t.knownHostsFile} lists for it (${listed})`, { cause: err }));
      } else if (err.level === 'client-authentication') {
        finish(new TransportError('auth', `${sshWhere(t)} did not accept the key ${t.keyFile} (${err.message})`, { cause: err }));
      } else if (err.level === 'client-timeout') {
        finish(new TransportError('unreachable', `Could not reach ${hostPort} over SSH: no answer within ${t.connectTimeoutMs / 1000} s`, { cause: err }));
      } else {
        finish(new TransportError('unreachable', `Could not reach ${hostPort} over SSH: ${err.message}`, { cause: err }));
      }
    });
    client.on('close', () => finish(new TransportError('unreachable', `Could not reach ${hostPort} over SSH: the connection closed during the handshake`)));

    try {
      client.connect({
        host: t.host,
        port: t.port,
        username: t.user,
        privateKey,
        readyTimeout: t.connectTimeoutMs,
        keepaliveInterval: t.keepaliveIntervalMs,
        keepaliveCountMax: 3,
        algorithms: { serverHostKey: algorithms as never },
        hostVerifier: (key: Buffer) => {
          verdict = checkHostKey(knownHosts.entries, t.host, t.port, key, t.knownHostsFile);
          return verdict.ok;
        },
      });
    } catch (err) {
      // e.g. a key file ssh2 cannot parse (or one with a passphrase)
      finish(new TransportError('auth', `Cannot use the SSH key_file ${t.keyFile}: ${(err as Error).message}`, { cause: err }));
    }
  });
}
