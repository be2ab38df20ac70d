import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { neverSpawner, trivialSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';
import { serverRecord } from '../helpers/server-state.js';
import { Browser } from '../helpers/browser.js';

/**
 * `concurrent_spawn_limit` (spawns in progress at once) with no queue
 * (`spawn_queue.max_length: 0`, JupyterHub's behaviour) and
 * `active_server_limit` (servers running or pending): a start over the limit
 * is refused with 429, a Retry-After header and JupyterHub's message, on the
 * API and the spawn page, without touching the refused server's row. The
 * queue itself: spawn-queue.test.ts.
 */
describe('spawn limits', () => {
  let t: TestHub | undefined;
  let spawner: TrivialSpawner | undefined;
  afterEach(async () => {
    await t?.stop();
    await spawner?.killAll();
    t = undefined;
    spawner = undefined;
  });

  it('concurrent_spawn_limit without a queue: a spawn over the limit gets 429 with Retry-After; a slot that frees admits the next', async () => {
    spawner = neverSpawner();
    t = await startTestHub({ concurrent_spawn_limit: 2, slow_spawn_timeout: 0.1, spawn_queue: { max_length: 0 } }, { spawner });
    const toks = await Promise.all(['c1', 'c2', 'c3'].map((n) => t!.tokenFor(n)));
    assert.equal((await t.api('POST', '/users/c1/server', { token: toks[0] })).status, 202);
    assert.equal((await t.api('POST', '/users/c2/server', { token: toks[1] })).status, 202);
    const r = await t.api('POST', '/users/c3/server', { token: toks[2] });
    assert.equal(r.status, 429);
    assert.match((r.body as { message: string }).message, /Too many users trying to log in right now\. Try again in \d+0 seconds\./);
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(retry >= 30 && retry <= 60, `Retry-After ${r.headers.get('retry-after')}`);
    const refused = await serverRecord(t, 'c3');
    assert.equal(refused.row, undefined, 'a refused first start leaves no server row');
    assert.equal(spawner.calls.length, 2, 'the refused spawn reached the spawner');
    // cancelling one pending spawn frees a slot
    assert.equal((await t.api('DELETE', '/users/c1/server', { token: toks[0] })).status, 204);
    assert.equal((await t.api('POST', '/users/c3/server', { token: toks[2] })).status, 202);
  });

  it('active_server_limit: a start over the limit gets 429 with Retry-After; a stop admits the next', async () => {
    spawner = trivialSpawner();
    t = await startTestHub({ active_server_limit: 1, allow_named_servers: true }, { spawner });
    const a = await t.tokenFor('a1');
    const b = await t.tokenFor('a2');
    assert.equal((await t.api('POST', '/users/a1/server', { token: a })).status, 201);
    const r = await t.api('POST', '/users/a2/server', { token: b });
    assert.equal(r.status, 429);
    assert.match((r.body as { message: string }).message, /Active user limit exceeded\. Try again in a few minutes\./);
    assert.ok(Number(r.headers.get('retry-after')) > 0, `Retry-After ${r.headers.get('retry-after')}`);
    // named servers count too
    assert.equal((await t.api('POST', '/users/a1/servers/extra', { token: a })).status, 429);
    assert.equal((await t.api('DELETE', '/users/a1/server', { token: a })).status, 204);
    assert.equal((await t.api('POST', '/users/a2/server', { token: b })).status, 201);
  });

  it('the spawn page answers a refused start with a 429 page', async () => {
    spawner = neverSpawner();
    t = await startTestHub({ concurrent_spawn_limit: 1, slow_spawn_timeout: 0.1, spawn_queue: { max_length: 0 } }, { spawner });
    const tok = await t.tokenFor('p1');
    assert.equal((await t.api('POST', '/users/p1/server', { token: tok })).status, 202);
    const b = new Browser(t.hubUrl);
    assert.equal((await b.login('p2', 'test-password')).status, 302);
    const res = await b.get('/hub/spawn');
    assert.equal(res.status, 429);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    assert.match(await res.text(), /Too many users trying to log in right now/);
  });
});
