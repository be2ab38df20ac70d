import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createServer, updateServer } from '../../src/db/repos/servers.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { neverSpawner, slowSpawner, trivialSpawner, type DoubleState, type TrivialSpawner } from '../helpers/spawner-doubles.js';
import { assertServerReset, eventually, serverRecord } from '../helpers/server-state.js';
import { SpawnerBackends } from '../../src/spawners/backends.js';

/**
 * A hub that stops (or dies) leaves its servers and proxy running; the next
 * hub on the same data dir and database re-attaches at start-up, as `serve`
 * does (src/hub/lifecycle.ts): a server still running is kept with its route,
 * one that is gone is cleared, a spawn the old hub left pending is finished
 * when its server answers and cleaned up (process stopped) otherwise.
 */
describe('re-attach after a hub restart', () => {
  let first: TestHub;
  let second: TestHub | undefined;
  const firstSpawner = trivialSpawner();
  const never = neverSpawner();
  const slow = slowSpawner({ delayMs: 60_000, launchFirst: true });
  const late = trivialSpawner({ answerAfterMs: 1500 });
  // the restarted hub's spawner is a fresh instance: it knows only the saved state
  const secondSpawner: TrivialSpawner = trivialSpawner();
  let lateState: DoubleState;
  const hub2 = (): TestHub => {
    assert.ok(second, 'the restarted hub did not start');
    return second;
  };

  before(async () => {
    first = await startTestHub({ slow_spawn_timeout: 0.1 }, { spawner: firstSpawner });
    const tok = (name: string) => first.tokenFor(name);
    // running, and stays running
    assert.ok([201, 202].includes((await first.api('POST', '/users/runner/server', { token: await tok('runner') })).status));
    await eventually(async () => (await serverRecord(first, 'runner')).row!.ready === 1, 5000, 'runner ready');
    // running, then dies while no hub runs
    assert.ok([201, 202].includes((await first.api('POST', '/users/goner/server', { token: await tok('goner') })).status));
    await eventually(async () => (await serverRecord(first, 'goner')).row!.ready === 1, 5000, 'goner ready');
    // pending: the spawner never got as far as a process
    first.hub.spawners = SpawnerBackends.single(never);
    assert.equal((await first.api('POST', '/users/waiter/server', { token: await tok('waiter') })).status, 202);
    // pending: a process started and its state saved, but no URL yet
    first.hub.spawners = SpawnerBackends.single(slow);
    assert.equal((await first.api('POST', '/users/starter/server', { token: await tok('starter') })).status, 202);
    await eventually(() => slow.started.length === 1, 5000, 'the slow double started its process');
    first.hub.spawners = SpawnerBackends.single(firstSpawner);
    // pending: the URL was saved and the server answers a moment later
    // (written as the old hub left it: its own flight is not part of this test)
    const lateUser = await ensureUser(first.hub.db, 'latecomer');
    const row = await createServer(first.hub.db, lateUser.id, '', late.kind);
    const ctl = new AbortController();
    const result = await late.start({
      user: { name: 'latecomer', admin: false, groups: [] },
      serverName: '',
      backend: 'default',
      reportedPort: async () => undefined,
      env: { JUPYTERHUB_SERVICE_PREFIX: '/user/latecomer/', JUPYTERHUB_USER: 'latecomer' },
      userOptions: {},
      workDir: first.dataDir,
      log: pino({ level: 'silent' }),
      saveState: async () => undefined,
      progress: () => undefined,
      signal: ctl.signal,
    });
    lateState = result.state as DoubleState;
    await updateServer(first.hub.db, row.id, { pending: 'spawn', url: result.url, state: JSON.stringify(result.state), owner: first.hub.processId });

    await first.detach();
    await firstSpawner.kill(firstSpawner.started[1]!); // goner's process dies
    second = await startTestHub({}, { spawner: secondSpawner, dataDir: first.dataDir, proxyServer: first.proxyServer, hubPort: first.hubPort, reattach: true });
  });
  after(async () => {
    // the second hub owns the data dir and proxy once it exists
    if (second) await second.stop();
    else await first.stop();
    for (const s of [firstSpawner, never, slow, late, secondSpawner]) await s.killAll();
  });

  it('reports what it kept and what it cleared', () => {
    assert.deepEqual(hub2().reattached, { kept: 2, cleared: 3, resumed: 0 });
  });

  it('keeps a running server ready, owned by the new hub, with its route, answering through the proxy', async () => {
    const r = await serverRecord(hub2(), 'runner');
    assert.equal(r.row!.ready, 1);
    assert.equal(r.row!.pending, null);
    assert.equal(r.row!.owner, hub2().hub.processId);
    assert.equal(r.routed, true);
    assert.equal(r.serverTokens, 1);
    assert.equal((await fetch(`${hub2().publicUrl}/user/runner/api`)).status, 200);
    const tok = await hub2().tokenFor('runner');
    const model = (await hub2().api('GET', '/users/runner', { token: tok })).body as { server: string };
    assert.equal(model.server, '/user/runner/');
  });

  it('clears a server whose process is gone, with its credentials and route', async () => {
    await assertServerReset(hub2(), 'goner');
  });

  it('clears a spawn left pending before any process started', async () => {
    await assertServerReset(hub2(), 'waiter');
  });

  it('stops the process of a spawn left pending without a URL, and clears it', async () => {
    assert.equal((await secondSpawner.poll(slow.started[0]!)).status, 'stopped', 'the half-started server process is still running');
    await assertServerReset(hub2(), 'starter');
  });

  it('finishes a spawn left pending whose server answers: ready, routed', async () => {
    const r = await serverRecord(hub2(), 'latecomer');
    assert.equal(r.row!.ready, 1);
    assert.equal(r.row!.pending, null);
    assert.equal(r.routed, true);
    assert.equal((await secondSpawner.poll(lateState)).status, 'running');
    assert.equal((await fetch(`${hub2().publicUrl}/user/latecomer/api`)).status, 200);
    const tok = await hub2().tokenFor('latecomer');
    const model = (await hub2().api('GET', '/users/latecomer', { token: tok })).body as { servers: Record<string, { ready: boolean; started: string | null }> };
    assert.equal(model.servers['']!.ready, true);
    assert.ok(model.servers['']!.started, 'a server finished at re-attach has no start time');
  });

  it('the cleared servers can be started again on the new hub', async () => {
    const tok = await hub2().tokenFor('goner');
    assert.equal((await hub2().api('POST', '/users/goner/server', { token: tok })).status, 201);
  });
});
