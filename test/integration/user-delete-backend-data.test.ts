import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { TrivialSpawner } from '../helpers/spawner-doubles.js';
import { getUser } from '../../src/db/repos/users.js';

/** A back-end that keeps data per user (as the Kubernetes one keeps a volume claim with `delete_pvc`). */
class UserDataSpawner extends TrivialSpawner {
  deleted: string[] = [];
  failure: string | undefined;
  deleteUser(user: string, _opts: { log: Logger }): Promise<void> {
    if (this.failure) return Promise.reject(new Error(this.failure));
    this.deleted.push(user);
    return Promise.resolve();
  }
}

/**
 * Deleting a hub user asks each back-end to remove what it keeps for the
 * user across servers (Spawner.deleteUser), after their servers stopped and
 * before the row goes; a back-end that cannot keeps the user, with a 503
 * naming it, so nothing is lost half-way.
 */
describe('deleting a user removes their data on the back-ends', () => {
  let t: TestHub;
  let spawner: UserDataSpawner;
  let admin: string;

  before(async () => {
    spawner = new UserDataSpawner();
    t = await startTestHub({}, { spawner });
    admin = await t.tokenFor('root-admin', { admin: true });
  });
  after(async () => {
    await t.stop();
    await spawner.killAll();
  });

  it('stops the server, then asks the back-end, then deletes the user', async () => {
    const tok = await t.tokenFor('leaver');
    assert.equal((await t.api('POST', '/users/leaver/server', { token: tok })).status, 201);
    assert.equal((await t.api('DELETE', '/users/leaver', { token: admin })).status, 204);
    assert.deepEqual(spawner.deleted, ['leaver']);
    assert.equal(await getUser(t.hub.db, 'leaver'), undefined);
  });

  it('a back-end that cannot delete the data keeps the user and says why', async () => {
    await t.tokenFor('stayer');
    spawner.failure = 'the API server did not answer';
    const r = await t.api('DELETE', '/users/stayer', { token: admin });
    assert.equal(r.status, 503);
    assert.match((r.body as { message: string }).message, /the API server did not answer.*the user is kept/);
    assert.ok(await getUser(t.hub.db, 'stayer'), 'the user is kept');
    spawner.failure = undefined;
    assert.equal((await t.api('DELETE', '/users/stayer', { token: admin })).status, 204);
  });
});
