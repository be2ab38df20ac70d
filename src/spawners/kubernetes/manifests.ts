/** STUB (part "manifests" replaces it at merge): the objects of a server. */
import type { V1PersistentVolumeClaim, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { KubernetesSpawnerConfig } from './kubernetes-config.js';
import type { ServerObjectNames } from './kube-names.js';

/** What the builders need. */
export interface ManifestInput {
  config: KubernetesSpawnerConfig;
  user: string;
  server: string;
  names: ServerObjectNames;
  env: Record<string, string>;
  hubLabels?: Record<string, string>;
}

/** Selects the pods of every server of this hub. */
export const POD_LABEL_SELECTOR = 'component=singleuser-server,app.kubernetes.io/managed-by=ganymede';

const labels = { component: 'singleuser-server', 'app.kubernetes.io/managed-by': 'ganymede' };

/** The pod. */
export function podManifest(i: ManifestInput): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: i.names.pod, namespace: i.names.namespace, labels },
    spec: {
      restartPolicy: 'OnFailure',
      containers: [
        {
          name: 'notebook',
          image: i.config.image,
          ports: [{ name: 'notebook-port', containerPort: i.config.port }],
          envFrom: [{ secretRef: { name: i.names.secret } }],
        },
      ],
    },
  };
}

/** The user's claim. */
export function pvcManifest(i: ManifestInput): V1PersistentVolumeClaim {
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: i.names.pvc, namespace: i.names.namespace, labels }, spec: { accessModes: i.config.storage_access_modes, resources: { requests: { storage: i.config.storage_capacity } } } };
}

/** The secret with the server's tokens. */
export function secretManifest(i: ManifestInput): V1Secret {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: i.names.secret, namespace: i.names.namespace, labels }, stringData: { ...i.env } };
}
