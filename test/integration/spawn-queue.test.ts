import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { countingSpawner, type CountingSpawner } from '../helpers/spawner-doubles.js';
import { eventually, serverRecord } from '../helpers/server-state.js';
import { queueLength } from '../../src/db/repos/spawn-queue.js';
import { addMembers, createGroup } from '../../src/db/repos/groups.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { Browser } from '../helpers/browser.js';

/**
 * The spawn queue: a start over `concurrent_spawn_limit` waits its turn
 * (FIFO, shown as pending with its position) instead of being refused;
 * beyond `spawn_queue.max_length` or `max_wait`, JupyterHub's 429. Per-user
 * and per-group server limits refuse with 403.
 */

/** Reads a progress stream until an event matches `want` (bounded), then closes its connection. */
function firstEvent(t: TestHub, token: string, user: string, want: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const req = http.get(`${t.hubUrl}/hub/api/users/${user}/server/progress`, { headers: { Authorization: `token ${token}` } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        for (const line of text.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const message = (JSON.parse(line.slice(6)) as { message: string }).message;
          if (!want.test(message)) continue;
          clearTimeout(timer);
          req.destroy();
          return resolve(message);
        }
      });
      res.on('end', () => reject(new Error(`no progress event matching ${want} in ${text}`)));
    });
    req.on('error', () => undefined);
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no progress event matching ${want} within 5 s: ${text}`));
    }, 5000);
  });
}

async function readyCount(t: TestHub): Promise<number> {
  const r = await t.hub.db.selectFrom('servers').select((eb) => eb.fn.countAll<number>().as('n')).where('ready', '=', 1).where('pending', 'is', null).executeTakeFirstOrThrow();
  return Number(r.n);
}

describe('spawn queue', () => {
  const hubs: TestHub[] = [];
  let spawner: CountingSpawner | undefined;
  afterEach(async () => {
    for (const t of hubs.splice(0)) await t.stop();
    await spawner?.close();
    spawner = undefined;
  });

  it('50 spawns at once under a concurrent limit of 5 all end ready, admitted in request order, none refused', async () => {
    spawner = countingSpawner(60);
    const t = await startTestHub({ concurrent_spawn_limit: 5, slow_spawn_timeout: 0 }, { spawner });
    hubs.push(t);
    const names = Array.from({ length: 50 }, (_, i) => `q${String(i).padStart(2, '0')}`);
    const tokens = await Promise.all(names.map((n) => t.tokenFor(n)));
    // the order of admissions: a spawn's first progress event is pushed as it is admitted
    const admitted: number[] = [];
    const push = t.hub.servers.progress.push.bind(t.hub.servers.progress);
    t.hub.servers.progress.push = (id, event) => {
      if (event.message === 'Server requested') admitted.push(id);
      push(id, event);
    };
    // requests one after the other (each answered once its spawn is claimed): the order of the queue is theirs
    for (const [i, n] of names.entries()) {
      const r = await t.api('POST', `/users/${n}/server`, { token: tokens[i]! });
      assert.ok(r.status === 202 || r.status === 201, `${n}: ${r.status} ${r.text}`);
    }
    await eventually(async () => (await readyCount(t)) === 50, 30_000, '50 servers ready');
    assert.ok(spawner.maxInProgress <= 5, `most starts at once: ${spawner.maxInProgress}`);
    const ids = new Map((await t.hub.db.selectFrom('servers').innerJoin('users', 'users.id', 'servers.user_id').select(['servers.id', 'users.name']).execute()).map((r) => [r.id, r.name]));
    assert.deepEqual(
      admitted.map((id) => ids.get(id)),
      names,
      'admission order is request order',
    );
    // the spawner's starts follow closely (the steps between admission and start interleave a little)
    for (const [i, n] of spawner.order.entries()) assert.ok(Math.abs(names.indexOf(n) - i) < 5, `${n} started ${i}th`);
    assert.equal(await queueLength(t.hub.db), 0);
  });

  it('a queued spawn shows as pending with its position, leaves the queue when stopped, and is admitted when a slot frees', async () => {
    spawner = countingSpawner(60_000);
    const t = await startTestHub({ concurrent_spawn_limit: 1, slow_spawn_timeout: 0 }, { spawner });
    hubs.push(t);
    const [a, b, c] = await Promise.all(['s1', 's2', 's3'].map((n) => t.tokenFor(n)));
    assert.equal((await t.api('POST', '/users/s1/server', { token: a! })).status, 202);
    assert.equal((await t.api('POST', '/users/s2/server', { token: b! })).status, 202);
    assert.equal((await t.api('POST', '/users/s3/server', { token: c! })).status, 202);
    const model = (await t.api('GET', '/users/s3', { token: c! })).body as { servers: Record<string, { pending: string | null; ready: boolean }> };
    assert.equal(model.servers['']?.pending, 'spawn');
    assert.equal(model.servers['']?.ready, false);
    assert.match(await firstEvent(t, c!, 's3', /spawn queue/), /^Waiting in the spawn queue: position 2 of 2/);
    // the pending page shows it too
    const browser = new Browser(t.hubUrl);
    assert.equal((await browser.login('s3', 'test-password')).status, 302);
    const page = await browser.get('/hub/spawn-pending/s3');
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<p id="queue" class="muted">Waiting in the spawn queue: position 2 of 2<\/p>/);
    assert.equal(await queueLength(t.hub.db), 2);
    // a stop while queued: out of the queue, the server reset, nothing reached the spawner
    assert.ok([202, 204].includes((await t.api('DELETE', '/users/s2/server', { token: b! })).status));
    await eventually(async () => ((await serverRecord(t, 's2')).row?.pending ?? null) === null, 5000, 's2 reset');
    assert.equal(await queueLength(t.hub.db), 1);
    assert.match(await firstEvent(t, c!, 's3', /position 1 of 1/), /position 1 of 1/);
    assert.deepEqual(spawner.order, ['s1']);
    // the spawn in progress ends (stopped): the next is admitted at once
    assert.ok([202, 204].includes((await t.api('DELETE', '/users/s1/server', { token: a! })).status));
    await eventually(() => spawner!.order.length === 2, 5000, 's3 admitted');
    assert.deepEqual(spawner.order, ['s1', 's3']);
    assert.equal(await queueLength(t.hub.db), 0);
  });

  it('beyond spawn_queue.max_length: 429 with Retry-After and JupyterHub\'s message; the others wait', async () => {
    spawner = countingSpawner(60_000);
    const t = await startTestHub({ concurrent_spawn_limit: 5, slow_spawn_timeout: 0, spawn_queue: { max_length: 10 } }, { spawner });
    hubs.push(t);
    const names = Array.from({ length: 20 }, (_, i) => `b${i}`);
    const tokens = await Promise.all(names.map((n) => t.tokenFor(n)));
    const results = await Promise.all(names.map((n, i) => t.api('POST', `/users/${n}/server`, { token: tokens[i]! })));
    const refused = results.filter((r) => r.status === 429);
    assert.equal(results.filter((r) => r.status === 202).length, 15, results.map((r) => r.status).join(','));
    assert.equal(refused.length, 5);
    for (const r of refused) {
      assert.match((r.body as { message: string }).message, /^Too many users trying to log in right now\. Try again in \d+0 seconds\.$/);
      const retry = Number(r.headers.get('retry-after'));
      assert.ok(retry >= 30 && retry <= 600, `Retry-After ${r.headers.get('retry-after')}`);
    }
    assert.equal(await queueLength(t.hub.db), 10);
    assert.equal(spawner.order.length, 5);
    // a refused first start leaves no server row behind
    const rows = await t.hub.db.selectFrom('servers').select('id').execute();
    assert.equal(rows.length, 15);
  });

  it('beyond spawn_queue.max_wait the spawn fails with the 429 message and the server is reset', async () => {
    spawner = countingSpawner(60_000);
    const t = await startTestHub({ concurrent_spawn_limit: 1, slow_spawn_timeout: 1, spawn_queue: { max_wait: 0.3 } }, { spawner });
    hubs.push(t);
    const [a, b] = await Promise.all(['w1', 'w2'].map((n) => t.tokenFor(n)));
    assert.equal((await t.api('POST', '/users/w1/server', { token: a! })).status, 202);
    // given up before slow_spawn_timeout: the start call itself answers 429, with Retry-After
    const r = await t.api('POST', '/users/w2/server', { token: b! });
    assert.equal(r.status, 429);
    const said = /Try again in (\d+) seconds/.exec((r.body as { message: string }).message);
    assert.equal(r.headers.get('retry-after'), said?.[1]);
    assert.match(await firstEvent(t, b!, 'w2', /failed|Too many/), /Spawn failed: Too many users trying to log in right now\. Try again in \d+0 seconds\./);
    await eventually(async () => ((await serverRecord(t, 'w2')).row?.pending ?? null) === null, 5000, 'w2 reset');
    assert.equal(await queueLength(t.hub.db), 0);
    assert.deepEqual(spawner.order, ['w1']);
  });

  it('a waiting spawn whose queue entry another process removed fails at the next re-check (no endless wait)', async () => {
    spawner = countingSpawner(60_000);
    const t = await startTestHub({ concurrent_spawn_limit: 1, slow_spawn_timeout: 0, spawn_queue: { check_interval: 0.1 } }, { spawner });
    hubs.push(t);
    const [a, b] = await Promise.all(['l1', 'l2'].map((n) => t.tokenFor(n)));
    assert.equal((await t.api('POST', '/users/l1/server', { token: a! })).status, 202);
    assert.equal((await t.api('POST', '/users/l2/server', { token: b! })).status, 202);
    // as another hub's sweep of entries not seen in time: the entry goes and the server is reset
    const user = await ensureUser(t.hub.db, 'l2');
    await t.hub.db.deleteFrom('spawn_queue').execute();
    await t.hub.db.updateTable('servers').set({ pending: null, owner: null }).where('user_id', '=', user.id).execute();
    const id = (await serverRecord(t, 'l2')).row!.id;
    await eventually(() => t.hub.servers.progressOf(id).done, 5000, 'the wait ended');
    assert.match(t.hub.servers.progressOf(id).failure ?? '', /dropped from the queue/);
    assert.deepEqual(spawner.order, ['l1']);
  });

  it('a restarted hub clears the queued spawns the earlier process left', async () => {
    spawner = countingSpawner(60_000);
    const raw = { concurrent_spawn_limit: 1, slow_spawn_timeout: 0 };
    const first = await startTestHub(raw, { spawner });
    const [a, b] = await Promise.all(['r1', 'r2'].map((n) => first.tokenFor(n)));
    assert.equal((await first.api('POST', '/users/r1/server', { token: a! })).status, 202);
    assert.equal((await first.api('POST', '/users/r2/server', { token: b! })).status, 202);
    assert.equal(await queueLength(first.hub.db), 1);
    await first.detach(); // as a killed process: the queue row and the pending servers stay
    const t = await startTestHub(raw, { spawner, dataDir: first.dataDir, proxyServer: first.proxyServer, reattach: true });
    hubs.push(t);
    assert.equal(await queueLength(t.hub.db), 0);
    assert.equal((await serverRecord(t, 'r2')).row?.pending ?? null, null);
    // the queue works on: a new start is admitted at once (r1's interrupted spawn was cleared too)
    assert.equal((await t.api('POST', '/users/r2/server', { token: b! })).status, 202);
    await eventually(() => spawner!.order.length === 2, 5000, 'r2 started');
    assert.deepEqual(spawner.order, ['r1', 'r2']);
  });

  it('server_limit_per_user and server_limit_per_group (the largest of a user\'s groups) refuse with 403', async () => {
    spawner = countingSpawner(0);
    const t = await startTestHub({ allow_named_servers: true, server_limit_per_user: 1, server_limit_per_group: { big: 3, small: 2 } }, { spawner });
    hubs.push(t);
    const solo = await t.tokenFor('solo');
    assert.equal((await t.api('POST', '/users/solo/server', { token: solo })).status, 201);
    const r = await t.api('POST', '/users/solo/servers/two', { token: solo });
    assert.equal(r.status, 403);
    assert.equal((r.body as { message: string }).message, 'User solo already has 1 servers running or starting, the limit per user. Stop one before starting another.');
    assert.equal((await serverRecord(t, 'solo', 'two')).row, undefined, 'no row left for the refused named server');
    const member = await t.tokenFor('member');
    const user = await ensureUser(t.hub.db, 'member');
    for (const g of ['big', 'small']) await addMembers(t.hub.db, (await createGroup(t.hub.db, g)).id, [user.id]);
    for (const s of ['n1', 'n2']) assert.equal((await t.api('POST', `/users/member/servers/${s}`, { token: member })).status, 201);
    assert.equal((await t.api('POST', '/users/member/server', { token: member })).status, 201);
    const over = await t.api('POST', '/users/member/servers/n4', { token: member });
    assert.equal(over.status, 403);
    assert.match((over.body as { message: string }).message, /already has 3 servers running or starting, the limit of group "big"/);
    // stopping one makes room
    assert.equal((await t.api('DELETE', '/users/member/servers/n1', { token: member })).status, 204);
    assert.equal((await t.api('POST', '/users/member/servers/n4', { token: member })).status, 201);
  });
});
