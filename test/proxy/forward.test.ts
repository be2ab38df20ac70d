import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import type { Echo, Upstream } from './helpers.js';
import { api, freePort, publicUrl, sleep, startTestProxy, startUpstream } from './helpers.js';

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; echo: Echo; text: string; headers: Headers }> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  const text = await res.text();
  let echo = {} as Echo;
  if ((res.headers.get('content-type') ?? '').includes('json')) echo = JSON.parse(text) as Echo;
  return { status: res.status, echo, text, headers: res.headers };
}

describe('HTTP forwarding', () => {
  let proxy: RunningProxy;
  let hub: Upstream;
  let alice: Upstream;
  let base: Upstream;
  before(async () => {
    hub = await startUpstream('hub');
    alice = await startUpstream('alice');
    base = await startUpstream('base');
    proxy = await startTestProxy({ defaultTarget: hub.url });
    await api(proxy, 'POST', '/api/routes/user/alice', { body: { target: alice.url } });
    await api(proxy, 'POST', '/api/routes/user/based', { body: { target: `${base.url}/prefix/` } });
    await api(proxy, 'POST', '/api/routes/user/space%20y', { body: { target: alice.url } });
  });
  after(async () => {
    await proxy.close();
    await Promise.all([hub.close(), alice.close(), base.close()]);
  });

  it('serves the health check', async () => {
    const res = await fetch(publicUrl(proxy, '/_chp_healthz'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'OK' });
  });

  it('routes by longest prefix and keeps the full path and query', async () => {
    const a = await get(publicUrl(proxy, '/user/alice/api/contents?type=notebook&x=%2F'));
    assert.equal(a.status, 200);
    assert.equal(a.echo.name, 'alice');
    assert.equal(a.echo.url, '/user/alice/api/contents?type=notebook&x=%2F');
    assert.equal((await get(publicUrl(proxy, '/user/alice'))).echo.name, 'alice');
    assert.equal((await get(publicUrl(proxy, '/user/alicex/tree'))).echo.name, 'hub');
    assert.equal((await get(publicUrl(proxy, '/hub/login'))).echo.name, 'hub');
  });

  it("prepends the target's own path", async () => {
    const r = await get(publicUrl(proxy, '/user/based/lab?q=1'));
    assert.equal(r.echo.name, 'base');
    assert.equal(r.echo.url, '/prefix/user/based/lab?q=1');
  });

  it('matches URL-encoded request paths against unescaped keys and forwards the raw path', async () => {
    const r = await get(publicUrl(proxy, '/user/space%20y/tree/a%20b'));
    assert.equal(r.echo.name, 'alice');
    assert.equal(r.echo.url, '/user/space%20y/tree/a%20b');
  });

  it('sets X-Forwarded-* headers and keeps Host', async () => {
    const r = await get(publicUrl(proxy, '/user/alice/'), { headers: { 'X-Forwarded-For': '10.1.1.1' } });
    assert.equal(r.echo.headers['host'], `127.0.0.1:${proxy.publicPort}`);
    assert.equal(r.echo.headers['x-forwarded-for'], '10.1.1.1,127.0.0.1');
    assert.equal(r.echo.headers['x-forwarded-proto'], 'http');
    assert.equal(r.echo.headers['x-forwarded-port'], String(proxy.publicPort));
    assert.equal(r.echo.headers['x-forwarded-host'], `127.0.0.1:${proxy.publicPort}`);
  });

  it('streams request and response bodies', async () => {
    const body = 'x'.repeat(3 * 1024 * 1024);
    const r = await get(publicUrl(proxy, '/user/alice/upload'), { method: 'POST', body });
    assert.equal(r.status, 200);
    assert.equal(r.echo.method, 'POST');
    assert.equal(r.echo.body.length, body.length);
  });

  it('passes status codes and headers back', async () => {
    const res = await fetch(publicUrl(proxy, '/user/alice/x'));
    assert.equal(res.headers.get('x-upstream'), 'alice');
    await res.text();
  });

  it('updates last_activity on successful traffic', async () => {
    const before = (await api(proxy, 'GET', '/api/routes/user/alice')).json() as { last_activity: string };
    await sleep(15);
    await get(publicUrl(proxy, '/user/alice/ping'));
    const afterRoute = (await api(proxy, 'GET', '/api/routes/user/alice')).json() as { last_activity: string };
    assert.ok(Date.parse(afterRoute.last_activity) > Date.parse(before.last_activity));
  });
});

describe('HTTP errors', () => {
  it('answers 404 without a matching route, and 503 when the target is down', async () => {
    const proxy = await startTestProxy();
    try {
      const r404 = await fetch(publicUrl(proxy, '/nowhere'));
      assert.equal(r404.status, 404);
      assert.match(await r404.text(), /404/);
      const dead = await freePort();
      await api(proxy, 'POST', '/api/routes/user/dead', { body: { target: `http://127.0.0.1:${dead}` } });
      const r503 = await fetch(publicUrl(proxy, '/user/dead/tree'));
      assert.equal(r503.status, 503);
      assert.match(r503.headers.get('content-type') ?? '', /text\/html/);
      await r503.text();
    } finally {
      await proxy.close();
    }
  });

  it('serves the error target page as CHP does: <error-target>/<code>?url=<path>', async () => {
    const errors = await startUpstream('errors', (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`error page for ${req.url ?? ''}`);
    });
    const proxy = await startTestProxy({ errorTarget: `${errors.url}/hub/error` });
    try {
      const r404 = await fetch(publicUrl(proxy, '/user/bob/tree?a=1'));
      assert.equal(r404.status, 404);
      assert.equal(await r404.text(), `error page for /hub/error/404?url=${encodeURIComponent('/user/bob/tree?a=1')}`);
      const dead = await freePort();
      await api(proxy, 'POST', '/api/routes/user/dead', { body: { target: `http://127.0.0.1:${dead}` } });
      const r503 = await fetch(publicUrl(proxy, '/user/dead/'));
      assert.equal(r503.status, 503);
      assert.equal(await r503.text(), `error page for /hub/error/503?url=${encodeURIComponent('/user/dead/')}`);
    } finally {
      await proxy.close();
      await errors.close();
    }
  });

  it('does not count failed requests as activity, and times out silent targets', async () => {
    const silent = await startUpstream('silent', () => {
      // never answers
    });
    const proxy = await startTestProxy({ timeoutMs: 200 });
    try {
      await api(proxy, 'POST', '/api/routes/slow', { body: { target: silent.url } });
      const before = (await api(proxy, 'GET', '/api/routes/slow')).json() as { last_activity: string };
      const res = await fetch(publicUrl(proxy, '/slow/x'));
      assert.equal(res.status, 503);
      await res.text();
      const afterRoute = (await api(proxy, 'GET', '/api/routes/slow')).json() as { last_activity: string };
      assert.equal(afterRoute.last_activity, before.last_activity);
    } finally {
      await proxy.close();
      await silent.close();
    }
  });

  it('closes gracefully while a request is in flight (drain)', async () => {
    const slow = await startUpstream('slow', (_req, res) => {
      setTimeout(() => res.end('done'), 200);
    });
    const proxy = await startTestProxy();
    try {
      await api(proxy, 'POST', '/api/routes/', { body: { target: slow.url } });
      const pending = new Promise<string>((resolve, reject) => {
        http.get(publicUrl(proxy, '/x'), (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      await sleep(50);
      await proxy.close();
      assert.equal(await pending, 'done');
    } finally {
      await proxy.close();
      await slow.close();
    }
  });
});
