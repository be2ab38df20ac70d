/**
 * The Kubernetes spawner's state: the names of the live objects of a server
 * (saved right after they are created), so a restarted hub re-attaches to
 * them whatever the name templates say by then.
 */
import type { SpawnerState } from '../spawner.js';

/** The version of {@link KubeState}. */
export const KUBE_STATE_VERSION = 1;

/** What identifies a server's objects. */
export interface KubeState extends SpawnerState {
  v: 1;
  pod: string;
  namespace: string;
  secret: string;
  /** The user's claim, when the server mounts one (never deleted on stop). */
  pvc?: string;
  /** The pod's uid once created: a pod recreated by someone else under the same name is not this server's. */
  uid?: string;
  /** The profile's slug the server started with. */
  profile?: string;
  /** The pod's IP when the server became ready (the hub's route points there). */
  ip?: string;
}

/** A DNS-1123 name (pods, secrets, claims: subdomains; namespaces: labels, a subset). */
const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
/** A DNS-1123 label (namespaces). */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A Kubernetes uid (a UUID in practice). */
const UID = /^[A-Za-z0-9-]{1,128}$/;

/**
 * Reads a saved state: undefined for an empty one (nothing was created),
 * throws for one that is not this spawner's or names objects with names no
 * Kubernetes object can have (a tampered or foreign state).
 */
export function readKubeState(state: SpawnerState | undefined): KubeState | undefined {
  if (!state || Object.keys(state).length === 0 || (state.v === KUBE_STATE_VERSION && state['pod'] === undefined)) return undefined;
  if (state.v !== KUBE_STATE_VERSION) throw new Error(`The saved state of this server has version ${JSON.stringify(state.v)}, not the Kubernetes spawner's ${KUBE_STATE_VERSION}`);
  const out: KubeState = { v: 1, pod: name(state, 'pod'), namespace: name(state, 'namespace', LABEL), secret: name(state, 'secret') };
  if (state['pvc'] !== undefined) out.pvc = name(state, 'pvc');
  if (typeof state['uid'] === 'string' && UID.test(state['uid'])) out.uid = state['uid'];
  if (typeof state['profile'] === 'string') out.profile = state['profile'];
  if (typeof state['ip'] === 'string') out.ip = state['ip'];
  return out;
}

function name(state: SpawnerState, key: string, shape = NAME): string {
  const v = state[key];
  if (typeof v !== 'string' || !shape.test(v)) throw new Error(`The saved state of this server has no valid ${key} name (${JSON.stringify(v)?.slice(0, 80)})`);
  return v;
}
