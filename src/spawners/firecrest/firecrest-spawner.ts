/**
 * The FirecREST spawner (`kind: firecrest`): each server is a Slurm job
 * submitted, watched and cancelled through FirecREST v2 with the user's own
 * access token. SKELETON: the implementation lands with issue 12's wave 1.
 */
import type { Logger } from 'pino';
import type { PollResult, SpawnRequest, Spawner, SpawnerDeps, SpawnerState, StartResult } from '../spawner.js';
import type { FirecrestApi } from './firecrest-api.js';
import type { FirecrestSpawnerConfig } from './firecrest-config.js';

/** Runs single-user servers as FirecREST jobs. */
export class FirecrestSpawner implements Spawner {
  readonly kind = 'firecrest';
  readonly resumable = true;

  constructor(
    readonly config: FirecrestSpawnerConfig,
    readonly deps: SpawnerDeps,
    readonly api: FirecrestApi | undefined,
  ) {}

  start(_req: SpawnRequest): Promise<StartResult> {
    return Promise.reject(new Error('not implemented yet'));
  }

  poll(_state: SpawnerState, _opts: { log: Logger }): Promise<PollResult> {
    return Promise.resolve({ status: 'unknown', reason: 'not implemented yet' });
  }

  stop(_state: SpawnerState, _opts: { log: Logger }): Promise<void> {
    return Promise.reject(new Error('not implemented yet'));
  }
}

/** The FirecREST spawner for one back-end's options; `api` replaces the HTTP client (tests). */
export function createFirecrestSpawner(config: FirecrestSpawnerConfig, deps: SpawnerDeps, api?: FirecrestApi): FirecrestSpawner {
  return new FirecrestSpawner(config, deps, api);
}
