import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { namedBackends, pollManySpawner, trivialSpawner, type DoubleState } from '../helpers/spawner-doubles.js';
import { serverRecord } from '../helpers/server-state.js';

/**
 * A back-end without `pollMany` has its servers polled one by one, spread
 * over the round (`pollRound(spreadMs)`), so many servers do not mean a
 * burst of scheduler commands at the start of each interval. Timings are
 * checked loosely (order and rough gaps), never as a speed. A poll made
 * from the round's snapshot never clears a server that was restarted
 * while the round was under way.
 */
describe('polls spread over the round', () => {
  const single = trivialSpawner();
  const many = pollManySpawner();
  let t: TestHub;
  let tok: string;
  const N = 4;

  before(async () => {
    t = await startTestHub({ allow_named_servers: true }, { spawners: namedBackends({ single, many }) });
    tok = await t.tokenFor('sid');
    for (let i = 0; i < N; i++) assert.equal((await t.api('POST', `/users/sid/servers/s${i}`, { token: tok })).status, 201);
    assert.equal((await t.api('POST', '/users/sid/servers/batch', { token: tok, body: { backend: 'many' } })).status, 201);
  });
  after(async () => {
    await t.stop();
    for (const s of [single, many]) await s.killAll();
  });

  it('spaces the one-by-one polls over spreadMs, each server once, while the pollMany back-end is asked at once', async () => {
    const spreadMs = 800;
    const from = single.polls.length;
    const began = Date.now();
    await t.hub.servers.pollRound(spreadMs);
    const polls = single.polls.slice(from);
    assert.equal(polls.length, N, 'each server polled once');
    const pids = new Set(polls.map((p) => (p.state as DoubleState).pid));
    assert.equal(pids.size, N);
    const gaps = polls.slice(1).map((p, i) => p.at - polls[i]!.at);
    const gap = spreadMs / N;
    for (const g of gaps) assert.ok(g >= gap * 0.6, `polls too close together: ${gaps.join(', ')} ms (expected about ${gap})`);
    assert.ok(polls.at(-1)!.at - polls[0]!.at >= (N - 1) * gap * 0.6, 'the polls were not spread');
    assert.ok(polls[0]!.at - began < gap * 1.5, 'the first poll waited');
    // the batched back-end is not spread: its one call comes at the start of the round
    const batch = many.polls.at(-1)!;
    assert.ok(batch.at - began < gap * 1.5, `pollMany came ${batch.at - began} ms into the round`);
  });

  it('without a spread the polls come back to back', async () => {
    const from = single.polls.length;
    await t.hub.servers.pollRound(0);
    const polls = single.polls.slice(from);
    assert.equal(polls.length, N);
    assert.ok(polls.at(-1)!.at - polls[0]!.at < 400, 'a round without spread waited between polls');
  });

  it('a stale poll of the round\'s snapshot does not clear a server restarted meanwhile', async () => {
    const last = `s${N - 1}`;
    const old = JSON.parse((await serverRecord(t, 'sid', last)).row!.state) as DoubleState;
    // the round reads its rows now; the last one is polled ~600 ms in
    const round = t.hub.servers.pollRound(800);
    await single.kill(old); // its first process dies...
    // ...and the user restarts it before the round reaches it
    assert.equal((await t.api('DELETE', `/users/sid/servers/${last}`, { token: tok })).status, 204);
    assert.equal((await t.api('POST', `/users/sid/servers/${last}`, { token: tok })).status, 201);
    const fresh = (await serverRecord(t, 'sid', last)).row!;
    assert.notEqual((JSON.parse(fresh.state) as DoubleState).pid, old.pid);
    await round;
    const r = await serverRecord(t, 'sid', last);
    assert.equal(r.row!.ready, 1, 'the restarted server was cleared by a poll of its old process');
    assert.equal(r.row!.state, fresh.state);
    assert.equal(r.routed, true);
    assert.equal(r.serverTokens, 1);
    assert.equal((await fetch(`${t.publicUrl}/user/sid/${last}/api`)).status, 200);
  });

  it('the poll loop (startPolling) runs rounds on its own, and ends with close() even in the middle of a round', async () => {
    const from = many.pollManyCalls.length;
    t.hub.config.poll_interval = 0.3;
    t.hub.servers.startPolling();
    try {
      const end = Date.now() + 5000;
      while (many.pollManyCalls.length - from < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      assert.ok(many.pollManyCalls.length - from >= 2, 'fewer than two rounds in 5 s');
      assert.ok(many.pollManyCalls.slice(from).every((n) => n === 1));
      // wait until a round is under way (its spread polls), then close
      const polled = single.polls.length;
      while (single.polls.length === polled && Date.now() < end + 2000) await new Promise((r) => setTimeout(r, 5));
    } finally {
      await t.hub.servers.close(0);
    }
    const [a, b] = [single.polls.length, many.pollManyCalls.length];
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual([single.polls.length, many.pollManyCalls.length], [a, b], 'polls went on after close()');
  });
});
