import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import { api, sleep, startTestProxy } from './helpers.js';

const TOKEN = 'secret-token-123';

describe('proxy REST API', () => {
  let proxy: RunningProxy;
  before(async () => {
    proxy = await startTestProxy({ authToken: TOKEN });
  });
  after(() => proxy.close());

  it('requires "Authorization: token <t>" and answers 403 with an empty body otherwise', async () => {
    for (const authorization of [undefined, `Bearer ${TOKEN}`, 'token wrong', `Token ${TOKEN}`, `token ${TOKEN} extra`]) {
      const res = await api(proxy, 'GET', '/api/routes', authorization === undefined ? {} : { authorization });
      assert.equal(res.status, 403, `Authorization: ${authorization}`);
      assert.equal(res.text, '');
    }
    const ok = await api(proxy, 'GET', '/api/routes', { token: TOKEN });
    assert.equal(ok.status, 200);
    const post = await api(proxy, 'POST', '/api/routes/x', { body: { target: 'http://127.0.0.1:1' } });
    assert.equal(post.status, 403);
    const del = await api(proxy, 'DELETE', '/api/routes/x', { authorization: `Bearer ${TOKEN}` });
    assert.equal(del.status, 403);
  });

  it('answers GET /health without auth', async () => {
    const res = await api(proxy, 'GET', '/health');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  it('round-trips route data and sets last_activity', async () => {
    const data = { target: 'http://127.0.0.1:9999', jupyterhub: true, user: 'alice', server_name: '', nested: { a: [1, 2] } };
    const before = Date.now();
    const post = await api(proxy, 'POST', '/api/routes/user/alice', { body: data, token: TOKEN });
    assert.equal(post.status, 201);
    assert.equal(post.text, '');

    const one = await api(proxy, 'GET', '/api/routes/user/alice/', { token: TOKEN });
    assert.equal(one.status, 200);
    const route = one.json() as Record<string, unknown>;
    assert.equal(typeof route['last_activity'], 'string');
    const when = Date.parse(route['last_activity'] as string);
    assert.ok(when >= before - 5 && when <= Date.now() + 5);
    delete route['last_activity'];
    assert.deepEqual(route, data);

    const all = (await api(proxy, 'GET', '/api/routes', { token: TOKEN })).json() as Record<string, Record<string, unknown>>;
    assert.equal(all['/user/alice']?.['user'], 'alice');
    assert.equal(all['/user/alice/'], undefined, 'keys are stored without trailing slash');
  });

  it('keeps URL-encoded route paths unescaped, as CHP does', async () => {
    const post = await api(proxy, 'POST', '/api/routes/user/b%20c%40d', { body: { target: 'http://127.0.0.1:9' }, token: TOKEN });
    assert.equal(post.status, 201);
    const all = (await api(proxy, 'GET', '/api/routes', { token: TOKEN })).json() as Record<string, unknown>;
    assert.ok('/user/b c@d' in all, JSON.stringify(Object.keys(all)));
    assert.equal((await api(proxy, 'GET', '/api/routes/user/b%20c@d', { token: TOKEN })).status, 200);
    assert.equal((await api(proxy, 'DELETE', '/api/routes/user/b%20c%40d', { token: TOKEN })).status, 204);
  });

  it('rejects a POST without a string target, or with a body that is not a JSON object', async () => {
    for (const body of [{ user: 'x' }, { target: 5 }, '[1,2]', '{not json', '"str"']) {
      const res = await api(proxy, 'POST', '/api/routes/bad', { body, token: TOKEN });
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    assert.equal((await api(proxy, 'GET', '/api/routes/bad', { token: TOKEN })).status, 404);
  });

  it('deletes routes: 204, then 404', async () => {
    await api(proxy, 'POST', '/api/routes/services/x', { body: { target: 'http://127.0.0.1:9' }, token: TOKEN });
    assert.equal((await api(proxy, 'DELETE', '/api/routes/services/x/', { token: TOKEN })).status, 204);
    assert.equal((await api(proxy, 'DELETE', '/api/routes/services/x', { token: TOKEN })).status, 404);
    assert.equal((await api(proxy, 'GET', '/api/routes/services/x', { token: TOKEN })).status, 404);
  });

  it('filters on inactive_since and rejects a bad date with 400', async () => {
    await api(proxy, 'POST', '/api/routes/old', { body: { target: 'http://127.0.0.1:9' }, token: TOKEN });
    await sleep(20);
    const cut = new Date().toISOString();
    await sleep(20);
    await api(proxy, 'POST', '/api/routes/new', { body: { target: 'http://127.0.0.1:9' }, token: TOKEN });
    for (const param of ['inactive_since', 'inactiveSince']) {
      const res = await api(proxy, 'GET', `/api/routes?${param}=${encodeURIComponent(cut)}`, { token: TOKEN });
      assert.equal(res.status, 200);
      const keys = Object.keys(res.json() as object);
      assert.ok(keys.includes('/old'), keys.join());
      assert.ok(!keys.includes('/new'), keys.join());
    }
    const bad = await api(proxy, 'GET', '/api/routes?inactive_since=yesterday-ish', { token: TOKEN });
    assert.equal(bad.status, 400);
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    assert.equal((await api(proxy, 'GET', '/api/other', { token: TOKEN })).status, 404);
    assert.equal((await api(proxy, 'PUT', '/api/routes/x', { token: TOKEN, body: {} })).status, 405);
  });
});

describe('proxy REST API without a token', () => {
  it('is open', async () => {
    const proxy = await startTestProxy();
    try {
      assert.equal((await api(proxy, 'POST', '/api/routes/a', { body: { target: 'http://127.0.0.1:9' } })).status, 201);
      assert.equal((await api(proxy, 'GET', '/api/routes')).status, 200);
    } finally {
      await proxy.close();
    }
  });
});
