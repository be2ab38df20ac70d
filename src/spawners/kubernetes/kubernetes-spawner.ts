/**
 * The Kubernetes spawner (`kind: kubernetes`). SKELETON: the implementation
 * lands with issue 13's first wave.
 */
import type { Logger } from 'pino';
import type { PollResult, SpawnRequest, Spawner, SpawnerDeps, SpawnerState, StartResult } from '../spawner.js';
import type { KubeApi } from './kube-api.js';
import type { KubernetesSpawnerConfig } from './kubernetes-config.js';

/** Runs single-user servers as pods. */
export class KubernetesSpawner implements Spawner {
  readonly kind = 'kubernetes';
  readonly resumable = true;

  constructor(
    readonly config: KubernetesSpawnerConfig,
    readonly deps: SpawnerDeps,
    readonly api: KubeApi | undefined,
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

/** The Kubernetes spawner for one back-end's options; `api` replaces the client (tests). */
export function createKubernetesSpawner(config: KubernetesSpawnerConfig, deps: SpawnerDeps, api?: KubeApi): KubernetesSpawner {
  return new KubernetesSpawner(config, deps, api);
}
