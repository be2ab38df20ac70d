/**
 * Issue 9 §3: a way to stop everything. JupyterHub's `POST /hub/api/shutdown`
 * (scope `shutdown`, body `{servers, proxy}`) on the in-process hub.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getServer } from '../../src/db/repos/servers.js';
import { getUser } from '../../src/db/repos/users.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { alive } from '../helpers/process-alive.js';

describe('POST /hub/api/shutdown (issue 9)', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub();
  });
  after(async () => {
    await t.stop();
  });

  it('needs the shutdown scope, and booleans for servers and proxy', async () => {
    const plain = await t.tokenFor('sam');
    let r = await t.api('POST', '/shutdown', { token: plain, body: {} });
    assert.equal(r.status, 403);
    assert.match((r.body as { message: string }).message, /shutdown/);
    const admin = await t.tokenFor('root-admin', { admin: true });
    for (const body of [{ servers: 'yes' }, { proxy: 1 }, { servers: null }]) {
      r = await t.api('POST', '/shutdown', { token: admin, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match((r.body as { message: string }).message, /(servers|proxy) must be true or false/);
    }
    r = await t.api('POST', '/shutdown', { token: admin, rawBody: '[1]' });
    assert.equal(r.status, 400);
  });

  it('answers 202, stops every server, then calls the hub\'s exit', async () => {
    const alice = await t.tokenFor('alice');
    const bob = await t.tokenFor('bob');
    assert.equal((await t.api('POST', '/users/alice/server', { token: alice })).status, 201);
    assert.equal((await t.api('POST', '/users/bob/server', { token: bob })).status, 201);
    const pids: number[] = [];
    for (const name of ['alice', 'bob']) {
      const user = (await getUser(t.hub.db, name))!;
      const row = (await getServer(t.hub.db, user.id, ''))!;
      pids.push((JSON.parse(row.state) as { pid: number }).pid);
    }
    assert.ok(pids.every(alive));
    let exited!: () => void;
    const exit = new Promise<void>((resolve) => (exited = resolve));
    t.hub.exit = () => exited();
    const scoped = await t.tokenFor('operator', { admin: true, scopes: ['shutdown'] });
    const r = await t.api('POST', '/shutdown', { token: scoped, body: { servers: true, proxy: true } });
    assert.equal(r.status, 202);
    assert.deepEqual(r.body, { message: 'Shutting down Hub' });
    await exit;
    for (const pid of pids) assert.ok(!alive(pid), `server process ${pid} stopped`);
    for (const name of ['alice', 'bob']) {
      const user = (await getUser(t.hub.db, name))!;
      const row = (await getServer(t.hub.db, user.id, ''))!;
      assert.equal(row.ready, 0);
      assert.equal(row.url, null);
    }
    const routes = await t.hub.proxy.getAllRoutes();
    assert.ok(![...routes.keys()].some((spec) => spec.includes('/user/')), `no user routes left: ${[...routes.keys()].join(', ')}`);
  });
});
