/**
 * Issue 9, item 1.7: request smuggling through the proxy, seen from the wire.
 *
 * - A `Connection` header naming a framing or routing header (Content-Length,
 *   Transfer-Encoding, Host, Upgrade) must not make the proxy forward a body
 *   without its framing: the target sees exactly one request, with the body.
 *   The same list on a target's answer keeps the answer's Content-Length.
 * - Only `GET` + `Upgrade: websocket` is forwarded as an upgrade; a target
 *   that answers an upgrade with anything but 101 has its answer relayed and
 *   the client socket closed: no later byte of the client reaches the target.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { parseCustomHeaders } from '../../src/proxy/builtin/cli.js';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import { sleep, startTestProxy } from './helpers.js';

/** A request as a node http target (llhttp) parsed it. */
interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A node http target recording every request it parses, and every raw byte it receives. */
interface Target {
  url: string;
  seen: Seen[];
  raw(): string;
  close(): Promise<void>;
}

async function startTarget(answer?: (res: http.ServerResponse) => void): Promise<Target> {
  const seen: Seen[] = [];
  let raw = '';
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (answer !== undefined) answer(res);
      else res.end(`seen ${req.method} ${req.url}`);
    });
  });
  server.on('connection', (s: net.Socket) => s.on('data', (c: Buffer) => (raw += c.toString('latin1'))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    raw: () => raw,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes `data` on a raw connection to the proxy; resolves with what comes back until the proxy closes, or `ms` passes. */
function rawExchange(port: number, data: string | string[], ms = 1500): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(done, ms);
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('end', () => {
      closed = true;
      done();
    });
    socket.on('error', (err) => (text === '' ? reject(err) : done()));
    const parts = Array.isArray(data) ? data : [data];
    socket.write(parts[0] as string, 'latin1');
    // Later parts go once the first answer bytes came (the client reuses its socket after an answer).
    if (parts.length > 1) {
      socket.once('data', () => {
        for (const p of parts.slice(1)) if (!socket.destroyed) socket.write(p, 'latin1');
      });
    }
  });
}

/** A complete request, which a target reading an unframed body would take for a second one. */
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: target\r\n\r\n';

describe('issue 9: Connection cannot remove framing headers', () => {
  let proxy: RunningProxy;
  let target: Target;
  before(async () => {
    proxy = await startTestProxy({ customHeaders: { 'X-Hub-Secret': 's3' } });
  });
  afterEach(async () => {
    await target.close();
  });
  after(async () => {
    await proxy.close();
  });

  const lists = ['Content-Length', 'content-length', 'close, Content-Length', 'Keep-Alive, Content-Length, X-Other', 'Host', 'Upgrade', 'Transfer-Encoding', 'Content-Length, Host, Transfer-Encoding'];
  for (const list of lists) {
    it(`a Content-Length body with 'Connection: ${list}' reaches the target as one request with its body`, async () => {
      target = await startTarget();
      proxy.table.set('/t', { target: target.url });
      const req = `POST /t/upload HTTP/1.1\r\nHost: public.example\r\nConnection: ${list}\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`;
      const { text } = await rawExchange(proxy.publicPort, req, 800);
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.equal(target.seen.length, 1, `the target saw ${target.seen.map((s) => `${s.method} ${s.url}`).join(', ')}`);
      const [one] = target.seen as [Seen];
      assert.equal(one.url, '/t/upload');
      assert.equal(one.body, SMUGGLED);
      assert.equal(one.headers['content-length'], String(SMUGGLED.length));
      assert.equal(one.headers.host, 'public.example', 'Host is kept');
      assert.doesNotMatch(target.raw(), /GET \/smuggled HTTP\/1\.1\r\nHost: target\r\n\r\n(?!$)/);
    });
  }

  for (const list of ['Transfer-Encoding', 'Content-Length', 'close, transfer-encoding']) {
    it(`a chunked body with 'Connection: ${list}' reaches the target re-chunked, as one request`, async () => {
      target = await startTarget();
      proxy.table.set('/t', { target: target.url });
      const chunk = `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;
      const req = `POST /t/chunked HTTP/1.1\r\nHost: public.example\r\nConnection: ${list}\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}`;
      const { text } = await rawExchange(proxy.publicPort, req, 800);
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.equal(target.seen.length, 1);
      assert.equal((target.seen[0] as Seen).body, SMUGGLED);
      assert.equal((target.seen[0] as Seen).headers['transfer-encoding'], 'chunked');
    });
  }

  it("a Connection list still drops the client's own end-to-end headers it names, never the proxy's", async () => {
    target = await startTarget();
    proxy.table.set('/t', { target: target.url });
    const req =
      'GET /t/x HTTP/1.1\r\nHost: public.example\r\nX-Drop-Me: 1\r\nX-Forwarded-For: 10.9.9.9\r\n' +
      'Connection: X-Drop-Me, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Forwarded-Port, X-Hub-Secret\r\n\r\n';
    await rawExchange(proxy.publicPort, req, 800);
    const [one] = target.seen as [Seen];
    assert.equal(one.headers['x-drop-me'], undefined, 'a header the client named is removed (RFC 9110 §7.6.1)');
    assert.match(String(one.headers['x-forwarded-for']), /127\.0\.0\.1$/, "the proxy's own X-Forwarded-For stays");
    assert.equal(one.headers['x-forwarded-proto'], 'http');
    assert.equal(one.headers['x-forwarded-host'], 'public.example');
    assert.equal(one.headers['x-forwarded-port'], '80');
    assert.equal(one.headers['x-hub-secret'], 's3', 'a --custom-header stays');
  });

  it("a target's answer with 'Connection: Content-Length' keeps its Content-Length, and the client connection carries the next request", async () => {
    // A raw target: the answer as written, on a connection it keeps.
    const server = net.createServer((s) => {
      let buf = '';
      s.on('data', (c: Buffer) => {
        buf += c.toString('latin1');
        while (buf.includes('\r\n\r\n')) {
          buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
          s.write('HTTP/1.1 200 OK\r\nConnection: Content-Length, Transfer-Encoding\r\nContent-Length: 5\r\n\r\nhello');
        }
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    target = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen: [], raw: () => '', close: () => new Promise((r) => server.close(() => r())) };
    proxy.table.set('/t', { target: target.url });
    const get = 'GET /t/a HTTP/1.1\r\nHost: h\r\n\r\n';
    const { text } = await rawExchange(proxy.publicPort, [get, get], 800);
    const answers = text.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 2, text);
    for (const a of answers) {
      assert.match(a, /\r\ncontent-length: 5\r\n/i);
      assert.doesNotMatch(a, /transfer-encoding/i);
      assert.ok(a.endsWith('\r\n\r\nhello'), a);
    }
  });

  it('--custom-header refuses framing and routing headers', () => {
    for (const name of ['Content-Length', 'transfer-encoding', 'Host', 'Connection', 'Upgrade']) {
      assert.throws(() => parseCustomHeaders([`${name}: 1`]), /cannot set/);
    }
    assert.deepEqual(parseCustomHeaders(['X-A: 1']), { 'X-A': '1' });
  });
});

/** A raw target that answers the first request head on each connection with `answer`, and records every byte. */
async function startUpgradeTarget(answer: string): Promise<{ url: string; received: () => string; close: () => Promise<void> }> {
  let received = '';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    let answered = false;
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      received += c.toString('latin1');
      if (!answered && received.includes('\r\n\r\n')) {
        answered = true;
        // Keeps its side open, as a keep-alive HTTP server does.
        s.write(answer);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Request lines in what a target received. */
const requestLines = (bytes: string): string[] => bytes.match(/^[A-Z]+ \S+ HTTP\/1\.1$/gm) ?? [];

describe('issue 9: websocket upgrades', () => {
  let proxy: RunningProxy;
  before(async () => {
    proxy = await startTestProxy();
  });
  after(async () => {
    await proxy.close();
  });

  const upgrade = (path: string, extra = ''): string =>
    `GET ${path} HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`;
  const second = 'GET /w/second HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n';

  const refusals: [string, string][] = [
    ['400', 'HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad'],
    ['403', 'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nno way'],
    ['200', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
    ['200 chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
    ['404 without a body', 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'],
  ];
  for (const [what, answer] of refusals) {
    for (const when of ['after the answer', 'pipelined with the upgrade']) {
      it(`a ${what} answer to an upgrade is relayed and the client socket closed; a request written ${when} never reaches the target`, async () => {
        const target = await startUpgradeTarget(answer);
        try {
          proxy.table.set('/w', { target: target.url });
          const data = when === 'after the answer' ? [upgrade('/w/ws'), second] : upgrade('/w/ws') + second;
          const { text, closed } = await rawExchange(proxy.publicPort, data, 1500);
          await sleep(100);
          const status = answer.slice(9, 12);
          assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `), text);
          assert.match(text, /\r\nConnection: close\r\n/i);
          const body = /\r\n\r\n(?:2\r\n)?([a-z ]*)/.exec(answer.slice(answer.indexOf('\r\n\r\n')))?.[1] ?? '';
          assert.ok(text.endsWith(`\r\n\r\n${body}`), JSON.stringify(text));
          assert.ok(closed, 'the proxy closed the client socket');
          assert.deepEqual(requestLines(target.received()), ['GET /w/ws HTTP/1.1']);
        } finally {
          await target.close();
        }
      });
    }
  }

  it('a 101 answer opens the tunnel, and bytes sent with the upgrade go only after it', async () => {
    const target = await startUpgradeTarget('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhi-from-target');
    try {
      proxy.table.set('/w', { target: target.url });
      const { text } = await rawExchange(proxy.publicPort, [upgrade('/w/ws'), 'frame-bytes'], 800);
      assert.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      assert.ok(text.endsWith('hi-from-target'));
      await sleep(50);
      assert.ok(target.received().endsWith('\r\n\r\nframe-bytes'), JSON.stringify(target.received()));
    } finally {
      await target.close();
    }
  });

  const refused: [string, string][] = [
    ['a POST upgrade', 'POST /w/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n'],
    ['a PUT upgrade', 'PUT /w/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'],
    ['an h2c upgrade', 'GET /w/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n'],
    ['an upgrade to something else', 'GET /w/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: TLS/1.2\r\n\r\n'],
    ['a websocket upgrade with a body', `GET /w/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`],
  ];
  for (const [what, req] of refused) {
    it(`${what} is refused with 400 naming the problem, and the target sees nothing`, async () => {
      const target = await startUpgradeTarget('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      try {
        proxy.table.set('/w', { target: target.url });
        const { text, closed } = await rawExchange(proxy.publicPort, req + second, 1500);
        assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/, text);
        assert.match(text, /upgrade|body/i);
        assert.ok(closed);
        await sleep(50);
        assert.equal(target.received(), '');
      } finally {
        await target.close();
      }
    });
  }
});
