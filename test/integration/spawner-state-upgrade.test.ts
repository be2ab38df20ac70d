import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { updateServer } from '../../src/db/repos/servers.js';
import type { SpawnerState } from '../../src/spawners/spawner.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { JobQueue, queuedSpawner, versionedStateSpawner, type DoubleState, type QueuedState, type StateV2, type VersionedStateSpawner } from '../helpers/spawner-doubles.js';
import { assertServerReset, eventually, serverRecord } from '../helpers/server-state.js';

/** A logger writing JSON lines into `lines` (to check what the hub logged). */
function capturingLog(lines: Record<string, unknown>[]): pino.Logger {
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level: 'debug' }, stream);
}

/**
 * The hub hands a spawner's `upgradeState` every state it reads from the
 * database before `poll`, `stop` and a resumed `start`, so a spawner only
 * ever works on its current version. A state it refuses (throws) never
 * breaks the poll loop (it is logged and the server kept), and a stop still
 * clears the server.
 */
describe('spawner state upgrades', () => {
  let t: TestHub;
  let spawner: VersionedStateSpawner;
  let tok: string;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    spawner = versionedStateSpawner();
    t = await startTestHub({ allow_named_servers: true }, { spawner });
    t.hub.log = capturingLog(lines);
    tok = await t.tokenFor('uma');
  });
  after(async () => {
    await t.stop();
    await spawner.killAll();
  });

  it('polls with the upgraded state (v1 saved, v2 polled)', async () => {
    assert.equal((await t.api('POST', '/users/uma/servers/one', { token: tok })).status, 201);
    const saved = JSON.parse((await serverRecord(t, 'uma', 'one')).row!.state) as SpawnerState;
    assert.equal(saved.v, 1, 'the spawner saves v1');
    const before = spawner.polls.length;
    await t.hub.servers.pollRound();
    const polled = spawner.polls.slice(before);
    assert.equal(polled.length, 1);
    assert.equal(polled[0]!.state.v, 2);
    assert.equal((polled[0]!.state as StateV2).process.pid, (saved as DoubleState).pid);
    assert.equal((await serverRecord(t, 'uma', 'one')).row!.ready, 1, 'the upgraded poll found it running');
  });

  it('stops with the upgraded state: the process ends and the server is reset', async () => {
    const saved = JSON.parse((await serverRecord(t, 'uma', 'one')).row!.state) as DoubleState;
    assert.equal((await t.api('DELETE', '/users/uma/servers/one', { token: tok })).status, 204);
    await assertServerReset(t, 'uma', 'one');
    assert.equal((await spawner.poll({ v: 2, process: { pid: saved.pid, port: saved.port } })).status, 'stopped', 'the process still runs');
  });

  it('a state the spawner refuses: the poll round goes on (other servers polled), logged, the server kept', async () => {
    assert.equal((await t.api('POST', '/users/uma/servers/bad', { token: tok })).status, 201);
    assert.equal((await t.api('POST', '/users/uma/servers/good', { token: tok })).status, 201);
    const bad = (await serverRecord(t, 'uma', 'bad')).row!;
    const badState = JSON.parse(bad.state) as DoubleState;
    await updateServer(t.hub.db, bad.id, { state: JSON.stringify({ ...badState, v: 99 }) });
    const before = spawner.polls.length;
    await t.hub.servers.pollRound();
    assert.equal(spawner.polls.length - before, 1, 'the good server was polled');
    assert.equal((await serverRecord(t, 'uma', 'bad')).row!.ready, 1, 'the refused state cleared the server');
    assert.equal((await serverRecord(t, 'uma', 'good')).row!.ready, 1);
    const logged = lines.find((l) => l['server'] === 'bad' && /unreadable spawner state/.test(String(l['msg'])));
    assert.ok(logged, 'the refused state was not logged');
    assert.match(String(logged['err']), /version 99/);
    // stop still clears the row (the spawner cannot be asked to stop what it cannot read: its process is ended here)
    assert.equal((await t.api('DELETE', '/users/uma/servers/bad', { token: tok })).status, 204);
    await assertServerReset(t, 'uma', 'bad');
    await spawner.kill({ v: 1, pid: badState.pid, port: badState.port });
  });
});

describe('spawner state upgrades on restart', () => {
  it('a running server whose state this version refuses (a newer one wrote it) is kept by a restarted hub, logged', async () => {
    const spawner = versionedStateSpawner();
    const hub1 = await startTestHub({}, { spawner });
    let hub2: TestHub | undefined;
    const lines: Record<string, unknown>[] = [];
    try {
      assert.equal((await hub1.api('POST', '/users/uma/server', { token: await hub1.tokenFor('uma') })).status, 201);
      const row = (await serverRecord(hub1, 'uma')).row!;
      const newer = JSON.stringify({ ...(JSON.parse(row.state) as DoubleState), v: 99 });
      await updateServer(hub1.hub.db, row.id, { state: newer });
      await hub1.detach();
      hub2 = await startTestHub({}, { spawner, dataDir: hub1.dataDir, proxyServer: hub1.proxyServer, hubPort: hub1.hubPort, reattach: true, log: capturingLog(lines) });
      const after = (await serverRecord(hub2, 'uma')).row!;
      assert.equal(after.ready, 1, 'the restarted hub forgot a server it could not read');
      assert.equal(after.state, newer);
      const logged = lines.find((l) => /unreadable spawner state/.test(String(l['msg'])));
      assert.match(String(logged?.['err']), /version 99/);
      // stopping it still clears it
      assert.equal((await hub2.api('DELETE', '/users/uma/server', { token: await hub2.tokenFor('uma') })).status, 204);
      await assertServerReset(hub2, 'uma');
    } finally {
      if (hub2) await hub2.stop();
      else await hub1.stop();
      await spawner.killAll();
    }
  });
});

describe('spawner state upgrades on resume', () => {
  it('a restarted hub resumes with the upgraded state', async () => {
    const queue = new JobQueue();
    const first = queuedSpawner(queue);
    const hub1 = await startTestHub({ slow_spawn_timeout: 0.1 }, { spawner: first });
    const second = queuedSpawner(queue);
    const upgrades: SpawnerState[] = [];
    (second as { upgradeState?: (s: SpawnerState) => SpawnerState }).upgradeState = (s) => {
      upgrades.push(s);
      return { ...s, upgraded: true };
    };
    let hub2: TestHub | undefined;
    try {
      assert.equal((await hub1.api('POST', '/users/rei/server', { token: await hub1.tokenFor('rei') })).status, 202);
      await eventually(() => first.jobs.length === 1, 5000, 'job submitted');
      await eventually(async () => (await serverRecord(hub1, 'rei')).row!.state !== '{}', 5000, 'job saved');
      await hub1.detach();
      hub2 = await startTestHub({}, { spawner: second, dataDir: hub1.dataDir, proxyServer: hub1.proxyServer, hubPort: hub1.hubPort, reattach: true });
      assert.equal(hub2.reattached!.resumed, 1);
      await eventually(() => second.calls.length === 1, 5000, 'the resumed start');
      const resume = second.calls[0]!.request.resumeState as QueuedState & { upgraded?: boolean };
      assert.equal(resume.job, first.jobs[0]!.job);
      assert.equal(resume.upgraded, true);
      // the re-attach poll got the upgraded state too
      assert.equal((second.polls[0]!.state as { upgraded?: boolean }).upgraded, true);
      queue.release(first.jobs[0]!.job);
      await eventually(async () => (await serverRecord(hub2!, 'rei')).row!.ready === 1, 10_000, 'resumed server ready');
    } finally {
      if (hub2) await hub2.stop();
      else await hub1.stop();
      await first.killAll();
      await second.killAll();
    }
  });
});
