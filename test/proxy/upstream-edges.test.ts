/**
 * Edge cases of forwarding through the upstream connections: request
 * bodies to dead targets, clients that leave early, slow clients, targets that
 * die mid-answer, header hygiene and bodiless answers.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import type { Echo, Upstream } from './helpers.js';
import { OriginConnections, UpstreamPools } from '../../src/proxy/builtin/upstreams.js';
import { UpstreamConnection } from '../../src/proxy/builtin/upstream-connection.js';
import { api, freePort, publicUrl, sleep, startTestProxy, startUpstream, waitFor } from './helpers.js';

/** One raw HTTP/1.1 exchange on an open socket: writes `request`, resolves with what came back once `done` says so. */
function exchange(socket: net.Socket, request: string, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      if (done(text)) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(request);
  });
}

/** How a GET answer ends: 'complete', 'incomplete' (ended short), 'aborted' or 'error'. */
function answerOutcome(url: string): Promise<string> {
  return new Promise((resolve) => {
    http
      .get(url, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve(res.complete ? 'complete' : 'incomplete'));
        res.on('error', () => resolve('error'));
        res.on('aborted', () => resolve('aborted'));
      })
      .on('error', () => resolve('error'));
  });
}

describe('forwarding edge cases', () => {
  let proxy: RunningProxy;
  let echo: Upstream;
  let special: Upstream;
  let deadPort: number;
  const seen: { closedEarly: number; lastRequest?: http.IncomingMessage } = { closedEarly: 0 };
  // Random bytes: a chunk overwritten or sent twice on the way shows in the digest, not only in the length.
  const big = randomBytes(8 * 1024 * 1024);

  before(async () => {
    echo = await startUpstream('echo');
    special = await startUpstream('special', (req, res) => {
      seen.lastRequest = req;
      const url = req.url ?? '';
      if (url.endsWith('/big')) {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': big.length });
        res.end(big);
      } else if (url.endsWith('/hang')) {
        res.on('close', () => {
          if (!res.writableFinished) seen.closedEarly++;
        });
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('start\n'); // and never ends
      } else if (url.endsWith('/die')) {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 1000 });
        res.write('only a part');
        setTimeout(() => res.socket?.destroy(), 20);
      } else if (url.endsWith('/no-content')) {
        res.writeHead(204, { 'X-Kind': 'none' });
        res.end();
      } else if (url.endsWith('/not-modified')) {
        res.writeHead(304, { ETag: '"v1"' });
        res.end();
      } else {
        req.resume();
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Set-Cookie': ['a=1', 'b=2'], Connection: 'keep-alive, X-Hop', 'X-Hop': 'upstream only', 'Keep-Alive': 'timeout=5' });
        res.end('ok');
      }
    });
    deadPort = await freePort();
    proxy = await startTestProxy();
    await api(proxy, 'POST', '/api/routes/echo', { body: { target: echo.url } });
    await api(proxy, 'POST', '/api/routes/special', { body: { target: special.url } });
    await api(proxy, 'POST', '/api/routes/dead', { body: { target: `http://127.0.0.1:${deadPort}`, user: 'dora' } });
  });
  after(async () => {
    await proxy.close();
    await Promise.all([echo.close(), special.close()]);
  });

  it('answers 503 to a request with a body for a dead target, and keeps the client connection', async () => {
    const socket = net.connect(proxy.publicPort, '127.0.0.1');
    try {
      const body = 'x'.repeat(1000);
      const first = await exchange(
        socket,
        `POST /dead/api/contents HTTP/1.1\r\nHost: hub\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        (t) => t.includes('"status":503'), // an api path: the answer is JSON (own-answers.test.ts)
      );
      assert.match(first, /^HTTP\/1\.1 503 /);
      assert.match(first, /not running/);
      // The same connection serves the next request.
      const second = await exchange(socket, 'GET /echo/again HTTP/1.1\r\nHost: hub\r\n\r\n', (t) => t.includes('"name":"echo"'));
      assert.match(second, /^HTTP\/1\.1 200 /);
    } finally {
      socket.destroy();
    }
  });

  it('forwards a chunked request body', async () => {
    const socket = net.connect(proxy.publicPort, '127.0.0.1');
    try {
      const text = await exchange(
        socket,
        'POST /echo/upload HTTP/1.1\r\nHost: hub\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
        (t) => t.endsWith('0\r\n\r\n') || (t.includes('Content-Length') && t.endsWith('}')),
      );
      const json = JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)) as Echo;
      assert.equal(json.body, 'hello world');
    } finally {
      socket.destroy();
    }
  });

  it('cuts the upstream request when the client goes away', async () => {
    const before = seen.closedEarly;
    await new Promise<void>((resolve, reject) => {
      const req = http.get(publicUrl(proxy, '/special/hang'), (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => {
        if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
      });
    });
    await waitFor(async () => seen.closedEarly > before, 5000, 'the upstream response to be closed');
  });

  it('delivers a large answer intact to a slow reader', async () => {
    const received = await new Promise<Buffer>((resolve, reject) => {
      http
        .get(publicUrl(proxy, '/special/big'), (res) => {
          const chunks: Buffer[] = [];
          res.pause();
          // read slowly at first so that the proxy has to hold back the target
          setTimeout(() => res.resume(), 300);
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    assert.equal(received.length, big.length);
    assert.ok(received.equals(big), 'the bytes as the target sent them');
  });

  it('ends the client answer with an error when the target dies mid-answer (no hang)', async () => {
    const outcome = await answerOutcome(publicUrl(proxy, '/special/die'));
    assert.notEqual(outcome, 'complete');
  });

  it('drops hop-by-hop headers and those named in Connection, both ways; keeps repeated headers', async () => {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http
        .get(
          publicUrl(proxy, '/special/plain'),
          { headers: { Connection: 'keep-alive, X-Private', 'X-Private': 'secret', 'Keep-Alive': 'timeout=9', TE: 'trailers', 'X-Kept': 'yes' } },
          resolve,
        )
        .on('error', reject);
    });
    res.resume();
    const upstreamSaw = seen.lastRequest!.headers;
    assert.equal(upstreamSaw['x-private'], undefined);
    assert.equal(upstreamSaw['te'], undefined);
    assert.equal(upstreamSaw['keep-alive'], undefined);
    assert.equal(upstreamSaw['x-kept'], 'yes');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(res.headers['keep-alive'], 'timeout=5'); // node's own, not the target's
    assert.equal(res.headers['x-hop'], undefined, 'a header the target named in Connection is not passed on');
  });

  it('passes 204 and 304 answers without a body', async () => {
    const a = await fetch(publicUrl(proxy, '/special/no-content'));
    assert.equal(a.status, 204);
    assert.equal(a.headers.get('x-kind'), 'none');
    assert.equal(await a.text(), '');
    const b = await fetch(publicUrl(proxy, '/special/not-modified'));
    assert.equal(b.status, 304);
    assert.equal(b.headers.get('etag'), '"v1"');
  });

  it('answers HEAD with the head only', async () => {
    const res = await fetch(publicUrl(proxy, '/special/big'), { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(big.length));
    assert.equal(await res.text(), '');
  });

  it('reuses upstream connections', async () => {
    const ports = new Set<number>();
    const counter = await startUpstream('counter', (req, res) => {
      ports.add(req.socket.remotePort ?? 0);
      res.end('ok');
    });
    try {
      await api(proxy, 'POST', '/api/routes/counter', { body: { target: counter.url } });
      for (let i = 0; i < 20; i++) await (await fetch(publicUrl(proxy, '/counter/x'))).text();
      assert.equal(ports.size, 1, `20 sequential requests used ${ports.size} upstream connections`);
    } finally {
      await counter.close();
    }
  });

  it('times out a target that stops sending mid-body when --timeout is set', async () => {
    const stall = await startUpstream('stall', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 100 });
      res.write('a bit');
    });
    const timed = await startTestProxy({ timeoutMs: 200 });
    try {
      await api(timed, 'POST', '/api/routes/', { body: { target: stall.url } });
      const t0 = Date.now();
      const outcome = await answerOutcome(publicUrl(timed, '/x'));
      assert.notEqual(outcome, 'complete');
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      await timed.close();
      await stall.close();
    }
  });
});

describe('UpstreamPools', () => {
  it('keeps one set of connections per origin, and closes those of targets no route uses', async () => {
    const pools = new UpstreamPools();
    const a = pools.resolve('http://127.0.0.1:9001/base/');
    const b = pools.resolve('http://127.0.0.1:9001/other');
    const c = pools.resolve('https://[::1]:9002');
    assert.equal(a.connections, b.connections);
    assert.equal(a.basePath, '/base');
    assert.equal(c.hostname, '::1');
    assert.equal(c.secure, true);
    assert.equal(pools.size, 2);
    assert.throws(() => pools.resolve('ftp://x'), /unsupported target scheme 'ftp'/);
    pools.sweep(['http://127.0.0.1:9001/base/']);
    assert.equal(pools.size, 1);
    assert.notEqual(pools.resolve('https://[::1]:9002').connections, c.connections);
    pools.destroy();
    assert.equal(pools.size, 0);
  });
});

describe('OriginConnections', () => {
  it('hands out idle connections first, at most `max` at once, and queues the rest', async () => {
    const conns = new OriginConnections({ hostname: '127.0.0.1', port: 9, secure: false, rejectUnauthorized: true, host: '127.0.0.1:9' }, 2);
    const got: unknown[] = [];
    conns.acquire((c) => got.push(c));
    conns.acquire((c) => got.push(c));
    let third: unknown;
    conns.acquire((c) => (third = c));
    assert.equal(got.length, 2);
    assert.notEqual(got[0], got[1]);
    assert.equal(third, undefined, 'the third caller waits');
    assert.deepEqual(conns.stats, { clients: 2, idle: 0, waiting: 1 });
    conns.release(got[0] as never);
    assert.equal(third, got[0], 'a released connection goes to the waiting caller');
    conns.release(got[1] as never);
    let fourth: unknown;
    conns.acquire((c) => (fourth = c));
    assert.equal(fourth, got[1], 'an idle connection is reused');
    conns.destroy();
  });
});


describe('UpstreamConnection', () => {
  it('hands the exchange body chunks that stay intact after later reads (they are copies of the shared read buffer)', { timeout: 10_000 }, async () => {
    const parts = ['a', 'b', 'c', 'd'].map((ch) => Buffer.alloc(1000, ch));
    const body = Buffer.concat(parts);
    // A target that sends the body in four writes far enough apart to arrive as four reads.
    const target = net.createServer((socket) => {
      socket.once('data', async () => {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        for (const part of parts) {
          await sleep(30);
          socket.write(part);
        }
      });
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const { port } = target.address() as net.AddressInfo;
    const kept: Buffer[] = [];
    let conn: UpstreamConnection | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        conn = new UpstreamConnection({ release: () => {}, forget: () => {} }, { hostname: '127.0.0.1', port, secure: false, rejectUnauthorized: true, host: `127.0.0.1:${port}` }, 16 * 1024, 4000);
        conn.send(
          { method: 'GET', path: '/', headers: [], body: null, timeoutMs: 0 },
          {
            onResponseHead: () => {},
            // Kept as given, the way a client socket keeps a chunk it could not write at once.
            onResponseData: (chunk) => kept.push(chunk) > 0,
            onResponseEnd: resolve,
            onResponseError: reject,
          },
        );
      });
      assert.ok(kept.length >= 2, `the body came in ${kept.length} read(s)`);
      assert.ok(Buffer.concat(kept).equals(body), 'every chunk still holds the bytes it was given with');
    } finally {
      conn?.close();
      await new Promise<void>((resolve) => target.close(() => resolve()));
    }
  });
});
