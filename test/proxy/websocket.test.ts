import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import type { Upstream } from './helpers.js';
import { api, freePort, sleep, startTestProxy, startUpstream, waitFor } from './helpers.js';

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res: IncomingMessage) => reject(new Error(`status ${res.statusCode ?? 0}`)));
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data: Buffer, binary: boolean) => resolve({ data, binary })));
}

function connectionCount(up: Upstream): Promise<number> {
  return new Promise((resolve, reject) => up.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

describe('websocket forwarding', () => {
  let proxy: RunningProxy;
  let upstream: Upstream;
  let wss: WebSocketServer;
  const seen: IncomingMessage[] = [];
  before(async () => {
    upstream = await startUpstream('ws-echo');
    wss = new WebSocketServer({ server: upstream.server });
    wss.on('connection', (sock, req) => {
      seen.push(req);
      sock.on('message', (data: Buffer, binary: boolean) => {
        if (data.toString() === 'close-please') sock.close(4001, 'asked');
        else if (data.toString() === 'stream') {
          // frames from the server alone (a kernel's output): five, 60 ms apart
          let n = 0;
          const timer = setInterval(() => {
            sock.send(`out ${n}`);
            if (++n === 5) clearInterval(timer);
          }, 60);
        }
        else sock.send(data, { binary });
      });
    });
    proxy = await startTestProxy();
    await api(proxy, 'POST', '/api/routes/user/alice', { body: { target: upstream.url } });
  });
  after(async () => {
    await proxy.close();
    wss.close();
    await upstream.close();
  });

  const wsUrl = (path: string): string => `ws://127.0.0.1:${proxy.publicPort}${path}`;

  it('echoes text and large binary frames through the proxy', async () => {
    const ws = await open(wsUrl('/user/alice/api/kernels/k1/channels?session_id=s'));
    const text = nextMessage(ws);
    ws.send('hello');
    const got = await text;
    assert.equal(got.data.toString(), 'hello');
    assert.equal(got.binary, false);
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    const bin = nextMessage(ws);
    ws.send(big);
    const gotBin = await bin;
    assert.equal(gotBin.binary, true);
    assert.ok(gotBin.data.equals(big));
    const req = seen.at(-1);
    assert.equal(req?.url, '/user/alice/api/kernels/k1/channels?session_id=s');
    assert.equal(req?.headers['x-forwarded-proto'], 'http');
    assert.equal(req?.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(req?.headers.host, `127.0.0.1:${proxy.publicPort}`);
    ws.close();
  });

  it('updates last_activity on frames', async () => {
    const ws = await open(wsUrl('/user/alice/ws'));
    const t0 = ((await api(proxy, 'GET', '/api/routes/user/alice')).json() as { last_activity: string }).last_activity;
    await sleep(15);
    const msg = nextMessage(ws);
    ws.send('tick');
    await msg;
    const t1 = ((await api(proxy, 'GET', '/api/routes/user/alice')).json() as { last_activity: string }).last_activity;
    assert.ok(Date.parse(t1) > Date.parse(t0), `${t1} > ${t0}`);
    ws.close();
  });

  it('updates last_activity on frames from the server alone (not only the upgrade or client frames)', async () => {
    const ws = await open(wsUrl('/user/alice/ws'));
    const got: string[] = [];
    const five = new Promise<void>((resolve) => ws.on('message', (data: Buffer) => got.push(data.toString()) === 5 && resolve()));
    const sent = Date.now();
    ws.send('stream'); // the client's last frame
    await five;
    const last = ((await api(proxy, 'GET', '/api/routes/user/alice')).json() as { last_activity: string }).last_activity;
    // the fifth server frame left ~300 ms after the client's only one: the route saw it
    assert.ok(Date.parse(last) >= sent + 200, `last_activity ${last} is ${Date.parse(last) - sent} ms after the client's last frame`);
    ws.close();
  });

  it('closes the upstream side when the client goes away, and the other way round', async () => {
    await waitFor(async () => (await connectionCount(upstream)) === 0, 5000, 'earlier sockets to close');
    const ws = await open(wsUrl('/user/alice/ws'));
    assert.equal(await connectionCount(upstream), 1);
    ws.terminate(); // abrupt: no close frame
    await waitFor(async () => (await connectionCount(upstream)) === 0, 5000, 'upstream socket to close');

    const ws2 = await open(wsUrl('/user/alice/ws'));
    const closed = new Promise<number>((resolve) => ws2.once('close', (code: number) => resolve(code)));
    ws2.send('close-please');
    assert.equal(await closed, 4001);
    await waitFor(async () => (await connectionCount(upstream)) === 0, 5000, 'upstream socket to close');
  });

  it('answers 404 on an upgrade without a route, and 503 when the target is down', async () => {
    await assert.rejects(open(wsUrl('/nowhere')), /status 404/);
    const dead = await freePort();
    await api(proxy, 'POST', '/api/routes/user/dead', { body: { target: `http://127.0.0.1:${dead}` } });
    await assert.rejects(open(wsUrl('/user/dead/ws')), /status 503/);
  });
});

describe('websockets at shutdown', () => {
  it('close() ends open websockets and returns promptly', async () => {
    const upstream = await startUpstream('ws');
    const wss = new WebSocketServer({ server: upstream.server });
    const proxy = await startTestProxy({ defaultTarget: upstream.url });
    try {
      const ws = await open(`ws://127.0.0.1:${proxy.publicPort}/x`);
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      const start = Date.now();
      await proxy.close();
      await closed;
      assert.ok(Date.now() - start < 2000);
      await waitFor(async () => (await connectionCount(upstream)) === 0, 5000, 'upstream socket to close');
    } finally {
      await proxy.close();
      wss.close();
      await upstream.close();
    }
  });
});
