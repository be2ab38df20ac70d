import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { resolvesWithin, sleep } from '../../src/lib/time.js';

/** The waits the hub's state machine is built on leave nothing behind: no listeners, no timers. */
describe('sleep and resolvesWithin', () => {
  it('sleep leaves no abort listener on a long-lived signal, however many waits share it', async () => {
    const ctl = new AbortController();
    for (let i = 0; i < 50; i++) await sleep(0, ctl.signal);
    assert.equal(getEventListeners(ctl.signal, 'abort').length, 0);
  });

  it('sleep rejects when its signal aborts (or already had), and removes its listener', async () => {
    const ctl = new AbortController();
    const waiting = sleep(60_000, ctl.signal);
    ctl.abort(new Error('stop now'));
    await assert.rejects(waiting, /stop now/);
    assert.equal(getEventListeners(ctl.signal, 'abort').length, 0);
    await assert.rejects(sleep(10, ctl.signal), /stop now/);
  });

  it('resolvesWithin: true when the work resolves in time, false when not, the work\'s error when it rejects', async () => {
    assert.equal(await resolvesWithin(Promise.resolve('x'), 1000), true);
    assert.equal(await resolvesWithin(new Promise(() => undefined), 10), false);
    await assert.rejects(resolvesWithin(Promise.reject(new Error('failed')), 1000), /failed/);
  });

  it('resolvesWithin clears its timer once the work resolves', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await resolvesWithin(Promise.resolve(), 60_000);
    assert.equal(timers(), before);
  });
});
