/**
 * Objects a server needs that outlive it: the user's namespace (with
 * `enable_user_namespaces`) and the user's volume claim (with
 * `storage_pvc_ensure`), created when missing and never deleted on stop.
 */
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { KubeApiError, type KubeApi } from './kube-api.js';

/** True for a create the API refused because the object exists already. */
export function alreadyExists(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 409;
}

/** True for a call on an object the API server does not have. */
export function notFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 404;
}

/** Creates namespace `name` when it does not exist (a create racing another is fine). */
export async function ensureNamespace(api: KubeApi, name: string, labels: Record<string, string>): Promise<void> {
  if (await api.readNamespace(name)) return;
  try {
    await api.createNamespace({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  } catch (err) {
    if (!alreadyExists(err)) throw err;
  }
}

/** Creates the claim when it does not exist; true when it was created now (first spawn). Claims are kept across servers. */
export async function ensurePvc(api: KubeApi, namespace: string, pvc: V1PersistentVolumeClaim): Promise<boolean> {
  const name = pvc.metadata?.name ?? '';
  if (await api.readPvc(namespace, name)) return false;
  try {
    await api.createPvc(namespace, pvc);
    return true;
  } catch (err) {
    if (alreadyExists(err)) return false;
    throw err;
  }
}
