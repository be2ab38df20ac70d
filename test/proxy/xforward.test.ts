import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import type { Echo, Upstream } from './helpers.js';
import { api, startTestProxy, startUpstream } from './helpers.js';

function echoVia(proxy: RunningProxy, headers: Record<string, string>): Promise<Echo> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: proxy.publicPort, path: '/u/x', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(JSON.parse(text) as Echo));
    });
    req.on('error', reject);
  });
}

describe('X-Forwarded-* headers', () => {
  let up: Upstream;
  let proxy: RunningProxy;
  let plain: RunningProxy;
  before(async () => {
    up = await startUpstream('up');
    proxy = await startTestProxy();
    plain = await startTestProxy({ xForward: false });
    for (const p of [proxy, plain]) await api(p, 'POST', '/api/routes/u', { body: { target: up.url } });
  });
  after(async () => {
    await Promise.all([proxy.close(), plain.close()]);
    await up.close();
  });

  it('sends X-Forwarded-Port from the Host header, 80 when it has no port', async () => {
    const a = await echoVia(proxy, { Host: 'hub.example.org:8080' });
    assert.equal(a.headers['x-forwarded-port'], '8080');
    assert.equal(a.headers['x-forwarded-host'], 'hub.example.org:8080');
    assert.equal(a.headers['x-forwarded-proto'], 'http');
    assert.equal(a.headers['x-forwarded-for'], '127.0.0.1');
    const b = await echoVia(proxy, { Host: 'hub.example.org' });
    assert.equal(b.headers['x-forwarded-port'], '80');
  });

  it('appends to the X-Forwarded-Port a client sent', async () => {
    const a = await echoVia(proxy, { Host: 'h:8000', 'X-Forwarded-Port': '443', 'X-Forwarded-Proto': 'https' });
    assert.equal(a.headers['x-forwarded-port'], '443,8000');
    assert.equal(a.headers['x-forwarded-proto'], 'https,http');
  });

  it('appends the Host it received to the X-Forwarded-Host a client sent (the last entry is not the client\'s to forge)', async () => {
    const a = await echoVia(proxy, { Host: 'hub.example.org', 'X-Forwarded-Host': 'evil.example' });
    assert.equal(a.headers['x-forwarded-host'], 'evil.example,hub.example.org');
  });

  it('adds nothing with --no-x-forward', async () => {
    const a = await echoVia(plain, { Host: 'h:8000' });
    for (const name of ['x-forwarded-port', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']) {
      assert.equal(a.headers[name], undefined, name);
    }
  });
});
