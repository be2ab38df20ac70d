import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { unreachableSchedulerSpawner, type DoubleState, type UnreachableSchedulerSpawner } from '../helpers/spawner-doubles.js';
import { assertServerReset, serverRecord } from '../helpers/server-state.js';

/**
 * A poll that cannot learn whether a server runs (`unknown`: the scheduler
 * is unreachable) or that says it waits (`pending`) never clears a ready
 * server: row, token and route stay, round after round. Once the spawner can
 * tell again that the server is gone (`stopped`), one round clears it.
 */
describe('poll answers unknown or pending for a ready server', () => {
  let t: TestHub;
  let spawner: UnreachableSchedulerSpawner;
  let tok: string;

  before(async () => {
    spawner = unreachableSchedulerSpawner();
    t = await startTestHub({ allow_named_servers: true }, { spawner });
    tok = await t.tokenFor('una');
  });
  after(async () => {
    await t.stop();
    await spawner.killAll();
  });

  async function assertKept(server: string): Promise<void> {
    const r = await serverRecord(t, 'una', server);
    assert.equal(r.row!.ready, 1, 'ready');
    assert.equal(r.row!.pending, null, 'pending');
    assert.notEqual(r.row!.state, '{}', 'state kept');
    assert.equal(r.serverTokens, 1, 'token kept');
    assert.equal(r.routed, true, 'route kept');
  }

  it('keeps a server whose poll answers unknown over several rounds, even though its process is dead; a stopped answer clears it within one round', async () => {
    assert.equal((await t.api('POST', '/users/una/server', { token: tok })).status, 201);
    const state = spawner.started.at(-1)!;
    spawner.schedulerDown('slurmctld not responding');
    await spawner.kill(state); // the truth is "stopped", but the scheduler cannot say so
    const polled = spawner.polls.length;
    for (let round = 0; round < 4; round++) {
      await t.hub.servers.pollRound();
      await assertKept('');
    }
    assert.ok(spawner.polls.length >= polled + 4, 'every round polled the server');
    // the model still shows it running
    const model = (await t.api('GET', '/users/una', { token: tok })).body as { server: string | null };
    assert.equal(model.server, '/user/una/');

    spawner.schedulerUp();
    await t.hub.servers.pollRound();
    await assertServerReset(t, 'una');
  });

  it('keeps a ready server whose poll answers pending', async () => {
    assert.equal((await t.api('POST', '/users/una/servers/queued', { token: tok })).status, 201);
    spawner.answer = { status: 'pending', reason: 'Priority' };
    try {
      for (let round = 0; round < 3; round++) {
        await t.hub.servers.pollRound();
        await assertKept('queued');
      }
    } finally {
      spawner.schedulerUp();
    }
    await t.hub.servers.pollRound();
    await assertKept('queued');
    assert.equal((await fetch(`${t.publicUrl}/user/una/queued/api`)).status, 200);
  });

  it('a start request for a server whose poll answers unknown is refused as already running (the server is not replaced)', async () => {
    spawner.schedulerDown();
    try {
      const res = await t.api('POST', '/users/una/servers/queued', { token: tok });
      assert.equal(res.status, 400);
      assert.match((res.body as { message: string }).message, /already running/);
      await assertKept('queued');
    } finally {
      spawner.schedulerUp();
    }
  });

  it('a poll that throws (against the contract) is taken as unknown: the server is kept', async () => {
    const original = spawner.poll.bind(spawner);
    spawner.poll = async () => {
      throw new Error('scheduler client crashed');
    };
    try {
      await t.hub.servers.pollRound();
      await assertKept('queued');
    } finally {
      spawner.poll = original;
    }
    const state = JSON.parse((await serverRecord(t, 'una', 'queued')).row!.state) as DoubleState;
    assert.equal((await spawner.poll(state)).status, 'running');
  });

  it('a poll that never answers is taken as unknown after pollTimeoutMs: the round ends, the server is kept', async () => {
    const original = spawner.poll.bind(spawner);
    spawner.poll = () => new Promise<never>(() => undefined);
    t.hub.servers.pollTimeoutMs = 200;
    const began = Date.now();
    try {
      await t.hub.servers.pollRound();
    } finally {
      spawner.poll = original;
    }
    assert.ok(Date.now() - began < 5000, 'the round waited for the hung poll');
    await assertKept('queued');
  });
});
