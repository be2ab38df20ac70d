import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import type { Upstream } from './helpers.js';
import { api, publicUrl, sleep, startTestProxy, startUpstream, waitFor } from './helpers.js';

/** Sends raw bytes and resolves with everything received until the server closes. */
function raw(port: number, data: string, keepOpenMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      socket.write(data);
      if (keepOpenMs > 0) setTimeout(() => socket.destroy(), keepOpenMs);
    });
    socket.on('data', (c: string) => (text += c));
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(text)); // a refused connection may be reset
  });
}

function openSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

describe('limits', () => {
  let up: Upstream;
  let proxy: RunningProxy;
  before(async () => {
    up = await startUpstream('up');
    proxy = await startTestProxy({ maxHeaderSize: 2048, maxConnectionsPerClient: 2, requestTimeoutMs: 300, defaultTarget: up.url });
  });
  after(async () => {
    await proxy.close();
    await up.close();
  });

  it('answers 431 to a request head over --max-header-size', async () => {
    const big = await raw(proxy.publicPort, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
    const small = await fetch(publicUrl(proxy, '/'), { headers: { 'X-Small': 'a'.repeat(1000) } });
    assert.equal(small.status, 200);
  });

  it('answers 408 when the request is not received within --request-timeout', async () => {
    const started = Date.now();
    const text = await raw(proxy.publicPort, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc', 5000);
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - started < 3000);
  });

  it('refuses connections over --max-connections-per-client and frees slots on close', async () => {
    const a = await openSocket(proxy.publicPort);
    const b = await openSocket(proxy.publicPort);
    await sleep(50);
    const third = await raw(proxy.publicPort, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(third, '', 'the third connection is closed without an answer');
    a.destroy();
    b.destroy();
    await waitFor(async () => (await fetch(publicUrl(proxy, '/'), { headers: { Connection: 'close' } })).status === 200, 2000, 'a free slot');
  });
});

describe('default limits', () => {
  it('accept 8 KiB headers and reject 20 KiB ones', async () => {
    const up = await startUpstream('up');
    const proxy = await startTestProxy({ defaultTarget: up.url });
    try {
      const ok = await fetch(publicUrl(proxy, '/'), { headers: { 'X-H': 'a'.repeat(8192) } });
      assert.equal(ok.status, 200);
      const big = await raw(proxy.publicPort, `GET / HTTP/1.1\r\nHost: x\r\nX-H: ${'a'.repeat(20_000)}\r\n\r\n`);
      assert.match(big, /^HTTP\/1\.1 431 /);
      await api(proxy, 'GET', '/api/routes');
    } finally {
      await proxy.close();
      await up.close();
    }
  });
});

