/**
 * Waiting on a server's pod through the shared PodReflector's cache and the
 * EventReflector's feed (no API call per wait): until it is ready (its URL),
 * fails (a clear SpawnError), is deleted, or the spawn is given up; and,
 * after a delete, until the cache no longer has it.
 */
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { SpawnError } from '../../lib/errors.js';
import type { ProgressEvent } from '../spawner.js';
import { eventIsAbout, progressOfEvent } from './pod-progress.js';
import { containerTrouble, pendingReason, podFailure, readyUrl, unschedulable } from './pod-status.js';

/** How often a wait looks at the cache without a change event (cache only: no API call). */
const RECHECK_MS = 2000;

/** The parts of the reflectors a wait uses. */
export interface PodCache {
  get(namespace: string, name: string): V1Pod | undefined;
  readonly synced: boolean;
  onChange(listener: (pod: V1Pod, type: 'ADDED' | 'MODIFIED' | 'DELETED') => void): () => void;
}
export interface EventFeed {
  onEvent(listener: (e: CoreV1Event) => void): () => void;
}

/** A wait ended because the spawner was closed (the hub shuts down), not because the pod failed. */
export class WaitClosedError extends SpawnError {
  constructor(message: string) {
    super(message, 'hub-closing', { status: 503 });
  }
}

/** What {@link waitForPod} waits for. */
export interface PodWait {
  namespace: string;
  name: string;
  /** The uid of the pod this spawn created (undefined on resume: any pod of that name). */
  uid: string | undefined;
  /** True when the pod must be in the cache already (resume): missing from the start is deleted. */
  mustExist: boolean;
  /** The port when the pod spec names none. */
  port: number;
  /** The image, for messages before the pod is seen. */
  image: string;
  signal: AbortSignal;
  /** Aborted when the hub process closes the spawner: the wait ends with {@link WaitClosedError}, the pod is left alone (a restarted hub resumes). */
  closed?: AbortSignal;
  progress(e: ProgressEvent): void;
}

/** Resolves with the ready pod's URL and IP; rejects with a SpawnError saying why it will not be ready. */
export function waitForPod(pods: PodCache, events: EventFeed, w: PodWait): Promise<{ url: string; ip: string }> {
  return new Promise((resolve, reject) => {
    let done = false;
    let seen = false;
    let lastProgress = 0;
    let lastMessage = '';
    let lastReason = '';
    const offPod = pods.onChange((pod, type) => {
      if (!isOurs(pod)) return;
      if (type === 'DELETED') return fail(new SpawnError(`Pod ${w.name} in namespace ${w.namespace} was deleted outside the hub before the server was ready.`, 'pod-deleted'));
      check();
    });
    const offEvents = events.onEvent((e) => {
      if (done || !eventIsAbout(e, w.namespace, w.name, w.uid)) return;
      const p = progressOfEvent(e, w.image);
      if (p) say(p);
    });
    const onAbort = (): void => {
      const why = lastReason || 'the pod was not ready';
      fail(new SpawnError(`Gave up waiting for pod ${w.name} in namespace ${w.namespace}: ${why}.`, 'timeout'));
    };
    w.signal.addEventListener('abort', onAbort, { once: true });
    const onClosed = (): void => fail(new WaitClosedError(`The hub stopped waiting for pod ${w.name} in namespace ${w.namespace} as it shuts down`));
    w.closed?.addEventListener('abort', onClosed, { once: true });
    // a look at the cache now and then too: a re-list after a reconnect may not replay every change as an event
    const timer = setInterval(() => check(), RECHECK_MS);
    timer.unref();

    function isOurs(pod: V1Pod): boolean {
      return pod.metadata?.namespace === w.namespace && pod.metadata.name === w.name && (w.uid === undefined || pod.metadata.uid === w.uid);
    }
    function say(p: ProgressEvent): void {
      if (p.message === lastMessage) return;
      lastMessage = p.message;
      lastProgress = Math.max(lastProgress, p.progress);
      w.progress({ progress: lastProgress, message: p.message });
    }
    function finish(): boolean {
      if (done) return false;
      done = true;
      clearInterval(timer);
      offPod();
      offEvents();
      w.signal.removeEventListener('abort', onAbort);
      w.closed?.removeEventListener('abort', onClosed);
      return true;
    }
    function fail(err: Error): void {
      if (finish()) reject(err);
    }
    function check(): void {
      if (done) return;
      const cached = pods.get(w.namespace, w.name);
      const pod = cached && isOurs(cached) ? cached : undefined;
      if (!pod) {
        if (pods.synced && (seen || w.mustExist)) fail(new SpawnError(`Pod ${w.name} in namespace ${w.namespace} is gone: it was deleted outside the hub before the server was ready.`, 'pod-deleted'));
        return;
      }
      seen = true;
      const failure = podFailure(pod);
      if (failure) return fail(new SpawnError(failure.message, failure.reason));
      const url = readyUrl(pod, w.port);
      if (url) {
        if (finish()) resolve({ url, ip: pod.status?.podIP ?? '' });
        return;
      }
      const refusal = unschedulable(pod);
      lastReason = refusal ? `the scheduler finds no node for it: ${refusal}` : pendingReason(pod);
      if (refusal) say({ progress: 20, message: `Waiting for a node: ${refusal}` });
      const trouble = refusal ? undefined : containerTrouble(pod);
      if (trouble) say({ progress: 50, message: trouble });
    }
    if (w.closed?.aborted) return onClosed();
    if (w.signal.aborted) return onAbort();
    check();
  });
}

/** Resolves true once the cache no longer has pod `namespace/name` (uid `uid` when given), false after `ms`. */
export function waitForPodGone(pods: PodCache, namespace: string, name: string, ms: number, uid?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const gone = (): boolean => {
      const p = pods.get(namespace, name);
      return p === undefined || (uid !== undefined && p.metadata?.uid !== uid);
    };
    if (gone()) return resolve(true);
    const timer = setTimeout(() => {
      off();
      resolve(false);
    }, ms);
    const off = pods.onChange(() => {
      if (!gone()) return;
      clearTimeout(timer);
      off();
      resolve(true);
    });
  });
}
