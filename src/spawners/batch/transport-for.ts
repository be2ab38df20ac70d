/**
 * Picks the {@link Transport} of a batch back-end from its options: the
 * local one when `ssh:` is absent, else one pooled SSH connection to the
 * login host (tests may pass another factory).
 */
import type { SpawnerDeps } from '../spawner.js';
import { LocalTransport } from './local-transport.js';
import type { SshOptions } from './ssh-config.js';
import { SshTransport } from './ssh-transport.js';
import type { Transport } from './transport.js';

/** Builds the SSH transport from a back-end's `ssh:` options. */
export type SshTransportFactory = (ssh: SshOptions, deps: SpawnerDeps) => Transport;

/** The default SSH transport: {@link SshTransport}, logging through the back-end's logger. */
const sshTransport: SshTransportFactory = (ssh, deps) => new SshTransport(ssh, { log: deps.log });

/** The transport for a back-end whose options may hold `ssh` (absent: commands run on the hub's machine). */
export function transportFor(options: { ssh?: SshOptions | undefined }, deps: SpawnerDeps, ssh: SshTransportFactory = sshTransport): Transport {
  if (options.ssh === undefined || options.ssh === null) return new LocalTransport();
  return ssh(options.ssh, deps);
}
