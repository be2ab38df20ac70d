/** STUB (part "manifests" replaces it at merge): names of a server's objects. */
import { createHash } from 'node:crypto';
import type { KubernetesSpawnerConfig } from './kubernetes-config.js';

/** A DNS-1123 label for `name` (kept when already valid, else cleaned + hash). */
export function safeSlug(name: string, maxLength = 48): string {
  if (/^[a-z][a-z0-9-]*$/.test(name) && name.length <= maxLength && !name.endsWith('-')) return name;
  const clean = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, maxLength) || 'x';
  return `${clean}---${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/** The names of one server's objects. */
export interface ServerObjectNames {
  namespace: string;
  pod: string;
  pvc: string;
  secret: string;
}

/** The names of the objects of `user`'s server `server`. */
export function serverObjectNames(config: KubernetesSpawnerConfig, user: string, server: string, hubNamespace: string): ServerObjectNames {
  const u = safeSlug(user);
  const userServer = server ? `${u}--${safeSlug(server)}` : u;
  const namespace = config.enable_user_namespaces ? `${hubNamespace}-${u}` : config.namespace || hubNamespace;
  const pod = `jupyter-${userServer}`;
  return { namespace, pod, pvc: `claim-${u}`, secret: `${pod}-secret` };
}
