/**
 * Picks the {@link Transport} of a batch back-end from its options: the
 * local one when `ssh:` is absent, else the SSH one made by the factory the
 * registry passes in (src/spawners/registry.ts), so this module does not
 * depend on the SSH client.
 */
import type { SpawnerDeps } from '../spawner.js';
import { LocalTransport } from './local-transport.js';
import type { Transport } from './transport.js';

/** Builds the SSH transport from a back-end's `ssh:` options. */
export type SshTransportFactory = (ssh: unknown, deps: SpawnerDeps) => Transport;

/**
 * The transport for a back-end whose options hold `ssh` (absent: commands
 * run on the hub's machine). Throws when `ssh` is set but no SSH factory was
 * given, rather than silently running the commands locally.
 */
export function transportFor(options: { ssh?: unknown }, deps: SpawnerDeps, ssh?: SshTransportFactory): Transport {
  if (options.ssh === undefined || options.ssh === null) return new LocalTransport();
  if (!ssh) throw new Error(`back-end ${JSON.stringify(deps.name)} sets ssh: but this hub was built without the SSH transport`);
  return ssh(options.ssh, deps);
}
