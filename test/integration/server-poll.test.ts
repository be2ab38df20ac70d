import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { dyingSpawner, type DyingSpawner } from '../helpers/spawner-doubles.js';
import { assertServerReset, eventually, serverRecord } from '../helpers/server-state.js';
import { SpawnerBackends } from '../../src/spawners/backends.js';

/**
 * The poll loop (every `poll_interval`) notices a server whose process died,
 * clears it (row, tokens, OAuth client) and removes its route, so the proxy
 * sends its users to the hub instead of a dead address.
 */
describe('the poll loop', () => {
  let t: TestHub;
  let spawner: DyingSpawner;
  let tok: string;

  before(async () => {
    spawner = dyingSpawner();
    t = await startTestHub({ poll_interval: 0.2, allow_named_servers: true }, { spawner });
    tok = await t.tokenFor('pat');
    t.hub.servers.startPolling();
  });
  after(async () => {
    await t.stop();
    await spawner.killAll();
  });

  it('clears a server whose process was killed, and its route', async () => {
    assert.equal((await t.api('POST', '/users/pat/server', { token: tok })).status, 201);
    const before = await serverRecord(t, 'pat');
    assert.equal(before.routed, true);
    assert.equal(before.serverTokens, 1);
    assert.equal(before.oauthClients, 1);
    await spawner.kill(spawner.started.at(-1)!);
    await eventually(async () => (await serverRecord(t, 'pat')).row!.ready === 0, 5000, 'the poll loop clearing the dead server');
    await assertServerReset(t, 'pat');
    const model = (await t.api('GET', '/users/pat', { token: tok })).body as { server: unknown; servers: object };
    assert.equal(model.server, null);
    assert.deepEqual(model.servers, {});
    // the proxy now sends the server's URL to the hub
    const res = await fetch(`${t.publicUrl}/user/pat/api`, { redirect: 'manual' });
    assert.notEqual(res.status, 200);
  });

  it('clears a server that dies by itself after a while, leaving other servers alone', async () => {
    const dies = dyingSpawner({ dieAfterMs: 2000 });
    // the hub holds one spawner: swap the behaviour for this server only
    const original = t.hub.spawners;
    t.hub.spawners = SpawnerBackends.single(dies);
    try {
      assert.equal((await t.api('POST', '/users/pat/servers/short', { token: tok })).status, 201);
    } finally {
      t.hub.spawners = original;
    }
    assert.equal((await t.api('POST', '/users/pat/servers/long', { token: tok })).status, 201);
    await eventually(async () => (await serverRecord(t, 'pat', 'short')).row!.ready === 0, 10_000, 'the poll loop clearing the server that died');
    await assertServerReset(t, 'pat', 'short');
    const long = await serverRecord(t, 'pat', 'long');
    assert.equal(long.row!.ready, 1);
    assert.equal(long.routed, true);
    assert.equal((await fetch(`${t.publicUrl}/user/pat/long/api`)).status, 200);
    await dies.killAll();
  });

  it('a stop through the API revokes the same credentials', async () => {
    assert.equal((await t.api('DELETE', '/users/pat/servers/long', { token: tok })).status, 204);
    await assertServerReset(t, 'pat', 'long');
  });
});
