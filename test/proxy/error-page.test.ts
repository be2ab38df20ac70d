import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hubLinkFor } from '../../src/proxy/builtin/error-page.js';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import type { Upstream } from './helpers.js';
import { api, freePort, publicUrl, startTestProxy, startUpstream } from './helpers.js';

describe('error page for user servers', () => {
  let deadUrl: string;
  let proxy: RunningProxy;
  before(async () => {
    deadUrl = `http://127.0.0.1:${await freePort()}`;
    proxy = await startTestProxy();
    await api(proxy, 'POST', '/api/routes/user/a&b', { body: { target: deadUrl, user: 'a&b', server_name: '' } });
    await api(proxy, 'POST', '/api/routes/services/x', { body: { target: deadUrl } });
  });
  after(() => proxy.close());

  it('answers 503 with a page linking back to the hub (host-relative)', async () => {
    const res = await fetch(publicUrl(proxy, '/user/a&b/lab'));
    assert.equal(res.status, 503);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const html = await res.text();
    assert.match(html, /not running/);
    assert.ok(html.includes('href="/hub/user/a%26b/"'), html);
    assert.ok(html.includes('<b>a&#38;b</b>'), 'the user name is escaped');
  });

  it('keeps the plain 503 page for routes without a user', async () => {
    const res = await fetch(publicUrl(proxy, '/services/x/'));
    assert.equal(res.status, 503);
    assert.doesNotMatch(await res.text(), /\/hub\/user\//);
  });
});

describe('hub link of the user page', () => {
  it("keeps the hub's base_url and the server name, and leaves out the host under host routing", () => {
    assert.equal(hubLinkFor('/user/alice', 'alice', false), '/hub/user/alice/');
    assert.equal(hubLinkFor('/jupyter/user/alice', 'alice', false), '/jupyter/hub/user/alice/');
    assert.equal(hubLinkFor('/jupyter/user/alice/gpu box', 'alice', false), '/jupyter/hub/user/alice/gpu%20box/');
    assert.equal(hubLinkFor('/alice.hub.example.org/user/alice', 'alice', true), '/hub/user/alice/');
    assert.equal(hubLinkFor('/user/alice2', 'alice', false), '/hub/user/alice/', 'no match: the default link');
    assert.equal(hubLinkFor('/user/a&b', 'a&b', false), '/hub/user/a%26b/');
  });
});

describe('error page with an error target', () => {
  let errors: Upstream;
  let proxy: RunningProxy;
  let broken: RunningProxy;
  before(async () => {
    const deadUrl = `http://127.0.0.1:${await freePort()}`;
    errors = await startUpstream('errors', (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`custom ${req.url ?? ''}`);
    });
    proxy = await startTestProxy({ errorTarget: `${errors.url}/hub/error` });
    broken = await startTestProxy({ errorTarget: deadUrl });
    for (const p of [proxy, broken]) {
      await api(p, 'POST', '/api/routes/user/alice', { body: { target: deadUrl, user: 'alice' } });
    }
  });
  after(async () => {
    await Promise.all([proxy.close(), broken.close()]);
    await errors.close();
  });

  it("serves the error target's page, as CHP", async () => {
    const res = await fetch(publicUrl(proxy, '/user/alice/tree?x=1'));
    assert.equal(res.status, 503);
    assert.equal(await res.text(), `custom /hub/error/503?url=${encodeURIComponent('/user/alice/tree?x=1')}`);
  });

  it('falls back to the user page when the error target is down', async () => {
    const res = await fetch(publicUrl(broken, '/user/alice/tree'));
    assert.equal(res.status, 503);
    assert.ok((await res.text()).includes('href="/hub/user/alice/"'));
  });
});
