import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub } from '../helpers/hub.js';
import { namedBackends, trivialSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';

/** A double recording its `init`/`close` calls (in `events`), whose init may fail. */
function lifecycleDouble(events: string[], name: string, failInit?: string): TrivialSpawner {
  return Object.assign(trivialSpawner(), {
    init: async () => {
      events.push(`init ${name}`);
      if (failInit) throw new Error(failInit);
    },
    close: async () => {
      events.push(`close ${name}`);
    },
  });
}

/**
 * Every back-end's `init` runs once when the hub is built, before any start;
 * `close` when the hub closes. A back-end whose `init` throws stops the hub
 * from starting, and the others are closed again.
 */
describe('spawner init and close', () => {
  it('init before the first start, close when the hub stops', async () => {
    const events: string[] = [];
    const a = lifecycleDouble(events, 'a');
    const b = lifecycleDouble(events, 'b');
    const t = await startTestHub({}, { spawners: namedBackends({ a, b }) });
    try {
      assert.deepEqual(events, ['init a', 'init b']);
      assert.equal((await t.api('POST', '/users/ivy/server', { token: await t.tokenFor('ivy') })).status, 201);
    } finally {
      await t.stop();
      await a.killAll();
    }
    assert.deepEqual(events.slice(2).sort(), ['close a', 'close b']);
  });

  it('a back-end whose init fails stops the hub from starting, naming the problem; every back-end is closed', async () => {
    const events: string[] = [];
    const a = lifecycleDouble(events, 'a');
    const b = lifecycleDouble(events, 'b', 'ssh host login1 unreachable');
    await assert.rejects(startTestHub({}, { spawners: namedBackends({ a, b }) }), /ssh host login1 unreachable/);
    assert.deepEqual(events.slice(0, 2), ['init a', 'init b']);
    assert.deepEqual(events.slice(2).sort(), ['close a', 'close b']);
  });
});
