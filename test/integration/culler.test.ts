/**
 * The built-in idle culler in an in-process hub with the real built-in proxy
 * and real server processes (a websocket echo fixture), at short times:
 * timeout 2 s, every 1 s. An idle server is culled; one whose only traffic is
 * websocket frames through the proxy is not; `max_age` culls regardless; users
 * are culled only with `cull.users`; admins are exempt with `admin_users:
 * false`. The culler reads `hub.config.cull` at each round, so the test
 * changes it live as a reload would.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { startCuller, type CullerRunner } from '../../src/services/culler/culler-runner.js';
import { CULLER_SERVICE } from '../../src/services/culler/culler-service.js';
import { cullAt } from '../../src/services/culler/cull-at.js';

const WS_SERVER = fileURLToPath(new URL('../fixtures/ws-echo-server.mjs', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('idle culler (built in)', { timeout: 90_000 }, () => {
  let t: TestHub;
  let culler: CullerRunner;
  const tokens: Record<string, string> = {};
  let ws: WebSocket | undefined;
  let chatter: NodeJS.Timeout | undefined;

  const serverRow = (user: string) =>
    t.hub.db.selectFrom('servers').innerJoin('users', 'users.id', 'servers.user_id').selectAll('servers').select('users.admin').where('users.name', '=', user).where('servers.name', '=', '').executeTakeFirst();
  const running = async (user: string) => (await serverRow(user))?.ready === 1;
  const userExists = async (user: string) => (await t.hub.db.selectFrom('users').select('id').where('name', '=', user).executeTakeFirst()) !== undefined;
  const setCull = (change: Record<string, unknown>) => {
    t.hub.config = { ...t.hub.config, cull: { ...t.hub.config.cull, ...change } };
  };

  before(async () => {
    t = await startTestHub({
      cull: { enabled: true, timeout: 2, every: 1, admin_users: false },
      last_activity_interval: 1,
      spawner: { cmd: [process.execPath, WS_SERVER] },
    });
    for (const name of ['ida', 'ava', 'adm']) {
      tokens[name] = await t.tokenFor(name, { admin: name === 'adm' });
      const r = await t.api('POST', `/users/${name}/server`, { token: tokens[name]! });
      assert.ok([201, 202].includes(r.status), `spawn ${name}: ${r.status} ${r.text}`);
    }
    await waitUntil('three servers ready', async () => (await running('ida')) && (await running('ava')) && (await running('adm')));
    // ava's only traffic: websocket frames through the proxy, one every 300 ms, answered by the server
    ws = new WebSocket(`${t.publicUrl.replace('http', 'ws')}/user/ava/api/kernels/k/channels`);
    await new Promise<void>((resolve, reject) => {
      ws!.once('open', () => resolve());
      ws!.once('error', reject);
    });
    chatter = setInterval(() => ws?.send('ping'), 300);
    culler = startCuller(t.hub);
  });

  after(async () => {
    if (chatter) clearInterval(chatter);
    ws?.terminate();
    await culler?.stop();
    await t?.stop();
  });

  it('stops the idle server, keeps the one with websocket traffic and the exempt admin', async () => {
    await waitUntil('the idle server to be culled', async () => !(await running('ida')));
    // several rounds more (every 1 s, timeout 2 s): still running
    await sleep(3500);
    assert.equal(await running('ava'), true, 'websocket traffic through the proxy counts as activity');
    assert.equal(await running('adm'), true, 'admins are exempt with admin_users: false');
    const ava = await serverRow('ava');
    assert.equal(ava?.last_activity_source, 'proxy');
    assert.ok(Date.now() - Date.parse(ava!.last_activity!) < 2000, `ava's last activity is recent: ${ava?.last_activity}`);
    // the admin page's helper agrees: ava would be culled in the future, the admin never
    const now = new Date();
    assert.ok(cullAt(ava!, { admin: ava!.admin }, t.hub.config.cull, now)!.getTime() > now.getTime());
    const adm = await serverRow('adm');
    assert.equal(cullAt(adm!, { admin: adm!.admin }, t.hub.config.cull, now), null);
    // the culler is a service with a role, not a user; its round tokens are revoked after each round
    assert.equal(await userExists(CULLER_SERVICE), false);
    const svc = await t.hub.db.selectFrom('services').select('id').where('name', '=', CULLER_SERVICE).executeTakeFirstOrThrow();
    const roles = await t.hub.db.selectFrom('service_roles').select('role').where('service_id', '=', svc.id).execute();
    assert.deepEqual(roles.map((r) => r.role), [CULLER_SERVICE]);
  });

  it('users are deleted only with cull.users, and exempt admins never', async () => {
    assert.equal(await userExists('ida'), true, 'without cull.users the idle user stays');
    setCull({ users: true });
    await waitUntil('the idle user to be deleted', async () => !(await userExists('ida')));
    assert.equal(await userExists('ava'), true);
    assert.equal(await userExists('adm'), true);
  });

  it('max_age culls regardless of activity', async () => {
    setCull({ users: false, max_age: 1 });
    await waitUntil('the active server to be culled by max_age', async () => !(await running('ava')));
    assert.equal(await running('adm'), true, 'the admin is still exempt');
    setCull({ admin_users: true });
    await waitUntil("the admin's server to be culled once admins are no longer exempt", async () => !(await running('adm')));
  });

  it('a disabled culler does nothing', async () => {
    await culler.runNow(); // a round in flight ends first
    setCull({ enabled: false });
    assert.equal(await culler.runNow(), undefined);
  });
});
