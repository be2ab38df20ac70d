import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ProxyError } from '../../src/lib/errors.js';
import { ChpClient, chpKeyToRoutespec, quoteRequestPath, routespecToChpPath } from '../../src/proxy/chp-client.js';
import type { Upstream } from './helpers.js';
import { freePort, startTestProxy, startUpstream, waitFor } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHP_BIN = join(ROOT, 'node_modules/.bin/configurable-http-proxy');
const TOKEN = 'client-test-token-0123456789';

interface Target {
  apiUrl: string;
  publicUrl: string;
  stop(): Promise<void>;
}

async function ourProxy(): Promise<Target> {
  const proxy = await startTestProxy({ authToken: TOKEN });
  return {
    apiUrl: `http://127.0.0.1:${proxy.apiPort}`,
    publicUrl: `http://127.0.0.1:${proxy.publicPort}`,
    stop: () => proxy.close(),
  };
}

async function realChp(): Promise<Target> {
  const port = await freePort();
  const apiPort = await freePort();
  const proc = spawn(CHP_BIN, ['--ip', '127.0.0.1', '--port', String(port), '--api-ip', '127.0.0.1', '--api-port', String(apiPort), '--log-level', 'error'], {
    env: { ...process.env, CONFIGPROXY_AUTH_TOKEN: TOKEN },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await waitFor(async () => {
    const res = await fetch(`${apiUrl}/api/routes`, { headers: { Authorization: `token ${TOKEN}` } });
    return res.status === 200;
  }, 15_000, 'configurable-http-proxy API');
  return {
    apiUrl,
    publicUrl: `http://127.0.0.1:${port}`,
    stop: async () => {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

describe('route spec conversions', () => {
  it('maps route specs to CHP paths and back like JupyterHub', () => {
    assert.equal(routespecToChpPath('/user/alice/'), '/user/alice');
    assert.equal(routespecToChpPath('/'), '/');
    assert.equal(routespecToChpPath('user/x'), '/user/x');
    assert.equal(chpKeyToRoutespec('/user/alice'), '/user/alice/');
    assert.equal(chpKeyToRoutespec('/'), '/');
    assert.equal(chpKeyToRoutespec('/user/a b@c~d(e)'), '/user/a%20b@c~d%28e%29/');
    assert.equal(quoteRequestPath('/user/a%20b c?#'), '/user/a%20b%20c%3F%23');
    assert.equal(quoteRequestPath('/user/100%'), '/user/100%25');
  });
});

function clientSuite(name: string, start: () => Promise<Target>): void {
  describe(`ChpClient against ${name}`, () => {
    let target: Target;
    let upstream: Upstream;
    let client: ChpClient;
    before(async () => {
      upstream = await startUpstream('alice');
      target = await start();
      client = new ChpClient({ apiUrl: `${target.apiUrl}/`, authToken: TOKEN, timeoutMs: 5000 });
    });
    after(async () => {
      await target.stop();
      await upstream.close();
    });

    it('adds routes and reads them back keyed by route spec', async () => {
      const before = Date.now();
      await client.addRoute('/user/alice/', upstream.url, { jupyterhub: true, user: 'alice', server_name: '' });
      await client.addRoute('/', upstream.url, { hub: true });
      const routes = await client.getAllRoutes();
      const alice = routes.get('/user/alice/');
      assert.ok(alice, [...routes.keys()].join());
      assert.equal(alice.routespec, '/user/alice/');
      assert.equal(alice.target, upstream.url);
      assert.deepEqual(alice.data, { jupyterhub: true, user: 'alice', server_name: '' });
      assert.ok(alice.lastActivity instanceof Date);
      assert.ok(alice.lastActivity.getTime() >= before - 1000);
      assert.deepEqual(routes.get('/')?.data, { hub: true });
      assert.equal((await client.getRoute('/user/alice/'))?.target, upstream.url);
      assert.equal(await client.getRoute('/user/nobody/'), undefined);
    });

    it('routes traffic for an added route', async () => {
      const res = await fetch(`${target.publicUrl}/user/alice/api/status`);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { url: string }).url, '/user/alice/api/status');
    });

    it('round-trips URL-quoted route specs', async () => {
      await client.addRoute('/user/a%20b@c/', upstream.url, { user: 'a b@c' });
      const routes = await client.getAllRoutes();
      assert.ok(routes.has('/user/a%20b@c/'), [...routes.keys()].join());
      const res = await fetch(`${target.publicUrl}/user/a%20b@c/tree`);
      assert.equal(res.status, 200);
      await res.text();
      await client.deleteRoute('/user/a%20b@c/');
      assert.equal((await client.getAllRoutes()).has('/user/a%20b@c/'), false);
    });

    it('replaces a route, and deletes idempotently', async () => {
      await client.addRoute('/user/alice/', 'http://127.0.0.1:1', { user: 'alice2' });
      assert.equal((await client.getAllRoutes()).get('/user/alice/')?.data['user'], 'alice2');
      await client.deleteRoute('/user/alice/');
      await client.deleteRoute('/user/alice/');
      assert.equal((await client.getAllRoutes()).has('/user/alice/'), false);
    });

    it('throws ProxyError on a wrong token, without the token in the message', async () => {
      const bad = new ChpClient({ apiUrl: target.apiUrl, authToken: 'wrong-token-value' });
      await assert.rejects(bad.getAllRoutes(), (err: unknown) => {
        assert.ok(err instanceof ProxyError);
        assert.match(err.message, /403/);
        assert.ok(!err.message.includes('wrong-token-value') && !err.message.includes(TOKEN));
        return true;
      });
      await assert.rejects(bad.addRoute('/x/', 'http://127.0.0.1:1', {}), ProxyError);
    });
  });
}

clientSuite('the built-in proxy', ourProxy);
if (existsSync(CHP_BIN)) clientSuite('configurable-http-proxy', realChp);
else describe('ChpClient against configurable-http-proxy', () => it.skip('node_modules/.bin/configurable-http-proxy not installed'));

describe('ChpClient errors', () => {
  it('throws ProxyError when the proxy is unreachable', async () => {
    const port = await freePort();
    const client = new ChpClient({ apiUrl: `http://127.0.0.1:${port}`, authToken: TOKEN, timeoutMs: 2000 });
    await assert.rejects(client.deleteRoute('/user/x/'), (err: unknown) => {
      assert.ok(err instanceof ProxyError);
      assert.match(err.message, /cannot reach the proxy.*ECONNREFUSED/);
      assert.ok(!err.message.includes(TOKEN));
      return true;
    });
  });
});
