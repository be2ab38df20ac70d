/**
 * The Kubernetes objects of a server (pure): its pod, its user's volume claim
 * and the Secret holding its secret environment, from the back-end's options
 * (after the chosen profile's overrides) and the hub's environment, with
 * KubeSpawner's layout (container `notebook`, port `notebook-port`,
 * `restartPolicy: OnFailure`, its labels).
 */
import type {
  V1Container,
  V1EnvVar,
  V1Lifecycle,
  V1ObjectMeta,
  V1OwnerReference,
  V1PersistentVolumeClaim,
  V1Pod,
  V1PodSecurityContext,
  V1PodSpec,
  V1SecurityContext,
  V1Secret,
  V1Service,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { cpuQuantity, memoryQuantity } from './kube-quantities.js';
import { expandNameTemplate, nameVariables, type NameVariables, type ServerObjectNames } from './kube-names.js';
import type { KubernetesSpawnerConfig } from './kubernetes-config.js';
import { podEnvironment } from './pod-env.js';

/** What a server's objects are built from. */
export interface ManifestInput {
  /** The back-end's options AFTER the profile's overrides are applied. */
  config: KubernetesSpawnerConfig;
  /** The hub's user and server names (raw; slugs are made here). */
  user: string;
  server: string;
  names: ServerObjectNames;
  /** The server's environment from the hub; secrets in it go into the Secret and are referenced, never inline. */
  env: Record<string, string>;
  /** Labels the hub puts on every object (e.g. which hub owns it); below the fixed labels, above `extra_labels`. */
  hubLabels?: Record<string, string>;
}

/** The label selector of every server pod this hub manages. */
export const POD_LABEL_SELECTOR = 'component=singleuser-server,app.kubernetes.io/managed-by=ganymede';

/** The name of the volume that mounts the user's claim (`storage_pvc_ensure`). */
export const HOME_VOLUME_NAME = 'home-claim';

/** The container's name (KubeSpawner's: the hub and tools look it up). */
export const CONTAINER_NAME = 'notebook';

/** The container port's name. */
export const PORT_NAME = 'notebook-port';

function varsOf(i: ManifestInput): NameVariables {
  return nameVariables(i.user, i.server, i.names.namespace);
}

/**
 * `value` deep-copied with the name templates of every string replaced (keys
 * kept): `{username}`, `{servername}`, `{user_server}` as slugs (never the raw
 * names: no `/` or `..` reaches a path), `{hubnamespace}` as the server's namespace.
 */
function expandDeep<T>(value: T, vars: NameVariables): T {
  if (typeof value === 'string') return expandNameTemplate(value, vars) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => expandDeep(v, vars)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = expandDeep(v, vars);
    return out as T;
  }
  return value;
}

/**
 * The labels of every object of the server: `extra_labels` (templates
 * expanded), then `hubLabels`, then the fixed ones, which win.
 */
export function serverLabels(i: ManifestInput): Record<string, string> {
  const vars = varsOf(i);
  return {
    ...expandDeep(i.config.extra_labels, vars),
    ...i.hubLabels,
    'hub.jupyter.org/username': vars.username,
    'hub.jupyter.org/servername': vars.servername,
    component: 'singleuser-server',
    'app.kubernetes.io/component': 'singleuser-server',
    'app.kubernetes.io/name': 'jupyterhub',
    'app.kubernetes.io/managed-by': 'ganymede',
  };
}

/** The annotations of every object of the server: `extra_annotations`, then the raw user and server names. */
export function serverAnnotations(i: ManifestInput): Record<string, string> {
  return {
    ...expandDeep(i.config.extra_annotations, varsOf(i)),
    'hub.jupyter.org/username': i.user,
    'hub.jupyter.org/servername': i.server,
  };
}

function metadata(i: ManifestInput, name: string): V1ObjectMeta {
  return { name, namespace: i.names.namespace, labels: serverLabels(i), annotations: serverAnnotations(i) };
}

/** `limits` and `requests` from the CPU and memory options with `extra_resource_*` merged in (they win). */
function resources(c: KubernetesSpawnerConfig): { limits?: Record<string, string>; requests?: Record<string, string> } {
  const limits: Record<string, string> = {};
  const requests: Record<string, string> = {};
  if (c.cpu_limit !== undefined) limits['cpu'] = cpuQuantity(c.cpu_limit);
  if (c.mem_limit !== undefined) limits['memory'] = memoryQuantity(c.mem_limit);
  if (c.cpu_guarantee !== undefined) requests['cpu'] = cpuQuantity(c.cpu_guarantee);
  if (c.mem_guarantee !== undefined) requests['memory'] = memoryQuantity(c.mem_guarantee);
  Object.assign(limits, c.extra_resource_limits);
  Object.assign(requests, c.extra_resource_guarantees);
  return {
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
    ...(Object.keys(requests).length > 0 ? { requests } : {}),
  };
}

function containerSecurityContext(c: KubernetesSpawnerConfig): V1SecurityContext {
  return {
    ...(c.uid !== undefined ? { runAsUser: c.uid } : {}),
    ...(c.gid !== undefined ? { runAsGroup: c.gid } : {}),
    allowPrivilegeEscalation: false,
  };
}

function podSecurityContext(c: KubernetesSpawnerConfig): V1PodSecurityContext | undefined {
  const ctx: V1PodSecurityContext = {
    ...(c.fs_gid !== undefined ? { fsGroup: c.fs_gid } : {}),
    ...(c.supplemental_gids.length > 0 ? { supplementalGroups: [...c.supplemental_gids] } : {}),
  };
  return Object.keys(ctx).length > 0 ? ctx : undefined;
}

/** The container's variables: plain ones as values, secret ones from the server's Secret. */
function envVars(i: ManifestInput, vars: NameVariables): V1EnvVar[] {
  const { plain, secret } = podEnvironment({
    hubEnv: i.env,
    environment: i.config.environment,
    vars,
    image: i.config.image,
    port: i.config.port,
    defaultUrl: i.config.default_url,
  });
  return [
    ...Object.entries(plain).map(([name, value]) => ({ name, value })),
    ...Object.keys(secret).map((name) => ({ name, valueFrom: { secretKeyRef: { name: i.names.secret, key: name } } })),
  ];
}

/** The pod's volumes and the container's mounts: `volumes`/`volume_mounts` (templates expanded), then the user's claim. */
function storage(i: ManifestInput, vars: NameVariables): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const volumes = expandDeep(i.config.volumes, vars) as unknown as V1Volume[];
  const mounts = expandDeep(i.config.volume_mounts, vars) as unknown as V1VolumeMount[];
  if (i.config.storage_pvc_ensure) {
    volumes.push({ name: HOME_VOLUME_NAME, persistentVolumeClaim: { claimName: i.names.pvc } });
    mounts.push({ name: HOME_VOLUME_NAME, mountPath: i.config.storage_mount_path });
  }
  return { volumes, mounts };
}

/**
 * The server's pod: one container `notebook` running `cmd` + `args` as its
 * arguments (the image's entrypoint stays; an empty `cmd` runs the image's own
 * command and drops `args`), port `notebook-port`, `restartPolicy: OnFailure`,
 * no service account token unless `service_account` is set.
 */
export function podManifest(i: ManifestInput): V1Pod {
  const c = i.config;
  const vars = varsOf(i);
  const { volumes, mounts } = storage(i, vars);
  const res = resources(c);
  const container: V1Container = {
    name: CONTAINER_NAME,
    image: c.image,
    ...(c.image_pull_policy !== '' ? { imagePullPolicy: c.image_pull_policy } : {}),
    ...(c.cmd.length > 0 ? { args: [...c.cmd, ...c.args] } : {}),
    ports: [{ name: PORT_NAME, containerPort: c.port }],
    env: envVars(i, vars),
    ...(Object.keys(res).length > 0 ? { resources: res } : {}),
    ...(mounts.length > 0 ? { volumeMounts: mounts } : {}),
    securityContext: containerSecurityContext(c),
    ...(c.lifecycle_hooks !== undefined ? { lifecycle: structuredClone(c.lifecycle_hooks) as V1Lifecycle } : {}),
  };
  const podSecurity = podSecurityContext(c);
  const spec: V1PodSpec = {
    containers: [container],
    restartPolicy: 'OnFailure',
    ...(c.image_pull_secrets.length > 0 ? { imagePullSecrets: c.image_pull_secrets.map((name) => ({ name })) } : {}),
    ...(Object.keys(c.node_selector).length > 0 ? { nodeSelector: { ...c.node_selector } } : {}),
    ...(c.tolerations.length > 0 ? { tolerations: structuredClone(c.tolerations) as V1Toleration[] } : {}),
    ...(volumes.length > 0 ? { volumes } : {}),
    ...(podSecurity ? { securityContext: podSecurity } : {}),
    ...(c.service_account !== '' ? { serviceAccountName: c.service_account } : { automountServiceAccountToken: false }),
  };
  return { apiVersion: 'v1', kind: 'Pod', metadata: metadata(i, i.names.pod), spec };
}

/** The user's volume claim (`storage_capacity`, `storage_class`, `storage_access_modes`). */
export function pvcManifest(i: ManifestInput): V1PersistentVolumeClaim {
  const c = i.config;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: metadata(i, i.names.pvc),
    spec: {
      accessModes: [...c.storage_access_modes],
      resources: { requests: { storage: c.storage_capacity } },
      ...(c.storage_class !== '' ? { storageClassName: c.storage_class } : {}),
    },
  };
}

/** The Secret with the server's secret variables (base64 in `data`), which the pod references by `secretKeyRef`. */
export function secretManifest(i: ManifestInput): V1Secret {
  const { secret } = podEnvironment({
    hubEnv: i.env,
    environment: i.config.environment,
    vars: varsOf(i),
    image: i.config.image,
    port: i.config.port,
    defaultUrl: i.config.default_url,
  });
  const data: Record<string, string> = {};
  for (const [name, value] of Object.entries(secret)) data[name] = Buffer.from(value, 'utf8').toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: metadata(i, i.names.secret), type: 'Opaque', data };
}

/**
 * A ClusterIP Service in front of the server's pod (KubeSpawner makes one
 * with `services_enabled`, so the hub reaches the server by a stable DNS
 * name instead of the pod's IP): named like the pod, port `notebook-port`,
 * selecting the pod by its user, server and component labels.
 */
export function serviceManifest(i: ManifestInput): V1Service {
  const labels = serverLabels(i);
  const selector = {
    'hub.jupyter.org/username': labels['hub.jupyter.org/username']!,
    'hub.jupyter.org/servername': labels['hub.jupyter.org/servername']!,
    component: labels['component']!,
  };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(i, i.names.pod),
    spec: { type: 'ClusterIP', selector, ports: [{ name: PORT_NAME, port: i.config.port, targetPort: PORT_NAME, protocol: 'TCP' }] },
  };
}

/**
 * An owner reference to the created `pod` (it needs its `uid`), for the
 * server's Secret: Kubernetes then deletes the Secret with the pod.
 *
 * @throws Error when the pod has no name or uid yet (not created).
 */
export function ownerReferenceTo(pod: V1Pod): V1OwnerReference {
  const name = pod.metadata?.name;
  const uid = pod.metadata?.uid;
  if (!name || !uid) throw new Error('the pod has no name or uid yet: create it first');
  return { apiVersion: 'v1', kind: 'Pod', name, uid, blockOwnerDeletion: false };
}
