import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { trivialSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';

/**
 * Issue 9 §3: every spawn printed MaxListenersExceededWarning. The wait for a
 * server to answer HTTP added one abort listener to the spawn's signal per try
 * and never removed it, so any server slower than ~10 tries to answer warned.
 */
describe('spawning emits no process warnings', () => {
  let t: TestHub;
  let spawner: TrivialSpawner;
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);

  before(async () => {
    // a server that answers HTTP only after 1.5 s, as a real Jupyter server takes a while
    spawner = trivialSpawner({ answerAfterMs: 1500 });
    t = await startTestHub({ allow_named_servers: true, slow_spawn_timeout: 30 }, { spawner });
    process.on('warning', onWarning);
  });
  after(async () => {
    process.off('warning', onWarning);
    await t.stop();
    await spawner.killAll();
  });

  it('starts and stops several servers that are slow to answer without a MaxListenersExceededWarning', async () => {
    const tok = await t.tokenFor('warned');
    const names = ['a', 'b', 'c'];
    const started = await Promise.all(names.map((n) => t.api('POST', `/users/warned/servers/${n}`, { token: tok })));
    for (const r of started) assert.equal(r.status, 201, r.text);
    // and one after another on the same server row
    assert.equal((await t.api('DELETE', '/users/warned/servers/a', { token: tok })).status, 204);
    assert.equal((await t.api('POST', '/users/warned/servers/a', { token: tok })).status, 201);
    for (const n of names) assert.equal((await t.api('DELETE', `/users/warned/servers/${n}`, { token: tok })).status, 204);
    // warnings are emitted on the next tick
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      warnings.map((w) => `${w.name}: ${w.message}`),
      [],
    );
  });
});
