/**
 * Several proxies: an in-process hub pushes its routes to two built-in
 * proxies through a MultiProxy, and reconciliation repairs each one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { createToken } from '../../src/db/repos/tokens.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { buildHub, type BuiltHub } from '../../src/hub/app.js';
import { proxyApiUrls } from '../../src/hub/proxy-process.js';
import { RECONCILE_CONCURRENCY, reconcileRoutes } from '../../src/hub/reconcile.js';
import { createServer, deleteServer, updateServer } from '../../src/db/repos/servers.js';
import type { Proxy } from '../../src/proxy/proxy.js';
import { startProxy, type RunningProxy } from '../../src/proxy/builtin/server.js';
import { ChpClient } from '../../src/proxy/chp-client.js';
import { MultiProxy } from '../../src/proxy/multi-proxy.js';
import { freePort } from '../../src/lib/free-port.js';
import { ProxyError } from '../../src/lib/errors.js';
import { validateConfig } from '../../src/config/load.js';
import { testHubConfig } from '../helpers/hub.js';

const TOKEN = 'multi-proxy-token';

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('several proxies (MultiProxy)', () => {
  const log = pino({ level: process.env['GANYMEDE_TEST_LOG'] ?? 'silent' });
  let dataDir: string;
  let hubPort: number;
  let proxies: RunningProxy[];
  let clients: ChpClient[];
  let built: BuiltHub;
  let apiToken: string;

  const hubApi = async (method: string, p: string): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`http://127.0.0.1:${hubPort}/hub/api${p}`, { method, headers: { Authorization: `token ${apiToken}` } });
    const text = await res.text();
    return { status: res.status, body: text && (res.headers.get('content-type') ?? '').includes('json') ? (JSON.parse(text) as unknown) : text };
  };
  const through = (p: RunningProxy, url: string): Promise<Response> => fetch(`http://127.0.0.1:${p.publicPort}${url}`, { redirect: 'manual' });

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-multi-'));
    hubPort = await freePort('127.0.0.1');
    proxies = await Promise.all(
      [0, 1].map(() => startProxy({ ip: '127.0.0.1', port: 0, apiIp: '127.0.0.1', apiPort: 0, authToken: TOKEN, defaultTarget: `http://127.0.0.1:${hubPort}`, logger: log })),
    );
    clients = proxies.map((p) => new ChpClient({ apiUrl: `http://127.0.0.1:${p.apiPort}`, authToken: TOKEN }));
    const config = testHubConfig(dataDir, hubPort, { proxy: { check_interval: 0, api_urls: proxies.map((p) => `http://127.0.0.1:${p.apiPort}`) } });
    built = await buildHub({ config, log, proxy: new MultiProxy(clients.map((proxy, i) => ({ name: `proxy ${i + 1}`, proxy })), { log }) });
    await built.app.listen({ host: '127.0.0.1', port: hubPort });
    await reconcileRoutes(built.hub);
    const user = await ensureUser(built.hub.db, 'mia', true);
    apiToken = (await createToken(built.hub.db, user.id, { kind: 'api', scopes: ['inherit'] })).token;
  });

  after(async () => {
    await built.hub.servers.stop(await ensureUser(built.hub.db, 'mia'), '').catch(() => undefined);
    await built.close();
    await Promise.all(proxies.map((p) => p.close()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('reads proxy.api_urls in place of proxy.api_url', () => {
    assert.deepEqual(proxyApiUrls(validateConfig({})), ['http://127.0.0.1:8001']);
    assert.deepEqual(proxyApiUrls(validateConfig({ proxy: { api_urls: ['http://a:1', 'http://b:2'] } })), ['http://a:1', 'http://b:2']);
    assert.deepEqual(validateConfig({}).proxy.api_urls, []);
  });

  it('puts the hub route on every proxy', async () => {
    for (const c of clients) assert.equal((await c.getAllRoutes()).get('/')?.target, `http://127.0.0.1:${hubPort}`);
  });

  it('routes a started server on both proxies, repairs each, and removes the route from both', async () => {
    const started = await hubApi('POST', '/users/mia/server');
    assert.ok(started.status === 201 || started.status === 202, `start answered ${started.status}`);
    await waitFor(async () => ((await hubApi('GET', '/users/mia')).body as { servers?: Record<string, { ready?: boolean }> }).servers?.['']?.ready === true, 'the server to be ready');

    for (const p of proxies) {
      const res = await through(p, '/user/mia/');
      assert.equal(res.status, 200);
      const body = (await res.json()) as { path: string; user: string };
      assert.equal(body.user, 'mia');
      assert.equal(body.path, '/user/mia/');
    }

    // Behind the hub's back: the route disappears from the second proxy only.
    await clients[1]!.deleteRoute('/user/mia/');
    assert.equal((await clients[1]!.getAllRoutes()).has('/user/mia/'), false);
    // Reading through the MultiProxy sees the first proxy's table, which is intact.
    assert.equal((await built.hub.proxy.getAllRoutes()).has('/user/mia/'), true);
    const { added } = await reconcileRoutes(built.hub);
    assert.equal(added, 1);
    assert.equal((await clients[1]!.getAllRoutes()).get('/user/mia/')?.data['user'], 'mia');
    assert.equal((await through(proxies[1]!, '/user/mia/')).status, 200);

    const stopped = await hubApi('DELETE', '/users/mia/server');
    assert.ok(stopped.status === 204 || stopped.status === 202, `stop answered ${stopped.status}`);
    await waitFor(async () => {
      for (const c of clients) if ((await c.getAllRoutes()).has('/user/mia/')) return false;
      return true;
    }, 'the route to leave both proxies');
    for (const p of proxies) {
      const res = await through(p, '/user/mia/');
      await res.body?.cancel();
      assert.notEqual(res.status, 200);
    }
  });

  it('tries every proxy and names the one that failed', async () => {
    const down = new ChpClient({ apiUrl: `http://127.0.0.1:${await freePort('127.0.0.1')}`, authToken: TOKEN, timeoutMs: 2000 });
    const multi = new MultiProxy([{ name: 'good', proxy: clients[0]! }, { name: 'down', proxy: down }]);
    await assert.rejects(multi.addRoute('/probe/', 'http://127.0.0.1:9', { test: true }), (err: Error) => {
      assert.ok(err instanceof ProxyError);
      assert.match(err.message, /1 of 2 proxies/);
      assert.match(err.message, /down: /);
      assert.doesNotMatch(err.message, /good: /);
      return true;
    });
    // The working proxy still got the route; reads fall back past a proxy that is down.
    assert.equal((await clients[0]!.getAllRoutes()).get('/probe/')?.target, 'http://127.0.0.1:9');
    const reversed = new MultiProxy([down, clients[0]!]);
    assert.equal((await reversed.getAllRoutes()).has('/probe/'), true);
    await assert.rejects(reversed.deleteRoute('/probe/'), /proxy 1: /);
    assert.equal((await clients[0]!.getAllRoutes()).has('/probe/'), false);
  });

  it('gives an emptied proxy its routes back, several changes in flight at once', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 200; i++) {
      const user = await ensureUser(built.hub.db, `many${i}`, false);
      const row = await createServer(built.hub.db, user.id, '', 'local-process');
      await updateServer(built.hub.db, row.id, { ready: 1, url: `http://127.0.0.1:9/${i}` });
      ids.push(row.id);
    }
    try {
      // Count the additions in flight on the way to the first proxy.
      let inFlight = 0;
      let most = 0;
      const counting: Proxy = Object.assign(Object.create(clients[0]!) as ChpClient, {
        addRoute: async (spec: string, target: string, data: Record<string, unknown>) => {
          most = Math.max(most, ++inFlight);
          try {
            await clients[0]!.addRoute(spec, target, data);
          } finally {
            inFlight--;
          }
        },
      });
      const { added } = await reconcileRoutes(Object.assign(Object.create(built.hub) as typeof built.hub, { proxy: counting }));
      assert.equal(added, 200);
      assert.ok(most > 1 && most <= RECONCILE_CONCURRENCY, `additions in flight: ${most}`);
      const table = await clients[0]!.getAllRoutes();
      for (let i = 0; i < 200; i++) assert.equal(table.get(`/user/many${i}/`)?.target, `http://127.0.0.1:9/${i}`);
    } finally {
      for (const id of ids) await deleteServer(built.hub.db, id);
      await reconcileRoutes(built.hub);
    }
  });
});
