/**
 * PodReflector and EventReflector over an in-memory KubeApi double: the cache
 * follows ADDED/MODIFIED/DELETED; 410 re-lists; an ended watch resumes from the
 * last version; failures back off within bounds and the request count stays
 * small whether the API fails or is healthy (kubespawner #209); the request
 * count does not grow with the number of pods; stop leaves nothing running.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import pino from 'pino';
import { EventReflector, PodReflector } from '../../src/spawners/kubernetes/pod-reflector.js';
import { KubeApiError } from '../../src/spawners/kubernetes/kube-api.js';
import { KubeApiDouble } from '../helpers/kube-api-double.js';

const log = pino({ level: 'silent' });
const SELECTOR = 'component=singleuser-server';

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await delay(2);
  }
}

function reflector(api: KubeApiDouble, opts: Partial<{ resyncMs: number; minBackoffMs: number; maxBackoffMs: number; namespace: string | undefined }> = {}) {
  return new PodReflector(api, { namespace: 'namespace' in opts ? opts.namespace : 'hub', labelSelector: SELECTOR, resyncMs: opts.resyncMs ?? 60_000, log, minBackoffMs: opts.minBackoffMs ?? 5, maxBackoffMs: opts.maxBackoffMs ?? 40 });
}

describe('PodReflector', () => {
  it('lists, watches from the list version, and follows ADDED/MODIFIED/DELETED in its cache', async () => {
    const api = new KubeApiDouble();
    api.putPod('hub', 'jupyter-a', 'Pending');
    const r = reflector(api);
    const changes: string[] = [];
    r.onChange((pod, type) => changes.push(`${type} ${pod.metadata?.name} ${pod.status?.phase}`));
    await r.start();
    assert.equal(r.get('hub', 'jupyter-a')?.status?.phase, 'Pending');
    await until(() => r.synced);
    assert.deepEqual(api.calls.map((c) => c.op), ['listPods', 'watchPods']);
    assert.equal(api.calls[0]?.selector, SELECTOR);
    assert.equal(api.calls[1]?.resourceVersion, String(api.version));

    api.emitPod('hub', 'jupyter-a', 'Running');
    api.emitPod('hub', 'jupyter-b', 'Pending');
    assert.equal(r.get('hub', 'jupyter-a')?.status?.phase, 'Running');
    assert.equal(r.get('hub', 'jupyter-b')?.status?.phase, 'Pending');
    api.emitPodDeleted('hub', 'jupyter-a');
    assert.equal(r.get('hub', 'jupyter-a'), undefined);
    assert.equal(r.get('other', 'jupyter-b'), undefined, 'keyed by namespace and name');
    assert.deepEqual(changes, ['ADDED jupyter-a Pending', 'MODIFIED jupyter-a Running', 'ADDED jupyter-b Pending', 'DELETED jupyter-a Running']);
    assert.equal(r.requests, 2);
    await r.stop();
  });

  it('skips objects without a usable name or namespace, and bookmarks only move the version', async () => {
    const api = new KubeApiDouble();
    const r = reflector(api);
    await r.start();
    await until(() => r.synced);
    const [w] = api.openWatches();
    w!.send('ADDED', { metadata: { namespace: 'hub' } });
    w!.send('ADDED', null);
    w!.send('MODIFIED', { metadata: { namespace: 5, name: 'x' } });
    w!.send('DELETED', 'not an object');
    assert.equal(r.synced, true, 'hostile events are skipped, not fatal');
    w!.send('BOOKMARK', { metadata: { resourceVersion: '555' } });
    await delay(10);
    w!.end();
    await until(() => api.count('watchPods') === 2);
    assert.equal(api.calls.at(-1)?.resourceVersion, '555');
    assert.equal(api.count('listPods'), 1);
    await r.stop();
  });

  it('re-lists on a 410 ERROR event and on a 410 failure, rebuilding the cache (pods missed meanwhile appear, removed ones go)', async () => {
    const api = new KubeApiDouble();
    api.putPod('hub', 'old');
    const r = reflector(api);
    const deleted: string[] = [];
    r.onChange((pod, type) => type === 'DELETED' && deleted.push(pod.metadata?.name ?? ''));
    await r.start();
    await until(() => r.synced);
    api.pods.delete('hub/old');
    api.putPod('hub', 'missed');
    api.openWatches()[0]!.gone();
    await until(() => api.count('listPods') === 2 && r.synced);
    assert.equal(r.get('hub', 'missed')?.metadata?.name, 'missed');
    assert.equal(r.get('hub', 'old'), undefined);
    assert.deepEqual(deleted, ['old']);

    api.openWatches()[0]!.fail(new KubeApiError('gone', 410, 'Expired'));
    await until(() => api.count('listPods') === 3 && r.synced);
    assert.equal(api.openWatches().length, 1, 'one watch at a time');
    await r.stop();
  });

  it('resumes a watch the server ended from the last resourceVersion, without re-listing', async () => {
    const api = new KubeApiDouble();
    const r = reflector(api);
    await r.start();
    await until(() => r.synced);
    const pod = api.emitPod('hub', 'a', 'Running');
    await delay(10); // longer than minBackoffMs: a normal end, not a failure
    api.openWatches()[0]!.end();
    await until(() => api.count('watchPods') === 2 && r.synced);
    assert.equal(api.calls.at(-1)?.resourceVersion, pod.metadata?.resourceVersion);
    assert.equal(api.count('listPods'), 1);
    assert.equal(r.get('hub', 'a')?.status?.phase, 'Running');
    await r.stop();
  });

  it('backs off within bounds while the API fails, reports not synced, and recovers (kubespawner #209)', async () => {
    const api = new KubeApiDouble();
    api.failNext(1_000_000);
    const r = reflector(api, { minBackoffMs: 5, maxBackoffMs: 40 });
    await r.start(); // resolves after the failed first list
    assert.equal(r.synced, false);
    await delay(600);
    assert.equal(r.synced, false);
    // 5,10,20,40,40… ms waits, each at least half: ≤ 4 + 600/20 attempts; without backoff it would be thousands.
    assert.ok(r.requests >= 6, `kept trying: ${r.requests}`);
    assert.ok(r.requests <= 36, `bounded: ${r.requests} requests in 600 ms`);
    api.failNext(0);
    await until(() => r.synced, 1000);
    const healthy = r.requests;
    await delay(300);
    assert.equal(r.requests, healthy, 'no request while healthy and the watch is open');
    await r.stop();
  });

  it('the backoff resets after a success', async () => {
    const api = new KubeApiDouble();
    const r = reflector(api, { minBackoffMs: 5, maxBackoffMs: 400 });
    await r.start();
    await until(() => r.synced);
    api.failNext(6); // 5+10+20+40+80+160 ms ≈ at least 158 ms of waiting
    api.openWatches()[0]!.fail(new KubeApiError('reset', 0));
    await until(() => api.count('watchPods') === 8 && r.synced, 3000);
    await delay(20); // a watch that lived longer than minBackoffMs counts as a success
    const t0 = Date.now();
    api.failNext(1);
    api.openWatches()[0]!.fail(new KubeApiError('reset', 0));
    await until(() => api.count('watchPods') === 10 && r.synced, 3000);
    assert.ok(Date.now() - t0 < 100, `back to the short wait: ${Date.now() - t0} ms`);
    await r.stop();
  });

  it('a server that closes every watch at once is not asked in a tight loop', async () => {
    const api = new KubeApiDouble();
    api.endWatchesAtOnce = 1_000_000;
    const r = reflector(api, { minBackoffMs: 5, maxBackoffMs: 40 });
    await r.start();
    await delay(500);
    assert.ok(r.requests <= 32, `bounded: ${r.requests}`);
    api.endWatchesAtOnce = 0;
    await r.stop();
  });

  it('1,000 pods cost one list and one watch; reading them costs nothing', async () => {
    const api = new KubeApiDouble();
    for (let i = 0; i < 1000; i++) api.putPod(`user-${i % 10}`, `jupyter-${i}`);
    const r = reflector(api, { namespace: undefined });
    await r.start();
    await until(() => r.synced);
    for (let round = 0; round < 5; round++) for (let i = 0; i < 1000; i++) assert.ok(r.get(`user-${i % 10}`, `jupyter-${i}`));
    assert.equal(r.requests, 2);
    assert.deepEqual(api.calls.map((c) => [c.op, c.namespace]), [['listPods', undefined], ['watchPods', undefined]]);
    await r.stop();
  });

  it('re-lists every resyncMs even when nothing went wrong', async () => {
    const api = new KubeApiDouble();
    const r = reflector(api, { resyncMs: 60 });
    await r.start();
    await delay(330);
    const lists = api.count('listPods');
    assert.ok(lists >= 4 && lists <= 7, `about one list per 60 ms: ${lists}`);
    assert.ok(api.openWatches().length <= 1);
    await r.stop();
  });

  it('stop ends the watch, the backoff wait and every timer', async () => {
    const api = new KubeApiDouble();
    const timers = () => process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    const before = timers();
    const r = reflector(api, { resyncMs: 10_000 });
    await r.start();
    await until(() => r.synced);
    await r.stop();
    assert.equal(api.openWatches().length, 0);
    assert.equal(r.synced, false);

    const failing = new KubeApiDouble();
    failing.failNext(1_000_000);
    const r2 = reflector(failing, { minBackoffMs: 5_000, maxBackoffMs: 30_000 });
    await r2.start();
    const t0 = Date.now();
    await r2.stop(); // in the middle of a 2.5–5 s wait
    assert.ok(Date.now() - t0 < 100);
    const requests = r.requests + r2.requests;
    await delay(50);
    assert.equal(r.requests + r2.requests, requests);
    assert.equal(timers(), before, 'no timer left');
  });
});

describe('EventReflector', () => {
  it('watches pod events with involvedObject.kind=Pod and passes new and changed ones on', async () => {
    const api = new KubeApiDouble();
    api.events.set('hub/e1', { metadata: { namespace: 'hub', name: 'e1', resourceVersion: '1' }, involvedObject: { kind: 'Pod', name: 'a' }, reason: 'Scheduled' });
    const r = new EventReflector(api, { namespace: 'hub', resyncMs: 60_000, log, minBackoffMs: 5 });
    const seen: string[] = [];
    r.onEvent((e) => seen.push(e.reason ?? ''));
    await r.start();
    await until(() => r.synced);
    api.openWatches()[0]!.send('ADDED', { metadata: { namespace: 'hub', name: 'e2', resourceVersion: '2' }, involvedObject: { kind: 'Pod', name: 'a' }, reason: 'Pulling' });
    api.openWatches()[0]!.send('DELETED', { metadata: { namespace: 'hub', name: 'e1', resourceVersion: '3' } });
    assert.deepEqual(seen, ['Scheduled', 'Pulling']);
    assert.deepEqual(api.calls.map((c) => [c.op, c.selector]), [['listEvents', 'involvedObject.kind=Pod'], ['watchEvents', 'involvedObject.kind=Pod']]);
    assert.equal(r.requests, 2);
    await r.stop();
  });
});

