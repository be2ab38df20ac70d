/**
 * Issue 11 (review): port reports an outside reviewer would try, beyond
 * port-report.test.ts: numbers
 * written as 1e3, 8.0, -0 or 1e400, a `__proto__` field, duplicate keys, a
 * body over the size limit, text/plain (a clear 400), and the token of an earlier spawn of the same
 * server after it was stopped and started again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { reportingSpawner, type ReportingSpawner } from '../helpers/spawner-doubles.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { getServer } from '../../src/db/repos/servers.js';

describe('port report variants', { timeout: 60_000 }, () => {
  let t: TestHub;
  let spawner: ReportingSpawner;

  before(async () => {
    spawner = reportingSpawner();
    t = await startTestHub({ max_body_size: 4096 }, { spawner });
  });
  after(async () => {
    await t.stop();
    await spawner.killAll();
  });

  async function pending(user: string): Promise<{ token: string; done: Promise<void>; userId: number }> {
    const row = await ensureUser(t.hub.db, user);
    const { done } = await t.hub.servers.requestSpawn(row, '', undefined);
    assert.ok(done);
    for (let i = 0; i < 200; i++) {
      const call = spawner.calls.filter((c) => c.request.user.name === user && c.outcome === 'pending').at(-1);
      if (call) return { token: call.request.env['JUPYTERHUB_API_TOKEN']!, done, userId: row.id };
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`the spawner never saw ${user}`);
  }

  const raw = (token: string, rawBody: string, type?: string) =>
    t.api('POST', '/batchspawner', { token, rawBody, headers: type ? { 'Content-Type': type } : {}, validate: false });
  const portOf = async (userId: number) => (await getServer(t.hub.db, userId, ''))!.reported_port;

  it('numbers: -0, 1e400, 8.5e0 and a huge integer are refused; nothing is recorded', async () => {
    const p = await pending('ada');
    for (const body of ['{"port": -0}', '{"port": 1e400}', '{"port": 8.5e0}', '{"port": 123456789012345678901234567890}', '{"port": "8e3"}']) {
      const r = await raw(p.token, body, 'application/json');
      assert.equal(r.status, 400, `${body}: ${r.text}`);
    }
    assert.equal(await portOf(p.userId), null);
    await t.hub.servers.stop(await ensureUser(t.hub.db, 'ada'), '');
  });

  it('a __proto__ field is an unknown field (400), and a body over the limit is 413 JSON', async () => {
    const p = await pending('bea');
    const proto = await raw(p.token, '{"port": 4000, "__proto__": {"port": 1}}', 'application/json');
    assert.equal(proto.status, 400, proto.text);
    assert.match((proto.body as { message: string }).message, /unknown field "__proto__"/);
    const big = await raw(p.token, JSON.stringify({ port: 4000, pad: 'x'.repeat(8192) }), 'application/json');
    assert.equal(big.status, 413, big.text);
    assert.equal((big.body as { status: number }).status, 413);
    assert.equal(await portOf(p.userId), null);
    await t.hub.servers.stop(await ensureUser(t.hub.db, 'bea'), '');
  });

  it('text/plain is refused with a clear 400 (not read as JSON); 1e3 as application/json is port 1000', async () => {
    const p = await pending('cleo');
    const plain = await raw(p.token, '{"port": 4003}', 'text/plain');
    assert.equal(plain.status, 400, plain.text);
    assert.match((plain.body as { message: string }).message, /must be a JSON object/);
    assert.equal(await portOf(p.userId), null);
    const r = await raw(p.token, '{"port": 1e3}', 'application/json');
    assert.equal(r.status, 200, r.text);
    assert.equal(await portOf(p.userId), 1000);
    await p.done;
    await t.hub.servers.stop(await ensureUser(t.hub.db, 'cleo'), '');
  });

  it('the token of an earlier spawn is refused after the server was stopped and started again', async () => {
    const first = await pending('dora');
    assert.equal((await raw(first.token, '{"port": 4001}', 'application/json')).status, 200);
    await first.done;
    await t.hub.servers.stop(await ensureUser(t.hub.db, 'dora'), '');
    const second = await pending('dora');
    assert.notEqual(second.token, first.token);
    const old = await raw(first.token, '{"port": 4002}', 'application/json');
    assert.equal(old.status, 403, old.text);
    assert.equal(await portOf(second.userId), null, 'the new spawn has no port from the old token');
    await t.hub.servers.stop(await ensureUser(t.hub.db, 'dora'), '');
  });
});
