/**
 * The Kubernetes spawner as a back-end of the spawner conformance suite:
 * built with `createSpawner` from a validated `kind: kubernetes` config whose
 * `kube_config` is the kubeconfig of the Kubernetes API stand-in
 * (test/helpers/k8s-standin.ts, HTTPS with its own CA). The stand-in runs
 * the trivial server at each running pod's IP, with the pod's environment
 * (the token through the Secret). Every instance the suite makes is
 * init()-ed before use and close()-d in cleanup. `kill` deletes the pod
 * outside the hub, as `kubectl delete pod` would.
 */
import os from 'node:os';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { createSpawner } from '../../src/spawners/registry.js';
import type { Spawner, SpawnerState } from '../../src/spawners/spawner.js';
import { startK8sStandin, type K8sStandin } from '../helpers/k8s-standin.js';
import type { SpawnerBackend } from './spawner-conformance.js';

/** The Kubernetes back-end of the conformance suite, over the API stand-in. */
export function kubernetesBackend(): SpawnerBackend {
  let standin: K8sStandin | undefined;
  const made: Spawner[] = [];
  const deps = () => ({ log: pino({ level: 'silent' }), name: 'default', now: Date.now, fetch: globalThis.fetch, dataDir: os.tmpdir() });
  return {
    name: 'kubernetes (API stand-in, real servers at the pod IPs)',
    unavailable: async () => {
      standin = await startK8sStandin();
      return undefined;
    },
    create: async (): Promise<Spawner> => {
      if (!standin) throw new Error('the stand-in is not running');
      const config = validateConfig({ spawner: { kind: 'kubernetes', kube_config: standin.kubeconfigPath, namespace: 'default', request_timeout: 10 } }).spawner;
      const spawner = createSpawner(config, deps());
      made.push(spawner);
      await spawner.init?.();
      return spawner;
    },
    kill: async (state: SpawnerState) => {
      await standin?.deleteOutside(String(state['namespace']), String(state['pod']));
    },
    cleanup: async () => {
      for (const s of made) await s.close?.();
      const refused = (standin?.requests ?? []).filter((r) => r.status >= 400 && r.status !== 404 && r.status !== 409);
      await standin?.close();
      if (refused.length > 0) throw new Error(`the Kubernetes stand-in refused requests:\n${refused.map((r) => `${r.method} ${r.path} → ${r.status}`).join('\n')}`);
    },
  };
}
