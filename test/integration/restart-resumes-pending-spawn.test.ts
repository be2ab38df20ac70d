import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import {
  JobQueue,
  namedBackends,
  queuedSpawner,
  unreachableSchedulerSpawner,
  unresumableQueuedSpawner,
  type QueuedSpawner,
  type QueuedState,
  type TrivialSpawner,
} from '../helpers/spawner-doubles.js';
import { assertServerReset, eventually, serverRecord } from '../helpers/server-state.js';

/**
 * A hub restarted while a spawn waits in a scheduler's queue goes on waiting
 * for that job (a resumable back-end) instead of cancelling it: same job, no
 * stop, the token the first spawn issued keeps working once the server runs.
 * A back-end that cannot resume has its pending spawn cleaned up as before,
 * and a running server whose scheduler cannot be asked at re-attach
 * (`unknown`) is kept. The queue outlives the hubs, as Slurm would.
 */
describe('a restarted hub resumes a pending spawn on a resumable back-end', () => {
  const queue = new JobQueue();
  const first = {
    queue: queuedSpawner(queue),
    plain: unresumableQueuedSpawner(queue),
    flaky: unreachableSchedulerSpawner(),
  };
  // the restarted hub's spawners are fresh instances: they know only the saved state (and the shared queue)
  const second = {
    queue: queuedSpawner(queue),
    plain: unresumableQueuedSpawner(queue),
    flaky: unreachableSchedulerSpawner(),
  };
  let hub1: TestHub;
  let hub2: TestHub | undefined;
  let waiterToken: string;
  let waiterJob: string;
  let plainJob: string;
  const h2 = (): TestHub => {
    assert.ok(hub2, 'the restarted hub did not start');
    return hub2;
  };
  const jobOf = (s: QueuedSpawner, i: number) => s.jobs[i]!.job;

  before(async () => {
    hub1 = await startTestHub({ slow_spawn_timeout: 0.1 }, { spawners: namedBackends(first) });
    const start = async (user: string, backend: string) => {
      const res = await hub1.api('POST', `/users/${user}/server`, { token: await hub1.tokenFor(user), body: { backend } });
      assert.ok([201, 202].includes(res.status), `start of ${user}: ${res.status} ${res.text}`);
    };
    // a queued job that ran: a ready server
    await start('runner', 'queue');
    await eventually(() => first.queue.jobs.length === 1, 5000, 'runner job submitted');
    queue.release(jobOf(first.queue, 0));
    await eventually(async () => (await serverRecord(hub1, 'runner')).row!.ready === 1, 5000, 'runner ready');
    // a queued job still pending when the hub goes
    await start('waiter', 'queue');
    await eventually(async () => JSON.parse((await serverRecord(hub1, 'waiter')).row!.state).job !== undefined, 5000, 'waiter job saved');
    waiterJob = jobOf(first.queue, 1);
    waiterToken = first.queue.calls[1]!.request.env['JUPYTERHUB_API_TOKEN']!;
    assert.ok(waiterToken, 'the spawn got no API token');
    // another pending job, whose user gives up after the restart
    await start('quitter', 'queue');
    await eventually(async () => JSON.parse((await serverRecord(hub1, 'quitter')).row!.state).job !== undefined, 5000, 'quitter job saved');
    // a pending job on a back-end that cannot resume
    await start('plain', 'plain');
    await eventually(async () => JSON.parse((await serverRecord(hub1, 'plain')).row!.state).job !== undefined, 5000, 'plain job saved');
    plainJob = jobOf(first.plain, 0);
    // two running servers whose scheduler will be unreachable at re-attach; one of them dies meanwhile
    await start('flaky', 'flaky');
    await start('flakydead', 'flaky');
    for (const u of ['flaky', 'flakydead']) await eventually(async () => (await serverRecord(hub1, u)).row!.ready === 1, 5000, `${u} ready`);

    await hub1.detach();
    await first.flaky.kill(first.flaky.started[1]!);
    second.flaky.schedulerDown('controller unreachable');
    hub2 = await startTestHub({}, { spawners: namedBackends(second), dataDir: hub1.dataDir, proxyServer: hub1.proxyServer, hubPort: hub1.hubPort, reattach: true });
  });
  after(async () => {
    second.flaky.schedulerUp();
    if (hub2) await hub2.stop();
    else await hub1.stop();
    for (const s of [...Object.values(first), ...Object.values(second)] as TrivialSpawner[]) await s.killAll();
  });

  it('reports what it kept, resumed and cleared', () => {
    assert.deepEqual(h2().reattached, { kept: 3, cleared: 1, resumed: 2 });
  });

  it('resumes the pending job: same job in its state, no stop, no new job, still pending', async () => {
    await eventually(() => second.queue.calls.length === 2, 5000, 'the resumed starts');
    const resumed = second.queue.jobs.find((j) => j.job === waiterJob);
    assert.deepEqual(resumed, { job: waiterJob, resumed: true });
    assert.deepEqual(second.queue.jobs.map((j) => j.job).sort(), [waiterJob, jobOf(first.queue, 2)].sort(), 'only the two pending jobs were resumed, no new one submitted');
    assert.equal(second.queue.calls.filter((c) => (c.request.resumeState as QueuedState).job === waiterJob).length, 1);
    assert.deepEqual(second.queue.stops, []);
    assert.equal(queue.jobs.get(waiterJob), 'pending');
    const r = await serverRecord(h2(), 'waiter');
    assert.equal(r.row!.pending, 'spawn');
    assert.equal(r.row!.owner, h2().hub.processId);
    assert.equal((JSON.parse(r.row!.state) as QueuedState).job, waiterJob);
    assert.equal(r.serverTokens, 1);
  });

  it('the resumed server becomes ready when its job runs, routed, and the token of the first spawn still works', async () => {
    queue.release(waiterJob);
    await eventually(async () => (await serverRecord(h2(), 'waiter')).row!.ready === 1, 10_000, 'the resumed spawn ready');
    const r = await serverRecord(h2(), 'waiter');
    assert.equal(r.row!.pending, null);
    assert.equal(r.routed, true);
    assert.equal(r.serverTokens, 1);
    assert.equal((JSON.parse(r.row!.state) as QueuedState).job, waiterJob);
    assert.equal((await fetch(`${h2().publicUrl}/user/waiter/api`)).status, 200);
    const me = await h2().api('GET', '/user', { token: waiterToken });
    assert.equal(me.status, 200, me.text);
    assert.equal((me.body as { name: string }).name, 'waiter');
    assert.deepEqual(second.queue.stops, []);
  });

  it('a resumed spawn can be stopped: its job is cancelled and the server reset', async () => {
    const job = jobOf(first.queue, 2);
    assert.equal(queue.jobs.get(job), 'pending');
    const res = await h2().api('DELETE', '/users/quitter/server', { token: await h2().tokenFor('quitter') });
    assert.ok([202, 204].includes(res.status), res.text);
    await eventually(async () => (await serverRecord(h2(), 'quitter')).row!.pending === null, 5000, 'the stop');
    assert.equal(queue.jobs.get(job), 'cancelled');
    await assertServerReset(h2(), 'quitter');
  });

  it('keeps the running server of the resumable back-end', async () => {
    const r = await serverRecord(h2(), 'runner');
    assert.equal(r.row!.ready, 1);
    assert.equal(r.routed, true);
    assert.equal(queue.jobs.get(jobOf(first.queue, 0)), 'released');
    assert.equal((await fetch(`${h2().publicUrl}/user/runner/api`)).status, 200);
  });

  it('cleans up the pending spawn of a back-end that cannot resume: its job cancelled, the server reset', async () => {
    assert.equal(queue.jobs.get(plainJob), 'cancelled');
    assert.equal(second.plain.stops.length, 1);
    assert.deepEqual(second.plain.jobs, []);
    await assertServerReset(h2(), 'plain');
  });

  it('keeps running servers whose scheduler answers unknown at re-attach, even one that does not answer HTTP', async () => {
    for (const u of ['flaky', 'flakydead']) {
      const r = await serverRecord(h2(), u);
      assert.equal(r.row!.ready, 1, `${u} ready`);
      assert.equal(r.row!.pending, null, `${u} pending`);
      assert.equal(r.serverTokens, 1, `${u} token`);
    }
    assert.equal((await fetch(`${h2().publicUrl}/user/flaky/api`)).status, 200);
    // once the scheduler answers again, the dead one goes and the live one stays
    second.flaky.schedulerUp();
    await h2().hub.servers.pollRound();
    await assertServerReset(h2(), 'flakydead');
    assert.equal((await serverRecord(h2(), 'flaky')).row!.ready, 1);
  });
});
