/**
 * Builds the `kind: slurm` back-end: the {@link BatchSpawner} over Slurm,
 * its commands run locally or over SSH (`ssh:` set; transport-for.ts builds
 * the SSH transport unless a test passes its own factory).
 */
import type { SpawnerDeps } from '../spawner.js';
import type { SlurmSpawnerConfig } from './batch-config.js';
import { BatchSpawner } from './batch-spawner.js';
import { slurmScheduler } from './slurm.js';
import { transportFor, type SshTransportFactory } from './transport-for.js';

/**
 * The Slurm batch spawner for one back-end's options. `ssh` replaces the
 * default SSH transport factory (tests record commands with it). Throws
 * ConfigError for a `hub_connect_url` that is not an http(s) URL, or a
 * `form_fields` declaration that cannot work.
 */
export function createSlurmSpawner(config: SlurmSpawnerConfig, deps: SpawnerDeps, ssh?: SshTransportFactory): BatchSpawner {
  return new BatchSpawner({ config, scheduler: slurmScheduler, transport: transportFor(config, deps, ssh), deps });
}
