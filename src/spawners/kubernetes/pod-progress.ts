/**
 * Spawn progress from the events of a server's pod (the EventReflector's
 * feed): scheduled on which node, pulling which image, pulled, started, and
 * the scheduler's complaints. Pure.
 */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { ProgressEvent } from '../spawner.js';
import { apiText } from './pod-status.js';

/** Whether event `e` is about the pod `namespace/name` (and, when known, this very pod: `uid`). */
export function eventIsAbout(e: CoreV1Event, namespace: string, name: string, uid: string | undefined): boolean {
  const o = e.involvedObject;
  if (o.kind !== 'Pod' || o.name !== name || (o.namespace ?? e.metadata.namespace) !== namespace) return false;
  return uid === undefined || o.uid === undefined || o.uid === uid;
}

/** The first quoted word of `message` (the image in kubelet's pull messages). */
function quoted(message: string): string | undefined {
  const m = /"([^"\s]{1,200})"/.exec(message);
  return m?.[1];
}

/**
 * The progress line for a pod event, or undefined for one not worth showing.
 * `image` names the image when the event's message does not.
 */
export function progressOfEvent(e: CoreV1Event, image: string): ProgressEvent | undefined {
  const msg = apiText(e.message);
  switch (e.reason) {
    case 'Scheduled': {
      const node = / to (\S{1,120})$/.exec(msg)?.[1];
      return { progress: 30, message: node ? `Scheduled on node ${node}` : 'Scheduled on a node' };
    }
    case 'FailedScheduling':
      return { progress: 20, message: `Waiting for a node: ${msg || 'no node fits the pod yet'}` };
    case 'Pulling':
      return { progress: 40, message: `Pulling image ${apiText(quoted(msg) ?? image, 200)}` };
    case 'Pulled':
      return { progress: 60, message: msg.includes('already present') ? `Image ${apiText(quoted(msg) ?? image, 200)} is already on the node` : `Pulled image ${apiText(quoted(msg) ?? image, 200)}` };
    case 'Created':
      return { progress: 70, message: "Created the server's container" };
    case 'Started':
      return { progress: 80, message: "Started the server's container" };
    case 'Failed':
    case 'BackOff':
      return msg ? { progress: 50, message: `Kubernetes: ${msg}` } : undefined;
    default:
      return undefined;
  }
}
