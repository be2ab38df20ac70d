import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { badSpawner, trivialSpawner, type BadSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';
import { assertServerReset, eventually, progressEvents, serverRecord } from '../helpers/server-state.js';
import { Browser } from '../helpers/browser.js';
import { getUser } from '../../src/db/repos/users.js';

/**
 * A spawner that fails: as JupyterHub does, the start request is answered with
 * the error (500 with the spawner's message) when it fails within
 * slow_spawn_timeout, the progress stream ends with a `failed` event carrying
 * the message, and the server row, its tokens, OAuth client and route are
 * reset, so a new start is possible.
 */
describe('a failing spawner', () => {
  describe('failing with a status of its own', () => {
    for (const status of [400, 502, 503]) {
      it(`answers the start request with the spawner error's ${status}, not a blanket 500`, async () => {
        const spawner = badSpawner({ message: `scheduler says ${status}`, status });
        const t = await startTestHub({}, { spawner });
        try {
          const tok = await t.tokenFor('gina');
          const r = await t.api('POST', '/users/gina/server', { token: tok });
          assert.equal(r.status, status);
          assert.match((r.body as { message: string }).message, new RegExp(`scheduler says ${status}`));
          // the server is reset, so a new start is possible
          await assertServerReset(t, 'gina');
        } finally {
          await t.stop();
          await spawner.killAll();
        }
      });
    }
  });

  describe('failing at once', () => {
    let t: TestHub;
    let spawner: BadSpawner;
    before(async () => {
      spawner = badSpawner({ message: 'no nodes left in partition gpu' });
      t = await startTestHub({}, { spawner });
    });
    after(async () => {
      await t.stop();
      await spawner.killAll();
    });

    it('answers the start request with a 500 naming the spawner error', async () => {
      const tok = await t.tokenFor('fiona');
      const r = await t.api('POST', '/users/fiona/server', { token: tok });
      assert.equal(r.status, 500);
      assert.match((r.body as { message: string }).message, /no nodes left in partition gpu/);
    });

    it('ends the progress stream with a failed event carrying the message', async () => {
      const tok = await t.tokenFor('fiona');
      const events = await progressEvents(t, tok, 'fiona');
      const last = events.at(-1)!;
      assert.equal(last.failed, true);
      assert.match(last.message, /no nodes left in partition gpu/);
    });

    it('resets the row and revokes the server token and OAuth client', async () => {
      await assertServerReset(t, 'fiona');
      const tok = await t.tokenFor('fiona');
      const model = (await t.api('GET', '/users/fiona', { token: tok })).body as { server: unknown; servers: object; pending: unknown };
      assert.equal(model.server, null);
      assert.equal(model.pending, null);
      assert.deepEqual(model.servers, {});
    });

    it('shows the message to a user who started from the spawn page', async () => {
      const b = new Browser(t.hubUrl);
      assert.equal((await b.login('iris', 'test-password')).status, 302);
      const spawn = await b.get('/hub/spawn');
      assert.equal(spawn.status, 302);
      const pendingUrl = spawn.headers.get('location')!;
      await eventually(async () => (await serverRecord(t, 'iris')).row?.pending === null, 5000, 'the failed spawn ended');
      const page = await b.get(pendingUrl);
      assert.match(await page.text(), /no nodes left in partition gpu/);
      await assertServerReset(t, 'iris');
    });

    it('lets the user try again (another 500, not "already pending")', async () => {
      const tok = await t.tokenFor('fiona');
      const r = await t.api('POST', '/users/fiona/server', { token: tok });
      assert.equal(r.status, 500);
      assert.equal(spawner.calls.length, 3);
    });
  });

  describe('failing after its process started', () => {
    let t: TestHub;
    let spawner: BadSpawner;
    before(async () => {
      spawner = badSpawner({ message: 'health check failed', afterLaunch: true });
      t = await startTestHub({}, { spawner });
    });
    after(async () => {
      await t.stop();
      await spawner.killAll();
    });

    it('stops the process the spawner started, then resets the server', async () => {
      const tok = await t.tokenFor('gwen');
      const r = await t.api('POST', '/users/gwen/server', { token: tok });
      assert.equal(r.status, 500);
      assert.match((r.body as { message: string }).message, /health check failed/);
      assert.equal(spawner.calls[0]!.outcome, 'rejected');
      assert.equal(spawner.started.length, 1);
      assert.equal((await spawner.poll(spawner.started[0]!)).status, 'stopped', 'the failed server process is still running');
      await assertServerReset(t, 'gwen');
    });
  });

  describe('failing after slow_spawn_timeout', () => {
    let t: TestHub;
    let spawner: BadSpawner;
    before(async () => {
      spawner = badSpawner({ message: 'image pull failed', delayMs: 800 });
      t = await startTestHub({ slow_spawn_timeout: 0.2 }, { spawner });
    });
    after(async () => {
      await t.stop();
      await spawner.killAll();
    });

    it('answers 202, then the progress stream reports the failure and the row is reset', async () => {
      const tok = await t.tokenFor('hana');
      const r = await t.api('POST', '/users/hana/server', { token: tok });
      assert.equal(r.status, 202);
      const pending = (await t.api('GET', '/users/hana', { token: tok })).body as { pending: string | null };
      assert.equal(pending.pending, 'spawn');
      const events = await progressEvents(t, tok, 'hana');
      assert.equal(events.at(-1)!.failed, true);
      assert.match(events.at(-1)!.message, /image pull failed/);
      await assertServerReset(t, 'hana');
    });
  });

  describe('the proxy failing to add the route', () => {
    let t: TestHub;
    let spawner: TrivialSpawner;
    before(async () => {
      spawner = trivialSpawner();
      t = await startTestHub({}, { spawner });
    });
    after(async () => {
      await t.stop().catch(() => undefined);
      await spawner.killAll();
    });

    it('stops the server that started and resets it, with a message naming the proxy', async () => {
      const tok = await t.tokenFor('kira');
      await t.proxyServer.close();
      const r = await t.api('POST', '/users/kira/server', { token: tok });
      assert.equal(r.status, 502); // the proxy's failure (ProxyError), not a blanket 500
      assert.match((r.body as { message: string }).message, /proxy/i);
      assert.equal(spawner.started.length, 1);
      assert.equal((await spawner.poll(spawner.started[0]!)).status, 'stopped', 'the server process is still running');
      // (the proxy is down: read the row itself)
      const row = await t.hub.db.selectFrom('servers').selectAll().where('name', '=', '').where('user_id', '=', (await getUser(t.hub.db, 'kira'))!.id).executeTakeFirstOrThrow();
      assert.equal(row.ready, 0);
      assert.equal(row.pending, null);
      assert.equal(row.state, '{}');
    });
  });
});
