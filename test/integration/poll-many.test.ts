import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { namedBackends, pollManySpawner, trivialSpawner, type DoubleState } from '../helpers/spawner-doubles.js';
import { assertServerReset, serverRecord } from '../helpers/server-state.js';

/**
 * A back-end with `pollMany` is asked once per poll round for all its ready
 * servers (one scheduler query, not one per server), and each result is
 * applied to its own server: one stopped among many clears only that one.
 */
describe('pollMany in the poll loop', () => {
  const many = pollManySpawner();
  const other = pollManySpawner();
  const single = trivialSpawner();
  let t: TestHub;
  let tok: string;
  const N = 5;

  before(async () => {
    t = await startTestHub({ allow_named_servers: true }, { spawners: namedBackends({ many, other, single }) });
    tok = await t.tokenFor('pam');
    for (let i = 0; i < N; i++) assert.equal((await t.api('POST', `/users/pam/servers/m${i}`, { token: tok })).status, 201);
    for (let i = 0; i < 2; i++) assert.equal((await t.api('POST', `/users/pam/servers/o${i}`, { token: tok, body: { backend: 'other' } })).status, 201);
    for (let i = 0; i < 3; i++) assert.equal((await t.api('POST', `/users/pam/servers/s${i}`, { token: tok, body: { backend: 'single' } })).status, 201);
  });
  after(async () => {
    await t.stop();
    for (const s of [many, other, single]) await s.killAll();
  });

  it('one pollMany call per back-end per round, covering all its servers; no one-by-one polls for them', async () => {
    const [m, o, s, ms, os] = [many.pollManyCalls.length, other.pollManyCalls.length, single.polls.length, many.singlePolls, other.singlePolls];
    for (let round = 0; round < 3; round++) await t.hub.servers.pollRound();
    assert.deepEqual(many.pollManyCalls.slice(m), [N, N, N]);
    assert.deepEqual(other.pollManyCalls.slice(o), [2, 2, 2]);
    assert.equal(many.singlePolls - ms, 0);
    assert.equal(other.singlePolls - os, 0);
    assert.equal(single.polls.length - s, 9, 'the back-end without pollMany is polled server by server');
  });

  it('one server answered stopped among many: only it is cleared, its route removed', async () => {
    const victim = JSON.parse((await serverRecord(t, 'pam', 'm2')).row!.state) as DoubleState;
    many.answers.set(victim.pid, { status: 'stopped', reason: 'job ended' });
    await t.hub.servers.pollRound();
    many.answers.clear();
    await assertServerReset(t, 'pam', 'm2');
    for (const n of ['m0', 'm1', 'm3', 'm4', 'o0', 'o1', 's0']) {
      const r = await serverRecord(t, 'pam', n);
      assert.equal(r.row!.ready, 1, `${n} ready`);
      assert.equal(r.routed, true, `${n} routed`);
    }
    await many.kill(victim);
    // the next round asks about the four left
    const m = many.pollManyCalls.length;
    await t.hub.servers.pollRound();
    assert.deepEqual(many.pollManyCalls.slice(m), [N - 1]);
  });

  it('unknown or pending answers keep servers; a pollMany that throws keeps every server of its back-end and the round goes on', async () => {
    const victim = JSON.parse((await serverRecord(t, 'pam', 'm0')).row!.state) as DoubleState;
    many.answers.set(victim.pid, { status: 'pending', reason: 'Suspended' });
    other.schedulerDown();
    await t.hub.servers.pollRound();
    many.answers.clear();
    other.schedulerUp();
    for (const n of ['m0', 'o0', 'o1']) assert.equal((await serverRecord(t, 'pam', n)).row!.ready, 1, n);

    many.failWith = 'squeue crashed';
    await many.kill(victim); // dead, but the back-end cannot say so this round
    const o = other.pollManyCalls.length;
    const s = single.polls.length;
    try {
      await t.hub.servers.pollRound();
    } finally {
      many.failWith = undefined;
    }
    assert.equal((await serverRecord(t, 'pam', 'm0')).row!.ready, 1, 'a failed pollMany cleared a server');
    assert.equal(other.pollManyCalls.length - o, 1, 'the other back-end was still polled');
    assert.equal(single.polls.length - s, 3);
    // the next round, answered again, clears it
    await t.hub.servers.pollRound();
    await assertServerReset(t, 'pam', 'm0');
  });

  it('a pollMany that never answers is taken as unknown after pollTimeoutMs: the round ends, its servers are kept', async () => {
    const original = many.pollMany.bind(many);
    many.pollMany = () => new Promise<never>(() => undefined);
    t.hub.servers.pollTimeoutMs = 200;
    const began = Date.now();
    try {
      await t.hub.servers.pollRound();
    } finally {
      many.pollMany = original;
    }
    assert.ok(Date.now() - began < 5000, 'the round waited for the hung pollMany');
    for (const n of ['m1', 'm3', 'm4']) assert.equal((await serverRecord(t, 'pam', n)).row!.ready, 1, n);
  });
});
