import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { muteSpawner, neverSpawner, slowSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';
import { assertServerReset, progressEvents } from '../helpers/server-state.js';

/**
 * `start_timeout` bounds the spawner's `start`; `http_timeout` bounds the wait
 * for a started server to answer HTTP. Either way the spawn fails with a
 * message naming the limit, the spawner is told (its signal aborts) or its
 * process stopped, and the server is reset.
 */
describe('spawn time limits', () => {
  let t: TestHub | undefined;
  let spawner: TrivialSpawner | undefined;
  afterEach(async () => {
    await t?.stop();
    await spawner?.killAll();
    t = undefined;
    spawner = undefined;
  });

  it('start_timeout: a spawner that never starts is aborted and the start fails naming the limit', async () => {
    spawner = neverSpawner();
    t = await startTestHub({ start_timeout: 0.5 }, { spawner });
    const tok = await t.tokenFor('tina');
    const began = Date.now();
    const r = await t.api('POST', '/users/tina/server', { token: tok });
    assert.equal(r.status, 500);
    assert.match((r.body as { message: string }).message, /did not start within 0\.5 seconds/);
    assert.ok(Date.now() - began < 4000, 'the start request waited past start_timeout');
    assert.equal(spawner.calls[0]!.aborted, true, "the spawner's signal was not aborted");
    const events = await progressEvents(t, tok, 'tina');
    assert.equal(events.at(-1)!.failed, true);
    assert.match(events.at(-1)!.message, /did not start within/);
    await assertServerReset(t, 'tina');
  });

  it('start_timeout: a process started before the limit hit is stopped', async () => {
    spawner = slowSpawner({ delayMs: 30_000, launchFirst: true });
    t = await startTestHub({ start_timeout: 2 }, { spawner });
    const tok = await t.tokenFor('tom');
    const r = await t.api('POST', '/users/tom/server', { token: tok });
    assert.equal(r.status, 500);
    assert.equal(spawner.started.length, 1);
    assert.equal((await spawner.poll(spawner.started[0]!)).status, 'stopped', 'the timed-out server process is still running');
    await assertServerReset(t, 'tom');
  });

  it('http_timeout: a server that starts but never answers HTTP is stopped and the start fails naming the limit', async () => {
    spawner = muteSpawner();
    t = await startTestHub({ http_timeout: 1 }, { spawner });
    const tok = await t.tokenFor('ursula');
    const r = await t.api('POST', '/users/ursula/server', { token: tok });
    assert.equal(r.status, 500);
    assert.match((r.body as { message: string }).message, /did not answer HTTP within 1 seconds/);
    assert.equal(spawner.calls[0]!.outcome, 'resolved');
    assert.equal((await spawner.poll(spawner.started[0]!)).status, 'stopped', 'the silent server process is still running');
    const events = await progressEvents(t, tok, 'ursula');
    assert.equal(events.at(-1)!.failed, true);
    await assertServerReset(t, 'ursula');
  });

  it('a server that answers late but within http_timeout starts', async () => {
    spawner = slowSpawner({ delayMs: 300, answerAfterMs: 500 });
    t = await startTestHub({ start_timeout: 5, http_timeout: 10 }, { spawner });
    const tok = await t.tokenFor('vera');
    const r = await t.api('POST', '/users/vera/server', { token: tok });
    assert.equal(r.status, 201, r.text);
    assert.equal((await fetch(`${t.publicUrl}/user/vera/api`)).status, 200);
  });
});
