import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import { hostName } from '../../src/proxy/builtin/forward.js';
import type { Echo, Upstream } from './helpers.js';
import { api, startTestProxy, startUpstream } from './helpers.js';

/** GET through the proxy with a chosen Host header (fetch does not allow setting it). */
function getWithHost(proxy: RunningProxy, host: string, path: string): Promise<{ status: number; echo: Echo | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: proxy.publicPort, path, headers: { Host: host }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const json = (res.headers['content-type'] ?? '').includes('json');
        resolve({ status: res.statusCode ?? 0, echo: json ? (JSON.parse(text) as Echo) : undefined });
      });
    });
    req.on('error', reject);
  });
}

describe('host routing', () => {
  let proxy: RunningProxy;
  let hub: Upstream;
  let alice: Upstream;
  let bob: Upstream;
  before(async () => {
    [hub, alice, bob] = await Promise.all([startUpstream('hub'), startUpstream('alice'), startUpstream('bob')]);
    proxy = await startTestProxy({ hostRouting: true, defaultTarget: hub.url });
    await api(proxy, 'POST', '/api/routes/alice.hub.example.org', { body: { target: alice.url } });
    await api(proxy, 'POST', '/api/routes/bob.hub.example.org/user/bob', { body: { target: bob.url } });
  });
  after(async () => {
    await proxy.close();
    await Promise.all([hub.close(), alice.close(), bob.close()]);
  });

  it('matches the Host header (port stripped, any case) plus the path', async () => {
    const a = await getWithHost(proxy, 'Alice.Hub.Example.org:8443', '/lab/tree?x=1');
    assert.equal(a.echo?.name, 'alice');
    assert.equal(a.echo?.url, '/lab/tree?x=1', 'the host is not part of the forwarded path');
    assert.equal(a.echo?.headers.host, 'Alice.Hub.Example.org:8443', 'Host is passed through');
    assert.equal((await getWithHost(proxy, 'bob.hub.example.org', '/user/bob/api')).echo?.name, 'bob');
    assert.equal((await getWithHost(proxy, 'bob.hub.example.org', '/hub/home')).echo?.name, 'hub');
  });

  it('falls back to the / route for other hosts, and ignores path-only matches', async () => {
    assert.equal((await getWithHost(proxy, 'other.example.org', '/alice.hub.example.org/x')).echo?.name, 'hub');
    assert.equal((await getWithHost(proxy, '127.0.0.1', '/')).echo?.name, 'hub');
  });

  it('parses host names', () => {
    assert.equal(hostName('A.example.org:80'), 'a.example.org');
    assert.equal(hostName('[::1]:8000'), '::1');
    assert.equal(hostName(undefined), '');
  });
});

describe('without host routing', () => {
  it('treats the first segment as a path', async () => {
    const up = await startUpstream('up');
    const proxy = await startTestProxy();
    try {
      await api(proxy, 'POST', '/api/routes/alice.hub.example.org', { body: { target: up.url } });
      assert.equal((await getWithHost(proxy, 'alice.hub.example.org', '/x')).status, 404);
      assert.equal((await getWithHost(proxy, 'x', '/alice.hub.example.org/x')).echo?.name, 'up');
    } finally {
      await proxy.close();
      await up.close();
    }
  });
});
