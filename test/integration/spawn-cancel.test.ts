import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { neverSpawner, slowSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';
import { assertServerReset, eventually, progressEvents, serverRecord } from '../helpers/server-state.js';

/**
 * Stopping a server whose spawn is pending cancels the spawn (JupyterHub 5
 * allows a stop while a start is pending): the spawner's signal aborts, a
 * process it already started is stopped, a client following the progress
 * stream sees the spawn end, and the server can be started again.
 */
describe('cancelling a pending spawn', () => {
  let t: TestHub | undefined;
  let spawner: TrivialSpawner | undefined;
  afterEach(async () => {
    await t?.stop();
    await spawner?.killAll();
    t = undefined;
    spawner = undefined;
  });

  it('DELETE while the spawner has not started aborts it and resets the server', async () => {
    spawner = neverSpawner();
    t = await startTestHub({ slow_spawn_timeout: 0.2 }, { spawner });
    const tok = await t.tokenFor('wanda');
    assert.equal((await t.api('POST', '/users/wanda/server', { token: tok })).status, 202);
    assert.equal((await serverRecord(t, 'wanda')).row!.pending, 'spawn');
    // a client following the progress stream
    const following = progressEvents(t, tok, 'wanda');
    const r = await t.api('DELETE', '/users/wanda/server', { token: tok });
    assert.equal(r.status, 204, r.text);
    assert.equal(spawner.calls[0]!.aborted, true, "the spawner's signal was not aborted");
    assert.equal(spawner.calls[0]!.outcome, 'rejected');
    const events = await following;
    assert.equal(events.at(-1)!.failed, true);
    assert.match(events.at(-1)!.message, /cancelled/);
    await assertServerReset(t, 'wanda');
    const model = (await t.api('GET', '/users/wanda', { token: tok })).body as { pending: unknown; server: unknown };
    assert.equal(model.pending, null);
    assert.equal(model.server, null);
  });

  it('DELETE after the spawner started its process stops the process', async () => {
    spawner = slowSpawner({ delayMs: 60_000, launchFirst: true });
    t = await startTestHub({ slow_spawn_timeout: 0.2 }, { spawner });
    const tok = await t.tokenFor('xena');
    assert.equal((await t.api('POST', '/users/xena/server', { token: tok })).status, 202);
    await eventually(() => spawner!.started.length === 1, 5000, 'the double started its process');
    assert.equal((await spawner.poll(spawner.started[0]!)).status, 'running');
    assert.equal((await t.api('DELETE', '/users/xena/server', { token: tok })).status, 204);
    assert.equal((await spawner.poll(spawner.started[0]!)).status, 'stopped', 'the cancelled server process is still running');
    await assertServerReset(t, 'xena');
  });

  it('a cancelled server can be started again', async () => {
    spawner = slowSpawner({ delayMs: 400 });
    t = await startTestHub({ slow_spawn_timeout: 0.1 }, { spawner });
    const tok = await t.tokenFor('yara');
    assert.equal((await t.api('POST', '/users/yara/server', { token: tok })).status, 202);
    assert.equal((await t.api('DELETE', '/users/yara/server', { token: tok })).status, 204);
    await assertServerReset(t, 'yara');
    assert.equal((await t.api('POST', '/users/yara/server', { token: tok })).status, 202);
    await eventually(async () => (await serverRecord(t!, 'yara')).row!.ready === 1, 10_000, 'the second spawn finished');
    assert.equal((await fetch(`${t.publicUrl}/user/yara/api`)).status, 200);
    assert.equal(spawner.calls.length, 2);
  });

  it('a stop racing the start request, before the spawner is called, ends the spawn cleanly (no unhandled rejection)', async () => {
    spawner = neverSpawner();
    t = await startTestHub({ slow_spawn_timeout: 0 }, { spawner });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      for (let i = 0; i < 8; i++) {
        const name = `racer${i}`;
        const tok = await t.tokenFor(name);
        await Promise.all([t.api('POST', `/users/${name}/server`, { token: tok }), t.api('DELETE', `/users/${name}/server`, { token: tok })]);
        await eventually(async () => (await serverRecord(t!, name)).row?.pending === null, 5000, `${name}'s spawn and stop ended`);
        await assertServerReset(t, name);
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(unhandled.map(String), []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a server a spawner starts after the spawn was cancelled is stopped, not left running unknown to the hub', async () => {
    spawner = slowSpawner({ delayMs: 600, ignoreAbort: true });
    t = await startTestHub({ slow_spawn_timeout: 0.1 }, { spawner });
    const tok = await t.tokenFor('zoe');
    assert.equal((await t.api('POST', '/users/zoe/server', { token: tok })).status, 202);
    assert.equal((await t.api('DELETE', '/users/zoe/server', { token: tok })).status, 204);
    await eventually(() => spawner!.calls[0]!.outcome === 'resolved', 5000, 'the deaf double finished its start');
    await eventually(async () => (await spawner!.poll(spawner!.started[0]!)).status === 'stopped', 5000, 'the late server stopped');
    await assertServerReset(t, 'zoe');
  });
});
