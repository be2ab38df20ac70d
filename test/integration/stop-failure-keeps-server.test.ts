import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { unreachableSchedulerSpawner, type UnreachableSchedulerSpawner } from '../helpers/spawner-doubles.js';
import { assertServerReset, serverRecord } from '../helpers/server-state.js';

/**
 * A stop the spawner cannot carry out (the scheduler is unreachable, so the
 * job was not cancelled) must not make the hub forget the server: its state
 * (the job id), token and route stay, the caller gets a 503 saying it still
 * runs, and a later stop, once the scheduler answers, stops it. Deleting a
 * named server whose stop fails keeps the row.
 */
describe('a stop that fails keeps the server as it was', () => {
  let t: TestHub;
  let spawner: UnreachableSchedulerSpawner;
  let tok: string;

  before(async () => {
    spawner = unreachableSchedulerSpawner();
    t = await startTestHub({ allow_named_servers: true }, { spawner });
    tok = await t.tokenFor('stopper');
  });
  after(async () => {
    await t.stop();
    await spawner.killAll();
  });

  it('answers 503 naming the reason, keeps state, token and route; a later stop succeeds', async () => {
    assert.equal((await t.api('POST', '/users/stopper/server', { token: tok })).status, 201);
    const before = await serverRecord(t, 'stopper', '');
    spawner.stopFailure = 'slurm_load_jobs error: Unable to contact slurm controller';
    const refused = await t.api('DELETE', '/users/stopper/server', { token: tok });
    assert.equal(refused.status, 503);
    assert.match(JSON.stringify(refused.body), /Unable to contact slurm controller/);
    assert.match(JSON.stringify(refused.body), /still running/);
    const kept = await serverRecord(t, 'stopper', '');
    assert.equal(kept.row!.ready, 1);
    assert.equal(kept.row!.pending, null);
    assert.equal(kept.row!.state, before.row!.state, 'the job is not forgotten');
    assert.equal(kept.row!.url, before.row!.url);
    assert.equal(kept.serverTokens, 1);
    assert.equal(kept.routed, true);
    // the poll loop still sees it running
    await t.hub.servers.pollRound();
    assert.equal((await serverRecord(t, 'stopper', '')).row!.ready, 1);

    spawner.stopFailure = undefined;
    const ok = await t.api('DELETE', '/users/stopper/server', { token: tok });
    assert.equal(ok.status, 204);
    await assertServerReset(t, 'stopper');
  });

  it('deleting a named server whose stop fails keeps its row', async () => {
    assert.equal((await t.api('POST', '/users/stopper/servers/lab', { token: tok })).status, 201);
    spawner.stopFailure = 'scheduler unreachable';
    const refused = await t.api('DELETE', '/users/stopper/servers/lab', { token: tok, body: { remove: true } });
    assert.equal(refused.status, 503);
    assert.ok((await serverRecord(t, 'stopper', 'lab')).row, 'row kept');
    spawner.stopFailure = undefined;
    assert.equal((await t.api('DELETE', '/users/stopper/servers/lab', { token: tok, body: { remove: true } })).status, 204);
    assert.equal((await serverRecord(t, 'stopper', 'lab')).row, undefined);
  });
});
