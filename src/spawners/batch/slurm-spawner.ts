/**
 * Builds the `kind: slurm` back-end: the {@link BatchSpawner} over Slurm,
 * its commands run locally or over SSH (`ssh:` set; the SSH transport's
 * factory is passed in by src/spawners/registry.ts).
 */
import type { SpawnerDeps } from '../spawner.js';
import type { SlurmSpawnerConfig } from './batch-config.js';
import { BatchSpawner } from './batch-spawner.js';
import { slurmScheduler } from './slurm.js';
import { transportFor, type SshTransportFactory } from './transport-for.js';

/**
 * The Slurm batch spawner for one back-end's options. Throws when `ssh:` is
 * set and no `ssh` factory is given.
 */
export function createSlurmSpawner(config: SlurmSpawnerConfig, deps: SpawnerDeps, ssh?: SshTransportFactory): BatchSpawner {
  return new BatchSpawner({ config, scheduler: slurmScheduler, transport: transportFor(config, deps, ssh), deps });
}
