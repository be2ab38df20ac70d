import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { updateServer } from '../../src/db/repos/servers.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { trivialSpawner, type DoubleState } from '../helpers/spawner-doubles.js';
import { assertServerReset, serverRecord } from '../helpers/server-state.js';

/**
 * A hub that dies while it stops a server (the row says `pending: stop`)
 * leaves the server running; the restarted hub finishes that stop instead
 * of re-attaching the server as ready: the user asked for it to go.
 */
describe('a restarted hub finishes an interrupted stop', () => {
  const first = trivialSpawner();
  const second = trivialSpawner();
  let hub1: TestHub;
  let hub2: TestHub | undefined;
  let state: DoubleState;

  before(async () => {
    hub1 = await startTestHub({}, { spawner: first });
    assert.equal((await hub1.api('POST', '/users/stu/server', { token: await hub1.tokenFor('stu') })).status, 201);
    const row = (await serverRecord(hub1, 'stu')).row!;
    state = JSON.parse(row.state) as DoubleState;
    // the stop began (as runStop marks it) and the hub died before the spawner was asked
    await updateServer(hub1.hub.db, row.id, { pending: 'stop', ready: 0, owner: hub1.hub.processId });
    await hub1.detach();
    hub2 = await startTestHub({}, { spawner: second, dataDir: hub1.dataDir, proxyServer: hub1.proxyServer, hubPort: hub1.hubPort, reattach: true });
  });
  after(async () => {
    if (hub2) await hub2.stop();
    else await hub1.stop();
    await first.killAll();
    await second.killAll();
  });

  it('stops the server through its spawner and clears it, route and token included', async () => {
    assert.deepEqual(hub2!.reattached, { kept: 0, cleared: 1, resumed: 0 });
    assert.equal(second.stops.length, 1);
    assert.equal((second.stops[0] as DoubleState).pid, state.pid);
    assert.equal((await second.poll(state)).status, 'stopped', 'the server process still runs');
    await assertServerReset(hub2!, 'stu');
  });
});
