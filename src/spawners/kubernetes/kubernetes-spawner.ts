/**
 * The Kubernetes spawner (`kind: kubernetes`): each server is a pod (with a
 * Secret for its tokens, the user's claim with `storage_pvc_ensure`, and the
 * user's namespace with `enable_user_namespaces`). One shared PodReflector
 * and EventReflector (started in {@link KubernetesSpawner.init}) answer
 * every poll and feed every wait: no API call per user per poll. The state
 * names the live objects, so a restarted hub re-attaches to them.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { ConfigError, HubError, SpawnError } from '../../lib/errors.js';
import type { OptionsContext, PollResult, SpawnRequest, Spawner, SpawnerDeps, SpawnerState, SpawnUser, StartResult } from '../spawner.js';
import { KubeApiError, type KubeApi } from './kube-api.js';
import { kubeApiFrom } from './kube-client.js';
import { cpuQuantity, memoryQuantity } from './kube-quantities.js';
import { nameVariables, serverObjectNames } from './kube-names.js';
import { KUBE_STATE_VERSION, readKubeState, type KubeState } from './kube-state.js';
import { alreadyExists, ensureNamespace, ensurePvc, notFound } from './kube-storage.js';
import type { KubernetesSpawnerConfig } from './kubernetes-config.js';
import { podManifest, POD_LABEL_SELECTOR, pvcManifest, secretManifest, type ManifestInput } from './manifests.js';
import { EventReflector, PodReflector } from './pod-reflector.js';
import { podPoll } from './pod-status.js';
import { waitForPod, waitForPodGone, WaitClosedError } from './pod-wait.js';
import { checkProfileList } from './profile-list.js';
import { applyProfile, availableProfiles, profileFormHtml, profileOptionsFromForm, type ProfileChoice } from './profiles.js';

/** Seconds a server's pod gets to end when it is stopped. */
const STOP_GRACE_SECONDS = 1;

/** The shared parts, from init to close. */
interface Live {
  api: KubeApi;
  hubNamespace: string;
  pods: PodReflector;
  events: EventReflector;
}

/** Runs single-user servers as pods. */
export class KubernetesSpawner implements Spawner {
  readonly kind = 'kubernetes';
  readonly resumable = true;
  private live: Promise<Live> | undefined;
  /** Aborted by close: ends the waits of spawns under way, leaving their pods to a restarted hub. */
  private closing = unboundedController();
  /** Set by close, cleared by init: nothing starts the shared watches again in between. */
  private closed = false;
  /** Pods (`ns/name/ip`) whose new IP was logged already: one warning per change, not one per poll. */
  private readonly movedWarned = new Set<string>();

  /**
   * @param api the Kubernetes calls (undefined: built from `config` by init)
   * @param hubNamespace the hub's namespace when `api` is given (default `config.namespace`, else `default`)
   */
  constructor(
    readonly config: KubernetesSpawnerConfig,
    readonly deps: SpawnerDeps,
    readonly api: KubeApi | undefined,
    readonly hubNamespace?: string,
  ) {
    const at = `spawners.${deps.name}`;
    checkProfileList(config, at);
    const bad = badQuantity(config);
    if (bad) throw new ConfigError(`config: ${at}.${bad}`);
  }

  /** Builds the client and starts the shared watches of pods and events (resolves after their first lists). */
  async init(): Promise<void> {
    this.closed = false;
    await this.shared();
  }

  /** Stops the shared watches. */
  async close(): Promise<void> {
    const live = this.live;
    this.live = undefined;
    this.closed = true;
    this.closing.abort();
    this.closing = unboundedController();
    if (!live) return;
    const l = await live.catch(() => undefined);
    if (l) await Promise.allSettled([l.pods.stop(), l.events.stop()]);
  }

  /** The shared parts, started once (again after a failed start). */
  private shared(): Promise<Live> {
    // a spawn that fails while the hub shuts down must not start the watches again (they would keep the process alive)
    if (this.closed) return Promise.reject(new WaitClosedError('The Kubernetes spawner is closed: the hub shuts down'));
    this.live ??= this.open().catch((err: unknown) => {
      this.live = undefined;
      throw err;
    });
    return this.live;
  }

  private async open(): Promise<Live> {
    const c = this.config;
    const { api, hubNamespace } = this.api ? { api: this.api, hubNamespace: this.hubNamespace ?? (c.namespace || 'default') } : await kubeApiFrom(c, this.deps.log);
    const namespace = c.enable_user_namespaces ? undefined : c.namespace || hubNamespace;
    const resyncMs = c.watch_resync_seconds * 1000;
    const pods = new PodReflector(api, { namespace, labelSelector: POD_LABEL_SELECTOR, resyncMs, log: this.deps.log });
    const events = new EventReflector(api, { namespace, resyncMs, log: this.deps.log });
    await pods.start();
    try {
      await events.start();
    } catch (err) {
      await pods.stop();
      throw err;
    }
    return { api, hubNamespace, pods, events };
  }

  upgradeState(state: SpawnerState): SpawnerState {
    readKubeState(state);
    return state;
  }

  // ---- options (profiles.ts does the work) ----

  optionsForm(user: SpawnUser, ctx?: { authState: Record<string, unknown> | null; previous: Record<string, unknown> }): string | undefined {
    if (this.config.profile_list.length === 0) return undefined;
    const profiles = availableProfiles(this.config, user, process.env);
    if (profiles.length === 0) return '<p class="alert alert-warning">None of the profiles of this hub is open to you: ask an administrator.</p>';
    return profileFormHtml(profiles, ctx?.previous ?? {});
  }

  optionsFromForm(posted: Record<string, string | string[]>): Record<string, unknown> {
    return this.config.profile_list.length === 0 ? {} : profileOptionsFromForm(posted);
  }

  checkOptions(options: Record<string, unknown>, ctx: OptionsContext): Record<string, unknown> {
    const { config, choice } = this.profileConfig(options, ctx.user);
    if (!choice) return {};
    const bad = badQuantity(config);
    if (bad) throw new HubError(400, `Option ${bad} (from profile ${JSON.stringify(choice.profile)})`);
    const out: Record<string, unknown> = { profile: choice.profile, ...choice.options };
    for (const [k, v] of Object.entries(choice.unlisted)) out[`${k}--unlisted-choice`] = v;
    return out;
  }

  /** The config with the user's profile applied; HubError 400 naming a bad option, 403 when no profile is open to the user. */
  private profileConfig(options: Record<string, unknown>, user: SpawnUser): { config: KubernetesSpawnerConfig; choice: ProfileChoice | undefined } {
    if (this.config.profile_list.length === 0) {
      const key = Object.keys(options)[0];
      if (key !== undefined) throw new HubError(400, `Unknown user option ${JSON.stringify(key.slice(0, 80))}: this back-end (${this.deps.name}) has no profiles and takes no options`);
      return { config: this.config, choice: undefined };
    }
    const profiles = availableProfiles(this.config, user, process.env);
    if (profiles.length === 0) throw new HubError(403, `None of the profiles of back-end ${this.deps.name} is open to user ${user.name}`);
    return applyProfile(this.config, options, profiles);
  }

  // ---- start ----

  async start(req: SpawnRequest): Promise<StartResult> {
    const live = await this.shared().catch((err: unknown) => {
      if (err instanceof WaitClosedError) throw err;
      throw new SpawnError(`The Kubernetes API cannot be reached: ${(err as Error).message}`, 'kube-unavailable', { status: 503, cause: err });
    });
    if (req.resumeState) {
      const s = readKubeState(req.resumeState);
      if (!s) throw new SpawnError('There is no pod to resume: the saved state names none', 'no-pod');
      req.progress({ progress: 15, message: `Resuming the wait for pod ${s.pod} in namespace ${s.namespace}` });
      return this.waitReady(req, live, s, s.uid, true, this.config.port, this.config.image);
    }
    if (req.signal.aborted) throw new SpawnError('The spawn was cancelled before anything was created', 'cancelled');
    const { config, choice } = this.profileConfig(req.userOptions, req.user);
    const names = serverObjectNames(config, req.user.name, req.serverName, live.hubNamespace);
    const input: ManifestInput = { config, user: req.user.name, server: req.serverName, names, env: req.env };
    const built = buildManifests(input, choice?.profile);
    const ns = names.namespace;
    const { api } = live;
    const s: KubeState = { v: KUBE_STATE_VERSION, pod: names.pod, namespace: ns, secret: names.secret };
    if (config.storage_pvc_ensure) s.pvc = names.pvc;
    if (choice) s.profile = choice.profile;
    if (config.enable_user_namespaces) await kubeCall(`create namespace ${ns}`, () => ensureNamespace(api, ns, { 'app.kubernetes.io/managed-by': 'ganymede' }));
    if (built.pvc) {
      const pvc = built.pvc;
      const created = await kubeCall(`create the volume claim ${names.pvc} in namespace ${ns}`, () => ensurePvc(api, ns, pvc));
      req.progress({ progress: 5, message: created ? `Created volume claim ${names.pvc}` : `Using volume claim ${names.pvc}` });
    }
    let uid: string | undefined;
    try {
      await kubeCall(`create secret ${names.secret} in namespace ${ns}`, () => createReplacing(() => api.createSecret(ns, built.secret), () => api.deleteSecret(ns, names.secret)));
      await req.saveState(s);
      const pod = await kubeCall(`create pod ${names.pod} in namespace ${ns}`, () => this.createPod(live, ns, built.pod, req.log));
      uid = pod.metadata?.uid;
      if (uid) s.uid = uid;
      await req.saveState(s);
    } catch (err) {
      await this.cleanUp(s, req.log);
      throw err;
    }
    req.log.info({ pod: s.pod, namespace: ns }, 'created the server pod');
    req.progress({ progress: 10, message: `Created pod ${s.pod} in namespace ${ns}` });
    return this.waitReady(req, live, s, uid, uid === undefined, config.port, config.image);
  }

  /** Creates the pod; a leftover pod of the same name is deleted, waited out and the create tried once more. */
  private async createPod(live: Live, ns: string, pod: V1Pod, log: Logger): Promise<V1Pod> {
    try {
      return await live.api.createPod(ns, pod);
    } catch (err) {
      if (!alreadyExists(err)) throw err;
    }
    const name = pod.metadata?.name ?? '';
    log.warn({ pod: name, namespace: ns }, 'a leftover pod has the name of the new server: deleting it');
    await live.api.deletePod(ns, name, STOP_GRACE_SECONDS).catch(ignoreNotFound);
    const gone = await waitForPodGone(live.pods, ns, name, this.stopWaitMs());
    if (!gone) throw new SpawnError(`A leftover pod ${name} in namespace ${ns} was deleted but is still there after ${this.stopWaitMs() / 1000} s; try again later.`, 'pod-collision', { status: 503 });
    return live.api.createPod(ns, pod);
  }

  /** Waits for the pod; any failure (or giving up) deletes the server's objects, then rethrows. */
  private async waitReady(req: SpawnRequest, live: Live, s: KubeState, uid: string | undefined, mustExist: boolean, port: number, image: string): Promise<StartResult> {
    try {
      const { url, ip } = await waitForPod(live.pods, live.events, { namespace: s.namespace, name: s.pod, uid, mustExist, port, image, signal: req.signal, closed: this.closing.signal, progress: (e) => req.progress(e) });
      const state: KubeState = { ...s, ip };
      await req.saveState(state);
      return { url, state };
    } catch (err) {
      if (err instanceof WaitClosedError) throw err;
      req.log.warn({ pod: s.pod, namespace: s.namespace, err: (err as Error).message }, 'the server pod did not become ready: deleting it');
      await this.cleanUp(s, req.log);
      throw err;
    }
  }

  private async cleanUp(s: KubeState, log: Logger): Promise<void> {
    await this.stop(s, { log }).catch((err: Error) => log.warn({ pod: s.pod, namespace: s.namespace, err: err.message }, 'could not clean up a failed spawn'));
  }

  // ---- poll and stop ----

  /** From the shared cache only: no API call. */
  async poll(state: SpawnerState, opts: { log: Logger }): Promise<PollResult> {
    let s: KubeState | undefined;
    try {
      s = readKubeState(state);
    } catch (err) {
      return { status: 'unknown', reason: (err as Error).message };
    }
    if (!s) return { status: 'stopped' };
    const live = await this.live?.catch(() => undefined);
    if (!live) return { status: 'unknown', reason: 'the watch of pods has not started' };
    const pod = ours(live.pods.get(s.namespace, s.pod), s);
    const result = podPoll(pod, live.pods.synced);
    const ip = pod?.status?.podIP;
    if (result.status === 'running' && s.ip && ip && ip !== s.ip && !this.movedWarned.has(`${s.namespace}/${s.pod}/${ip}`)) {
      if (this.movedWarned.size > 10_000) this.movedWarned.clear();
      this.movedWarned.add(`${s.namespace}/${s.pod}/${ip}`);
      opts.log.warn({ pod: s.pod, namespace: s.namespace, was: s.ip, now: ip }, "the server's pod has a new IP: the hub's route still points at the old one");
    }
    return result;
  }

  /** Deletes the pod and the secret (the claim stays), then waits (bounded) until the watch no longer has the pod. */
  async stop(state: SpawnerState, opts: { log: Logger }): Promise<void> {
    const s = readKubeState(state);
    if (!s) return;
    const live = await this.shared();
    const cached = live.pods.get(s.namespace, s.pod);
    if (cached && !ours(cached, s)) opts.log.warn({ pod: s.pod, namespace: s.namespace }, "a pod of the server's name with another uid is not this server's: leaving it");
    else await kubeCall(`delete pod ${s.pod} in namespace ${s.namespace}`, () => live.api.deletePod(s.namespace, s.pod, STOP_GRACE_SECONDS).catch(ignoreNotFound));
    await kubeCall(`delete secret ${s.secret} in namespace ${s.namespace}`, () => live.api.deleteSecret(s.namespace, s.secret).catch(ignoreNotFound));
    if (!live.pods.synced) {
      opts.log.warn({ pod: s.pod }, 'the watch of pods is reconnecting: not waiting for the deleted pod to go');
      return;
    }
    if (!(await waitForPodGone(live.pods, s.namespace, s.pod, this.stopWaitMs(), s.uid))) {
      throw new Error(`Pod ${s.pod} in namespace ${s.namespace} was deleted but is still there after ${this.stopWaitMs() / 1000} s`);
    }
  }

  /**
   * With `delete_pvc`: deletes the user's volume claims (every claim labelled
   * with the user's slug and annotated with the user's exact name, so a user
   * whose slug another name shares keeps theirs). Without it, nothing: claims
   * outlive the user until an administrator deletes them.
   */
  async deleteUser(user: string, opts: { log: Logger }): Promise<void> {
    if (!this.config.delete_pvc) return;
    const live = await this.shared();
    const namespace = serverObjectNames(this.config, user, '', live.hubNamespace).namespace;
    const selector = `hub.jupyter.org/username=${nameVariables(user, '', live.hubNamespace).username},app.kubernetes.io/managed-by=ganymede`;
    const claims = await kubeCall(`list the volume claims of ${JSON.stringify(user)} in namespace ${namespace}`, () => live.api.listPvcs(namespace, selector));
    for (const pvc of claims.items) {
      const name = pvc.metadata?.name;
      if (!name || pvc.metadata?.annotations?.['hub.jupyter.org/username'] !== user) continue;
      await kubeCall(`delete volume claim ${name} in namespace ${namespace}`, () => live.api.deletePvc(namespace, name).catch(ignoreNotFound));
      opts.log.info({ pvc: name, namespace }, "deleted the user's volume claim (delete_pvc)");
    }
  }

  private stopWaitMs(): number {
    return (this.config.request_timeout + STOP_GRACE_SECONDS) * 1000;
  }
}

/** `pod` when it is the server's (same uid, or no uid saved), else undefined. */
function ours(pod: V1Pod | undefined, s: KubeState): V1Pod | undefined {
  return pod && s.uid !== undefined && pod.metadata?.uid !== undefined && pod.metadata.uid !== s.uid ? undefined : pod;
}

/** The manifests of a server; a builder's complaint (a bad profile value) as a SpawnError, a HubError as it is. */
function buildManifests(input: ManifestInput, profile: string | undefined) {
  const bad = badQuantity(input.config);
  if (bad) throw new HubError(400, `Option ${bad}${profile ? ` (from profile ${JSON.stringify(profile)})` : ''}`);
  try {
    return { pod: podManifest(input), secret: secretManifest(input), pvc: input.config.storage_pvc_ensure ? pvcManifest(input) : undefined };
  } catch (err) {
    if (err instanceof HubError) throw err;
    throw new SpawnError(`Cannot build the server's Kubernetes objects: ${(err as Error).message}; nothing was created`, 'bad-manifest', { cause: err });
  }
}

/** `<option>: "<value>" is not ...` for the first CPU or memory option that is no Kubernetes quantity, else undefined. */
function badQuantity(c: KubernetesSpawnerConfig): string | undefined {
  const checks: [string, unknown, (v: never) => string][] = [
    ['mem_limit', c.mem_limit, memoryQuantity],
    ['mem_guarantee', c.mem_guarantee, memoryQuantity],
    ['cpu_limit', c.cpu_limit, cpuQuantity],
    ['cpu_guarantee', c.cpu_guarantee, cpuQuantity],
  ];
  for (const [key, value, parse] of checks) {
    if (value === undefined || value === null) continue;
    try {
      parse(value as never);
    } catch {
      const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : JSON.stringify(value);
      return `${key}: ${shown} is not ${key.startsWith('mem') ? 'a memory amount (bytes, or a number with K, M, G, T, Ki, Mi, Gi...)' : 'a positive number of CPU cores'}`;
    }
  }
  return undefined;
}

/** Creates an object; when one of that name is left over (409), deletes it and creates it once more. */
async function createReplacing<T>(create: () => Promise<T>, remove: () => Promise<void>): Promise<T> {
  try {
    return await create();
  } catch (err) {
    if (!alreadyExists(err)) throw err;
  }
  await remove().catch(ignoreNotFound);
  return create();
}

function ignoreNotFound(err: unknown): void {
  if (!notFound(err)) throw err;
}

/** `call`, its KubeApiError as a SpawnError saying what could not be done (503 unreachable, 502 refused). */
async function kubeCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof KubeApiError)) throw err;
    const status = err.status === 0 ? 503 : 502;
    throw new SpawnError(`Kubernetes could not ${what}: ${err.message}${err.reason ? ` (${err.reason})` : ''}`, 'kube-api', { status, cause: err });
  }
}

/** The Kubernetes spawner for one back-end's options; `api` replaces the client (tests). */
export function createKubernetesSpawner(config: KubernetesSpawnerConfig, deps: SpawnerDeps, api?: KubeApi): KubernetesSpawner {
  return new KubernetesSpawner(config, deps, api);
}

/** The controller whose signal every waiting spawn listens to: as many listeners as spawns, so no listener-count warning. */
function unboundedController(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}
