import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { METRIC_NAMES } from '../../src/proxy/builtin/metrics.js';
import { PROCESS_METRIC_NAMES } from '../../src/proxy/builtin/process-metrics.js';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import type { Upstream } from './helpers.js';
import { api, freePort, publicUrl, startTestProxy, startUpstream, waitFor } from './helpers.js';

/** The value of one sample line (`name{labels} value`) of the exposition text. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const prefix = labels === '' ? `${name} ` : `${name}{${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

describe('GET /metrics', () => {
  let up: Upstream;
  let wss: WebSocketServer;
  let proxy: RunningProxy;
  const token = 'metrics-token';
  before(async () => {
    up = await startUpstream('up');
    wss = new WebSocketServer({ server: up.server });
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
    proxy = await startTestProxy({ authToken: token });
    await api(proxy, 'POST', '/api/routes/ok', { body: { target: up.url }, token });
    await api(proxy, 'POST', '/api/routes/dead', { body: { target: `http://127.0.0.1:${await freePort()}` }, token });
  });
  after(async () => {
    await proxy.close();
    wss.close();
    await up.close();
  });

  it('needs the API token', async () => {
    assert.equal((await api(proxy, 'GET', '/metrics')).status, 403);
    assert.equal((await api(proxy, 'GET', '/metrics', { token: 'wrong' })).status, 403);
  });

  it('counts requests by status class, upstream errors, upgrades and open websockets', async () => {
    await (await fetch(publicUrl(proxy, '/ok/x'))).text();
    await (await fetch(publicUrl(proxy, '/ok/y'))).text();
    await (await fetch(publicUrl(proxy, '/nowhere'))).text();
    await (await fetch(publicUrl(proxy, '/dead/'))).text();
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.publicPort}/ok/ws`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });

    const res = await api(proxy, 'GET', '/metrics', { token });
    assert.equal(res.status, 200);
    const text = res.text;
    assert.equal(sample(text, METRIC_NAMES.requests, 'status_class="2xx"'), 2);
    assert.equal(sample(text, METRIC_NAMES.requests, 'status_class="3xx"'), 0);
    assert.equal(sample(text, METRIC_NAMES.requests, 'status_class="4xx"'), 1);
    assert.equal(sample(text, METRIC_NAMES.requests, 'status_class="5xx"'), 1);
    assert.equal(sample(text, METRIC_NAMES.upstreamErrors), 1);
    assert.equal(sample(text, METRIC_NAMES.websocketUpgrades), 1);
    assert.equal(sample(text, METRIC_NAMES.websocketsOpen), 1);
    assert.equal(sample(text, METRIC_NAMES.routes), 2);
    for (const name of PROCESS_METRIC_NAMES) assert.ok(sample(text, name) !== undefined, `process metric ${name}`);
    assert.ok((sample(text, 'process_open_fds') ?? 0) > 0);
    assert.ok((sample(text, 'process_resident_memory_bytes') ?? 0) > 1e6);
    // Not observed: the GC histogram costs CPU on every collection.
    assert.doesNotMatch(text, /nodejs_gc_duration_seconds/);
    assert.match(text, /# TYPE ganymede_proxy_requests_total counter/);

    ws.close();
    await waitFor(
      async () => sample((await api(proxy, 'GET', '/metrics', { token })).text, METRIC_NAMES.websocketsOpen) === 0,
      3000,
      'websocket gauge back to 0',
    );
  });
});

describe('/metrics without a token', () => {
  it('is open like the rest of the API, and per instance', async () => {
    const a = await startTestProxy({ processMetrics: false });
    const b = await startTestProxy({ processMetrics: false });
    try {
      await (await fetch(publicUrl(a, '/none'))).text();
      const ta = (await api(a, 'GET', '/metrics')).text;
      const tb = (await api(b, 'GET', '/metrics')).text;
      assert.equal(sample(ta, METRIC_NAMES.requests, 'status_class="4xx"'), 1);
      assert.equal(sample(tb, METRIC_NAMES.requests, 'status_class="4xx"'), 0);
      assert.equal(sample(ta, 'process_resident_memory_bytes'), undefined);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
