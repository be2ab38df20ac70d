/**
 * The pure parts of the Kubernetes spawner: a pod's poll answer, readiness
 * URL, failure sentence, the progress lines of pod events, and the saved
 * state's checks (tables).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { readKubeState } from '../../src/spawners/kubernetes/kube-state.js';
import { eventIsAbout, progressOfEvent } from '../../src/spawners/kubernetes/pod-progress.js';
import { apiText, containerTrouble, podFailure, podPoll, readyUrl } from '../../src/spawners/kubernetes/pod-status.js';

function pod(status: V1Pod['status'], port = 8888): V1Pod {
  return { metadata: { name: 'jupyter-a', namespace: 'hub' }, spec: { containers: [{ name: 'notebook', image: 'img:1', ports: [{ name: 'notebook-port', containerPort: port }] }] }, status };
}
const nb = (state: object, lastState?: object) => ({ containerStatuses: [{ name: 'notebook', image: 'img:1', imageID: '', ready: false, restartCount: 0, state, ...(lastState ? { lastState } : {}) }] });

describe('podPoll', () => {
  const rows: [string, V1Pod | undefined, boolean, unknown][] = [
    ['not synced', pod({ phase: 'Running' }), false, { status: 'unknown', reason: 'the watch of pods is reconnecting' }],
    ['missing', undefined, true, { status: 'stopped' }],
    ['pending unscheduled', pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'no gpu' }] }), true, { status: 'pending', reason: 'Not scheduled yet (Unschedulable): no gpu' }],
    ['pending pulling', pod({ phase: 'Pending', ...nb({ waiting: { reason: 'ContainerCreating' } }) }), true, { status: 'pending', reason: "The server's container waits (ContainerCreating)" }],
    ['running', pod({ phase: 'Running', ...nb({ running: {} }) }), true, { status: 'running' }],
    ['terminated', pod({ phase: 'Running', ...nb({ terminated: { exitCode: 137, reason: 'OOMKilled' } }) }), true, { status: 'stopped', exitCode: 137, reason: 'OOM-killed (memory limit none set)' }],
    ['failed', pod({ phase: 'Failed', message: 'evicted' }), true, { status: 'stopped', reason: 'pod Failed: evicted' }],
    ['odd phase', pod({ phase: 'Weird\u0007' }), true, { status: 'unknown', reason: "the pod's phase is Weird" }],
  ];
  for (const [name, p, synced, want] of rows) it(name, () => assert.deepEqual(podPoll(p, synced), want));
});

describe('apiText', () => {
  it('drops bidi controls, folds blanks and clips text from the API server like any outside text', () => {
    assert.equal(apiText('Back-off \u202epulling\u202c image\u2066 "x"\u2069'), 'Back-off pulling image "x"');
    assert.equal(apiText('a\t\t  b\n\nc'), 'a b c');
    assert.equal(apiText('x'.repeat(400), 10), `${'x'.repeat(10)}…`);
    assert.equal(apiText(42), '');
  });
});

describe('readyUrl', () => {
  it('needs Running, a running notebook container and an IP', () => {
    assert.equal(readyUrl(pod({ phase: 'Running', podIP: '10.0.0.1', ...nb({ running: {} }) }), 1), 'http://10.0.0.1:8888');
    assert.equal(readyUrl(pod({ phase: 'Running', podIP: 'fd00::5', ...nb({ running: {} }) }, 9000), 1), 'http://[fd00::5]:9000');
    assert.equal(readyUrl(pod({ phase: 'Running', podIP: '10.0.0.1', ...nb({ waiting: {} }) }), 1), undefined);
    assert.equal(readyUrl(pod({ phase: 'Pending', podIP: '10.0.0.1', ...nb({ running: {} }) }), 1), undefined);
    assert.equal(readyUrl(pod({ phase: 'Running', podIP: 'evil.example/@x', ...nb({ running: {} }) }), 1), undefined, 'no host that is not an IP');
  });
});

describe('podFailure', () => {
  it('names the image on pull failures, and nothing for a healthy pending pod', () => {
    assert.match(podFailure(pod({ phase: 'Pending', ...nb({ waiting: { reason: 'InvalidImageName', message: 'bad' } }) }))!.message, /image img:1 of pod jupyter-a cannot be pulled \(InvalidImageName: bad\)/);
    assert.equal(podFailure(pod({ phase: 'Pending', ...nb({ waiting: { reason: 'ContainerCreating' } }) })), undefined);
    assert.equal(podFailure(pod({ phase: 'Running', ...nb({ terminated: { exitCode: 137, reason: 'OOMKilled' } }) }))?.reason, 'oom-killed');
    assert.equal(podFailure(pod({ phase: 'Succeeded' }))?.reason, 'pod-ended');
    const config = pod({ phase: 'Pending', ...nb({ waiting: { reason: 'CreateContainerConfigError', message: 'secret "x" not found' } }) });
    assert.equal(podFailure(config), undefined, 'may pass: not fatal');
    assert.equal(containerTrouble(config), `The server's container waits (CreateContainerConfigError): secret "x" not found`);
    assert.equal(containerTrouble(pod({ phase: 'Pending', ...nb({ waiting: { reason: 'ContainerCreating' } }) })), undefined);
  });
});

describe('pod events', () => {
  const ev = (reason: string, message: string, name = 'jupyter-a', uid?: string): CoreV1Event => ({ metadata: { namespace: 'hub' }, involvedObject: { kind: 'Pod', name, namespace: 'hub', ...(uid ? { uid } : {}) }, reason, message });
  it('progress lines', () => {
    assert.deepEqual(progressOfEvent(ev('Scheduled', 'Successfully assigned hub/jupyter-a to node-1'), 'img'), { progress: 30, message: 'Scheduled on node node-1' });
    assert.equal(progressOfEvent(ev('Pulling', 'Pulling image "reg/x:2"'), 'img')?.message, 'Pulling image reg/x:2');
    assert.equal(progressOfEvent(ev('Pulling', 'something'), 'img')?.message, 'Pulling image img');
    assert.equal(progressOfEvent(ev('Pulled', 'Container image "reg/x:2" already present on machine'), 'img')?.message, 'Image reg/x:2 is already on the node');
    assert.equal(progressOfEvent(ev('Killing', 'x'), 'img'), undefined);
  });
  it('only events of this pod', () => {
    assert.equal(eventIsAbout(ev('Started', ''), 'hub', 'jupyter-a', undefined), true);
    assert.equal(eventIsAbout(ev('Started', '', 'jupyter-b'), 'hub', 'jupyter-a', undefined), false);
    assert.equal(eventIsAbout(ev('Started', '', 'jupyter-a', 'old'), 'hub', 'jupyter-a', 'new'), false);
  });
});

describe('readKubeState', () => {
  it('reads, and refuses foreign or tampered states', () => {
    assert.equal(readKubeState({ v: 1 }), undefined);
    assert.equal(readKubeState({} as never), undefined);
    assert.deepEqual(readKubeState({ v: 1, pod: 'p', namespace: 'n', secret: 's', pvc: 'c', profile: 'x' }), { v: 1, pod: 'p', namespace: 'n', secret: 's', pvc: 'c', profile: 'x' });
    assert.throws(() => readKubeState({ v: 2, pod: 'p' }), /version 2/);
    assert.throws(() => readKubeState({ v: 1, pod: '../etc', namespace: 'n', secret: 's' }), /no valid pod name/);
    assert.throws(() => readKubeState({ v: 1, pod: 'p', namespace: 'n' }), /no valid secret name/);
  });
  it('a namespace must be a DNS-1123 label (no dots, at most 63 characters); a malformed uid is dropped', () => {
    assert.throws(() => readKubeState({ v: 1, pod: 'p', namespace: 'kube.system', secret: 's' }), /no valid namespace name/);
    assert.throws(() => readKubeState({ v: 1, pod: 'p', namespace: 'n'.repeat(64), secret: 's' }), /no valid namespace name/);
    assert.equal(readKubeState({ v: 1, pod: 'p', namespace: 'n', secret: 's', uid: 'a/b' })?.uid, undefined);
    assert.equal(readKubeState({ v: 1, pod: 'p', namespace: 'n', secret: 's', uid: '0f1e-2d' })?.uid, '0f1e-2d');
  });
});
