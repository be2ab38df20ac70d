/** STUB (part "watch" replaces it at merge): the KubeApi over @kubernetes/client-node. */
import type { Logger } from 'pino';
import type { KubeApi } from './kube-api.js';
import type { KubernetesSpawnerConfig } from './kubernetes-config.js';

/** The API client for `config` and the hub's own namespace. */
export function kubeApiFrom(_config: KubernetesSpawnerConfig, _log: Logger): { api: KubeApi; hubNamespace: string } {
  throw new Error('kube-client.ts is a stub');
}
