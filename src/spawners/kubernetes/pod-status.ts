/**
 * What a pod (as the API server describes it: hostile until checked) says
 * about its server: ready at which URL, failed why, pending why, and the
 * poll answer. Pure functions over V1Pod.
 */
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { PollResult } from '../spawner.js';
import { MAX_OUTSIDE_TEXT, outsideText } from '../../lib/outside-text.js';

/** The container of the server in the pod. */
export const NOTEBOOK_CONTAINER = 'notebook';

/** Why a pod cannot become a running server: a sentence and a reason label. */
export interface PodFailure {
  reason: string;
  message: string;
}

/** `text` from the API server made fit for a sentence ({@link outsideText}: control and bidi characters out, blanks folded, clipped); '' for a non-string. */
export function apiText(text: unknown, max = MAX_OUTSIDE_TEXT): string {
  return typeof text === 'string' ? outsideText(text, max) : '';
}

function notebookStatus(pod: V1Pod): V1ContainerStatus | undefined {
  return pod.status?.containerStatuses?.find((c) => c.name === NOTEBOOK_CONTAINER);
}

/** The image of the server's container (its spec), for messages. */
export function notebookImage(pod: V1Pod): string {
  return apiText(pod.spec?.containers.find((c) => c.name === NOTEBOOK_CONTAINER)?.image ?? notebookStatus(pod)?.image ?? 'the image', 200);
}

/** The port named `notebook-port` of the server's container, else `fallback`. */
export function notebookPort(pod: V1Pod, fallback: number): number {
  const ports = pod.spec?.containers.find((c) => c.name === NOTEBOOK_CONTAINER)?.ports ?? [];
  const p = ports.find((x) => x.name === 'notebook-port')?.containerPort;
  return typeof p === 'number' && Number.isInteger(p) && p > 0 && p < 65536 ? p : fallback;
}

/** An IPv4 or IPv6 address as the API server gives pod IPs (nothing else goes into a URL). */
export function plausiblePodIp(ip: unknown): ip is string {
  return typeof ip === 'string' && (/^(\d{1,3}\.){3}\d{1,3}$/.test(ip) || (/^[0-9a-fA-F:]+$/.test(ip) && ip.includes(':')));
}

/** The server's URL once the pod runs, its container runs and it has an IP; else undefined. */
export function readyUrl(pod: V1Pod, fallbackPort: number): string | undefined {
  if (pod.status?.phase !== 'Running' || pod.metadata?.deletionTimestamp) return undefined;
  if (!notebookStatus(pod)?.state?.running) return undefined;
  const ip = pod.status.podIP;
  if (!plausiblePodIp(ip)) return undefined;
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return `http://${host}:${notebookPort(pod, fallbackPort)}`;
}

const PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

/** Why this pod will not become a running server, or undefined while it still may. */
export function podFailure(pod: V1Pod): PodFailure | undefined {
  const name = apiText(pod.metadata?.name, 120);
  const c = notebookStatus(pod);
  const waiting = c?.state?.waiting;
  const why = apiText(waiting?.message);
  if (waiting?.reason && PULL_FAILURES.has(waiting.reason)) {
    return { reason: 'image-pull', message: `The image ${notebookImage(pod)} of pod ${name} cannot be pulled (${waiting.reason}${why ? `: ${why}` : ''}). Check the image name and tag, and the pull secrets.` };
  }
  const oom = oomKilled(pod);
  if (oom) return { reason: 'oom-killed', message: `The server in pod ${name} was OOM-killed (memory limit ${memoryLimit(pod)}): it used more memory than its limit (OOMKilled, exit code ${oom.exitCode}). Choose a profile with more memory or use less.` };
  if (waiting?.reason === 'CrashLoopBackOff') {
    const last = c?.lastState?.terminated;
    const exit = last ? ` (last exit code ${last.exitCode}${last.reason ? `, ${apiText(last.reason, 60)}` : ''})` : '';
    return { reason: 'crash-loop', message: `The server in pod ${name} keeps crashing right after it starts${exit}: Kubernetes is backing off (CrashLoopBackOff).` };
  }
  const phase = pod.status?.phase;
  if (phase === 'Failed' || phase === 'Succeeded') {
    const t = c?.state?.terminated;
    const how = t ? ` with exit code ${t.exitCode}${t.reason ? ` (${apiText(t.reason, 60)})` : ''}` : '';
    const said = apiText(pod.status?.message);
    return { reason: 'pod-ended', message: `Pod ${name} ended (${phase})${how} before the server was ready${said ? `: ${said}` : ''}.` };
  }
  return undefined;
}

/** The server container's OOM kill, now or as the last end before a restart (restartPolicy OnFailure), if any. */
function oomKilled(pod: V1Pod): { exitCode: number } | undefined {
  const c = notebookStatus(pod);
  return [c?.state?.terminated, c?.lastState?.terminated].find((t) => t?.reason === 'OOMKilled');
}

/** The server container's memory limit as the pod spec has it, for messages. */
function memoryLimit(pod: V1Pod): string {
  const limit = pod.spec?.containers.find((x) => x.name === NOTEBOOK_CONTAINER)?.resources?.limits?.['memory'];
  return limit === undefined ? 'none set' : apiText(String(limit), 40);
}

/** Why a pending pod waits: the scheduler's message, the container's waiting reason, or a plain sentence. */
export function pendingReason(pod: V1Pod): string {
  const sched = pod.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False');
  if (sched) return `Not scheduled yet${sched.reason ? ` (${apiText(sched.reason, 60)})` : ''}${sched.message ? `: ${apiText(sched.message)}` : ''}`;
  const waiting = notebookStatus(pod)?.state?.waiting;
  if (waiting?.reason) return `The server's container waits (${apiText(waiting.reason, 60)})${waiting.message ? `: ${apiText(waiting.message)}` : ''}`;
  return pod.spec?.nodeName ? `Starting on node ${apiText(pod.spec.nodeName, 120)}` : 'Waiting to be scheduled';
}

/** Reasons a container waits for in every start: not worth a line of their own. */
const ROUTINE_WAITS = new Set(['ContainerCreating', 'PodInitializing']);

/**
 * A sentence when the server's container waits for something unusual that
 * may still pass (CreateContainerConfigError while a secret reaches the
 * node...), else undefined. Shown as progress; the hub's timeout names it.
 */
export function containerTrouble(pod: V1Pod): string | undefined {
  const waiting = notebookStatus(pod)?.state?.waiting;
  if (!waiting?.reason || ROUTINE_WAITS.has(waiting.reason)) return undefined;
  return `The server's container waits (${apiText(waiting.reason, 60)})${waiting.message ? `: ${apiText(waiting.message)}` : ''}`;
}

/** The scheduler's refusal (condition PodScheduled=False, Unschedulable), or undefined. */
export function unschedulable(pod: V1Pod): string | undefined {
  const sched = pod.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False' && x.reason === 'Unschedulable');
  return sched ? apiText(sched.message) || 'no node fits the pod' : undefined;
}

/**
 * The poll answer for the pod in the shared cache: `synced` false (the
 * watch reconnects) answers unknown; a pod the synced cache does not have
 * is stopped.
 */
export function podPoll(pod: V1Pod | undefined, synced: boolean): PollResult {
  if (!synced) return { status: 'unknown', reason: 'the watch of pods is reconnecting' };
  if (!pod) return { status: 'stopped' };
  const t = notebookStatus(pod)?.state?.terminated;
  if (t) return { status: 'stopped', exitCode: t.exitCode, ...(t.reason === 'OOMKilled' ? { reason: `OOM-killed (memory limit ${memoryLimit(pod)})` } : t.reason ? { reason: apiText(t.reason, 60) } : {}) };
  // restartPolicy OnFailure: a server that died restarts in a loop; it is not serving
  if (notebookStatus(pod)?.state?.waiting?.reason === 'CrashLoopBackOff') {
    const oom = oomKilled(pod);
    return { status: 'stopped', ...(oom ? { exitCode: oom.exitCode, reason: `OOM-killed (memory limit ${memoryLimit(pod)})` } : { reason: 'the server keeps crashing (CrashLoopBackOff)' }) };
  }
  switch (pod.status?.phase) {
    case 'Running': {
      // a crash loop (an OOM kill restarted, say) is not a server that answers: stopped, saying why
      const crash = notebookStatus(pod)?.state?.waiting?.reason === 'CrashLoopBackOff' ? podFailure(pod) : undefined;
      return crash ? { status: 'stopped', reason: crash.message } : { status: 'running' };
    }
    case 'Failed':
    case 'Succeeded':
      return { status: 'stopped', reason: `pod ${pod.status.phase}${pod.status.message ? `: ${apiText(pod.status.message)}` : ''}` };
    case 'Pending':
    case undefined:
      return { status: 'pending', reason: pendingReason(pod) };
    default:
      return { status: 'unknown', reason: `the pod's phase is ${apiText(pod.status?.phase, 40)}` };
  }
}
