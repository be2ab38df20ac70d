/**
 * Issue 9 §2: a reconciliation of the proxy's routing table must not remove
 * the route of a server that is being started (the spawn adds the route before
 * it marks the server ready), nor a route added while it runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { getServer } from '../../src/db/repos/servers.js';
import { reconcileRoutes } from '../../src/hub/reconcile.js';
import type { Proxy } from '../../src/proxy/proxy.js';
import type { Spawner, SpawnerState, SpawnRequest, StartResult } from '../../src/spawners/spawner.js';
import { SpawnerBackends } from '../../src/spawners/backends.js';

/** A gate a test opens when it wants the code waiting on it to go on. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** A spawner whose start waits for `startGate` (when set), then runs a real HTTP server on 127.0.0.1. */
class GatedSpawner implements Spawner {
  readonly kind = 'gated-test';
  startGate: Promise<void> | undefined;
  private readonly servers = new Map<number, http.Server>();

  async start(_req: SpawnRequest): Promise<StartResult> {
    if (this.startGate) await this.startGate;
    const server = http.createServer((_q, res) => res.end('{}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    this.servers.set(port, server);
    return { url: `http://127.0.0.1:${port}`, state: { v: 1, port } };
  }

  async poll(state: SpawnerState): Promise<{ status: 'running' } | { status: 'stopped' }> {
    return this.servers.has(state['port'] as number) ? { status: 'running' } : { status: 'stopped' };
  }

  async stop(state: SpawnerState): Promise<void> {
    const server = this.servers.get(state['port'] as number);
    this.servers.delete(state['port'] as number);
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The real proxy client, with optional pauses after addRoute and before getAllRoutes. */
class PausingProxy implements Proxy {
  afterAdd: ((spec: string) => Promise<void>) | undefined;
  beforeRead: (() => Promise<void>) | undefined;
  constructor(private readonly real: Proxy) {}
  async addRoute(spec: string, target: string, data: Record<string, unknown>): Promise<void> {
    await this.real.addRoute(spec, target, data);
    if (this.afterAdd) await this.afterAdd(spec);
  }
  deleteRoute(spec: string): Promise<void> {
    return this.real.deleteRoute(spec);
  }
  async getAllRoutes(): ReturnType<Proxy['getAllRoutes']> {
    if (this.beforeRead) await this.beforeRead();
    return this.real.getAllRoutes();
  }
}

describe('reconciliation keeps the routes of servers being started', () => {
  let t: TestHub;
  let realProxy: Proxy;
  let proxy: PausingProxy;
  let spawner: GatedSpawner;

  before(async () => {
    t = await startTestHub();
    realProxy = t.hub.proxy;
    proxy = new PausingProxy(realProxy);
    spawner = new GatedSpawner();
    t.hub.proxy = proxy;
    t.hub.spawners = SpawnerBackends.single(spawner);
  });
  after(async () => {
    proxy.afterAdd = undefined;
    proxy.beforeRead = undefined;
    spawner.startGate = undefined;
    await t.stop();
  });

  it('a reconciliation between the spawn adding the route and marking the server ready keeps the route', async () => {
    const user = await ensureUser(t.hub.db, 'between');
    const added = gate();
    const ready = gate();
    proxy.afterAdd = async () => {
      added.open();
      await ready.wait;
    };
    const { done } = await t.hub.servers.requestSpawn(user, '', {});
    await added.wait;
    const row = await getServer(t.hub.db, user.id, '');
    assert.equal(row?.pending, 'spawn', 'the server is still starting');
    await reconcileRoutes(t.hub);
    assert.ok((await realProxy.getAllRoutes()).has('/user/between/'), 'the fresh route survived the reconciliation');
    proxy.afterAdd = undefined;
    ready.open();
    await done;
    assert.equal((await getServer(t.hub.db, user.id, ''))?.ready, 1);
    assert.ok((await realProxy.getAllRoutes()).has('/user/between/'));
    const through = await fetch(`${t.publicUrl}/user/between/api`, { redirect: 'manual' });
    assert.equal(through.status, 200, 'the new server is reachable through the proxy');
    await through.text();
  });

  it('a route added while a reconciliation runs is not removed by it', async () => {
    const user = await ensureUser(t.hub.db, 'during');
    const started = gate();
    spawner.startGate = started.wait;
    const { done } = await t.hub.servers.requestSpawn(user, '', {});
    // the reconciliation starts while the server is pending without a url...
    const read = gate();
    let reading!: () => void;
    const readStarted = new Promise<void>((resolve) => (reading = resolve));
    proxy.beforeRead = async () => {
      reading();
      await read.wait;
    };
    const reconciling = reconcileRoutes(t.hub);
    await readStarted;
    // ...and the spawn finishes (route added, server ready) before it reads the routing table
    started.open();
    await done;
    spawner.startGate = undefined;
    assert.equal((await getServer(t.hub.db, user.id, ''))?.ready, 1);
    proxy.beforeRead = undefined;
    read.open();
    await reconciling;
    assert.ok((await realProxy.getAllRoutes()).has('/user/during/'), 'the route added during the reconciliation is still there');
  });

  it('still removes the route of a server that is neither ready nor starting', async () => {
    await realProxy.addRoute('/user/nobody/', 'http://127.0.0.1:9', { jupyterhub: true, user: 'nobody', server_name: '' });
    const { removed } = await reconcileRoutes(t.hub);
    assert.ok(removed >= 1);
    assert.ok(!(await realProxy.getAllRoutes()).has('/user/nobody/'));
  });
});
