/**
 * The proxy's own keep-alive connections to targets (upstream-connection.ts,
 * upstreams.ts, forward.ts), seen from the wire: targets are mostly raw `net`
 * servers scripted byte by byte, which count the TCP connections they accept
 * and record every request the proxy sends them.
 *
 * Covered: connection reuse and the answers that forbid it, the keep-alive
 * race (retry of bodiless requests only), idle limits, invalid answers (502),
 * early answers to large uploads, chunked framing both ways, HEAD, HTTP/1.0
 * clients, `--timeout`, and clients that leave mid-answer.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import type { Echo } from './helpers.js';
import { publicUrl, sleep, startTestProxy, startUpstream } from './helpers.js';

// ------------------------------------------------------------------ helpers

/** Rejects if `p` does not settle within `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** One TCP connection accepted by a raw target. */
interface RawConn {
  /** 0 for the first connection the target accepted, then 1, 2, ... */
  readonly id: number;
  readonly socket: net.Socket;
  readonly openedAt: number;
  /** When the target saw the connection close (the proxy ended or reset it), else undefined. */
  closedAt: number | undefined;
  /** Resolves with `closedAt`. */
  readonly closed: Promise<number>;
  /** Every byte received on this connection, in order. */
  received: Buffer;
  /** Complete requests received on this connection. */
  requests: number;
}

/** A request as a raw target received it from the proxy. */
interface RawRequest {
  readonly conn: RawConn;
  /** Its position on the connection (0 for the first). */
  readonly index: number;
  readonly method: string;
  readonly path: string;
  readonly version: string;
  /** The head without its final CRLF CRLF. */
  readonly head: string;
  /** Lower-case name -> values, in order. */
  readonly headers: Map<string, string[]>;
  /** The body bytes as they came on the wire (chunk framing included). */
  readonly rawBody: Buffer;
  /** The body, decoded. */
  readonly body: Buffer;
  /** The data of each chunk, when the body came chunked. */
  readonly chunks: Buffer[] | undefined;
}

type RawHandler = (req: RawRequest, socket: net.Socket) => void;

interface RawTarget {
  readonly port: number;
  readonly url: string;
  readonly conns: RawConn[];
  readonly requests: RawRequest[];
  close(): Promise<void>;
}

interface PartialHead {
  conn: RawConn;
  method: string;
  path: string;
  head: string;
}

/**
 * Decodes a chunked body at `buf[from..]`: the chunks and where the body ends,
 * or undefined if it is not complete yet. Throws on bad framing.
 */
function decodeChunked(buf: Buffer, from: number): { chunks: Buffer[]; end: number } | undefined {
  const chunks: Buffer[] = [];
  let pos = from;
  for (;;) {
    const eol = buf.indexOf('\r\n', pos, 'latin1');
    if (eol === -1) return undefined;
    const sizeLine = buf.toString('latin1', pos, eol);
    if (!/^[0-9a-fA-F]+(;.*)?$/.test(sizeLine)) throw new Error(`bad chunk size line ${JSON.stringify(sizeLine)}`);
    const size = parseInt(sizeLine, 16);
    pos = eol + 2;
    if (size === 0) {
      // Trailers (none expected), then the empty line.
      for (;;) {
        const end = buf.indexOf('\r\n', pos, 'latin1');
        if (end === -1) return undefined;
        if (end === pos) return { chunks, end: end + 2 };
        pos = end + 2;
      }
    }
    if (buf.length < pos + size + 2) return undefined;
    chunks.push(Buffer.from(buf.subarray(pos, pos + size)));
    if (buf.toString('latin1', pos + size, pos + size + 2) !== '\r\n') throw new Error('chunk data not followed by CRLF');
    pos += size + 2;
  }
}

/**
 * A raw TCP target on 127.0.0.1: it parses the requests the proxy sends
 * (heads, Content-Length and chunked bodies) and calls `handler` with each
 * complete one; the handler writes whatever bytes it likes. `onHead`, when it
 * returns true, takes over the connection as soon as a request head arrives
 * (nothing more is parsed or read on it).
 */
async function startRaw(handler: RawHandler, onHead?: (head: PartialHead, socket: net.Socket) => boolean): Promise<RawTarget> {
  const conns: RawConn[] = [];
  const requests: RawRequest[] = [];
  const server = net.createServer((socket) => {
    let markClosed: (t: number) => void = () => undefined;
    const conn: RawConn = {
      id: conns.length,
      socket,
      openedAt: Date.now(),
      closedAt: undefined,
      closed: new Promise<number>((resolve) => (markClosed = resolve)),
      received: Buffer.alloc(0),
      requests: 0,
    };
    conns.push(conn);
    let pending = Buffer.alloc(0);
    let taken = false;
    const onClose = (): void => {
      if (conn.closedAt !== undefined) return;
      conn.closedAt = Date.now();
      markClosed(conn.closedAt);
    };
    socket.on('end', onClose);
    socket.on('close', onClose);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      conn.received = Buffer.concat([conn.received, chunk]);
      if (taken) return;
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const headEnd = pending.indexOf('\r\n\r\n', 0, 'latin1');
        if (headEnd === -1) return;
        const head = pending.toString('latin1', 0, headEnd);
        const [requestLine = '', ...lines] = head.split('\r\n');
        const [method = '', path = '', version = ''] = requestLine.split(' ');
        if (onHead?.({ conn, method, path, head }, socket) === true) {
          taken = true;
          return;
        }
        const headers = new Map<string, string[]>();
        for (const line of lines) {
          const colon = line.indexOf(':');
          const name = line.slice(0, colon).toLowerCase();
          headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
        }
        const bodyStart = headEnd + 4;
        let bodyEnd: number;
        let chunks: Buffer[] | undefined;
        if (headers.get('transfer-encoding')?.join(',').toLowerCase().includes('chunked') === true) {
          const decoded = decodeChunked(pending, bodyStart);
          if (decoded === undefined) return;
          chunks = decoded.chunks;
          bodyEnd = decoded.end;
        } else {
          const length = Number(headers.get('content-length')?.[0] ?? '0');
          if (pending.length < bodyStart + length) return;
          bodyEnd = bodyStart + length;
        }
        const rawBody = Buffer.from(pending.subarray(bodyStart, bodyEnd));
        const req: RawRequest = {
          conn,
          index: conn.requests++,
          method,
          path,
          version,
          head,
          headers,
          rawBody,
          body: chunks === undefined ? rawBody : Buffer.concat(chunks),
          chunks,
        };
        pending = pending.subarray(bodyEnd);
        requests.push(req);
        handler(req, socket);
        if (socket.destroyed) return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    conns,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** `HTTP/1.1 200 OK` with `body` and a Content-Length (plus `extra` header lines). */
function ok(body: string, extra = ''): string {
  return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  text: string;
  /** The answer ended with its framing (not cut short). */
  complete: boolean;
  /** The client request went out on a connection the agent had used before. */
  reusedSocket: boolean;
  /** The client's local port: the same one for two requests means the same connection to the proxy. */
  localPort: number;
}

/** A request to the proxy, bounded by `timeoutMs`. */
function request(
  url: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string; agent?: http.Agent | false; timeoutMs?: number } = {},
): Promise<Answer> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  return within(
    new Promise<Answer>((resolve, reject) => {
      // A large client limit: the heads the proxy forwards are what is checked, not node's client limit.
      const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false, maxHeaderSize: 64 * 1024 }, (res) => {
        const localPort = res.socket.localPort ?? 0;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body,
            text: body.toString('latin1'),
            complete: res.complete,
            reusedSocket: req.reusedSocket,
            localPort,
          });
        });
      });
      req.on('error', reject);
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer to ${opts.method ?? 'GET'} ${url}`)));
      req.end(opts.body);
    }),
    timeoutMs + 1000,
    `${opts.method ?? 'GET'} ${url}`,
  );
}

/** Writes `data` on a new raw connection to the proxy and collects everything until the proxy closes it. */
function rawToProxy(port: number, data: string): Promise<string> {
  return within(
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write(data, 'latin1');
    }),
    5000,
    'the proxy to close a raw client connection',
  );
}

// -------------------------------------------------------------------- tests

describe('upstream connections', () => {
  let proxy: RunningProxy;
  /** Servers, agents and extra proxies to close after each test. */
  let cleanup: (() => Promise<void> | void)[] = [];
  let routes = 0;

  /** A raw target, closed after the test. */
  async function raw(handler: RawHandler, onHead?: (head: PartialHead, socket: net.Socket) => boolean): Promise<RawTarget> {
    const t = await startRaw(handler, onHead);
    cleanup.push(() => t.close());
    return t;
  }

  /** Adds a route to `target` on `p` (the shared proxy by default); returns its prefix. */
  function route(target: { url: string }, p: RunningProxy = proxy): string {
    const prefix = `/r${++routes}`;
    p.table.set(prefix, { target: target.url });
    return prefix;
  }

  /** A keep-alive client agent with one connection, destroyed after the test. */
  function agent(): http.Agent {
    const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanup.push(() => a.destroy());
    return a;
  }

  async function extraProxy(opts: Parameters<typeof startTestProxy>[0]): Promise<RunningProxy> {
    const p = await startTestProxy({ drainTimeoutMs: 500, ...opts });
    cleanup.push(() => p.close());
    return p;
  }

  before(async () => {
    proxy = await startTestProxy({ drainTimeoutMs: 500 });
  });
  afterEach(async () => {
    const fns = cleanup.reverse();
    cleanup = [];
    for (const fn of fns) await fn();
  });
  after(async () => {
    await proxy.close();
  });

  /** A healthy target (a node http server) behind the shared proxy answers: the proxy still works. */
  async function proxyStillWorks(): Promise<void> {
    const healthy = await startUpstream('healthy');
    cleanup.push(() => healthy.close());
    const prefix = route(healthy);
    const res = await request(publicUrl(proxy, `${prefix}/check`));
    assert.equal(res.status, 200);
    const echo = JSON.parse(res.text) as Echo;
    assert.equal(echo.url, `${prefix}/check`);
  }

  // ------------------------------------------------------------------ 1. reuse

  describe('reuse', () => {
    it('sends sequential requests on one upstream connection', { timeout: 10_000 }, async () => {
      const t = await raw((req, s) => s.write(ok(`answer ${req.index} on ${req.conn.id}`)));
      const prefix = route(t);
      for (let i = 0; i < 5; i++) {
        const res = await request(publicUrl(proxy, `${prefix}/n${i}`));
        assert.equal(res.status, 200);
        assert.equal(res.text, `answer ${i} on 0`);
      }
      assert.equal(t.conns.length, 1, 'five sequential GETs used one connection');
      assert.deepEqual(
        t.requests.map((r) => r.path),
        [0, 1, 2, 3, 4].map((i) => `${prefix}/n${i}`),
      );
      // What the target sees: HTTP/1.1, a Host header, no hop-by-hop headers.
      const first = t.requests[0] as RawRequest;
      assert.equal(first.version, 'HTTP/1.1');
      assert.equal(first.headers.get('host')?.[0], `127.0.0.1:${proxy.publicPort}`);
      assert.equal(first.headers.get('connection'), undefined);
      assert.equal(t.conns[0]?.closedAt, undefined, 'the connection is still open');
    });

    it('keeps one connection per concurrent request, and reuses them all', { timeout: 10_000 }, async () => {
      const t = await raw((req, s) => setTimeout(() => s.write(ok(`on ${req.conn.id}`)), 100));
      const prefix = route(t);
      const wave = (): Promise<Answer[]> => Promise.all([0, 1, 2, 3].map((i) => request(publicUrl(proxy, `${prefix}/p${i}`))));
      const first = await wave();
      assert.deepEqual(first.map((r) => r.status), [200, 200, 200, 200]);
      assert.equal(t.conns.length, 4, 'four concurrent requests, four connections');
      const second = await wave();
      assert.deepEqual(new Set(second.map((r) => r.text)), new Set(['on 0', 'on 1', 'on 2', 'on 3']));
      assert.equal(t.conns.length, 4, 'the second wave reused the four idle connections');
    });

    it('opens a new connection after an answer with Connection: close, and closes that one', { timeout: 10_000 }, async () => {
      // The target says close but leaves the socket open: the proxy must close it.
      const t = await raw((req, s) => s.write(req.conn.id === 0 ? ok('closing', 'Connection: close\r\n') : ok('fresh')));
      const prefix = route(t);
      const a = await request(publicUrl(proxy, `${prefix}/a`));
      assert.equal(a.status, 200);
      assert.equal(a.text, 'closing');
      await within((t.conns[0] as RawConn).closed, 2000, 'the proxy to close the connection');
      const b = await request(publicUrl(proxy, `${prefix}/b`));
      assert.equal(b.text, 'fresh');
      assert.equal(t.conns.length, 2);
    });

    it('does not reuse a connection after an HTTP/1.0 answer, unless it said keep-alive', { timeout: 10_000 }, async () => {
      const t10 = await raw((_req, s) => s.write('HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nold!'));
      const p10 = route(t10);
      for (let i = 0; i < 2; i++) {
        const res = await request(publicUrl(proxy, `${p10}/x`));
        assert.equal(res.status, 200);
        assert.equal(res.text, 'old!');
      }
      assert.equal(t10.conns.length, 2, 'an HTTP/1.0 answer closes the connection');
      await within((t10.conns[0] as RawConn).closed, 2000, 'the proxy to close the HTTP/1.0 connection');

      const tKa = await raw((_req, s) => s.write('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 4\r\n\r\nold!'));
      const pKa = route(tKa);
      for (let i = 0; i < 2; i++) assert.equal((await request(publicUrl(proxy, `${pKa}/x`))).text, 'old!');
      assert.equal(tKa.conns.length, 1, 'HTTP/1.0 with Connection: keep-alive is reused');
    });

    it('forwards only the declared body when the target sends more, and drops the connection', { timeout: 10_000 }, async () => {
      const t = await raw((req, s) => s.write(ok(`body ${req.conn.id}`) + 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil'));
      const prefix = route(t);
      const a = await request(publicUrl(proxy, `${prefix}/a`));
      assert.equal(a.text, 'body 0');
      await within((t.conns[0] as RawConn).closed, 2000, 'the proxy to close the connection');
      assert.equal((await request(publicUrl(proxy, `${prefix}/b`))).text, 'body 1');
    });

    it('drops an idle connection on which the target sends unasked bytes', { timeout: 10_000 }, async () => {
      const t = await raw((req, s) => {
        s.write(ok(`body ${req.conn.id}`));
        if (req.conn.id === 0) setTimeout(() => s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil'), 50);
      });
      const prefix = route(t);
      assert.equal((await request(publicUrl(proxy, `${prefix}/a`))).text, 'body 0');
      await within((t.conns[0] as RawConn).closed, 2000, 'the proxy to close the connection');
      const b = await request(publicUrl(proxy, `${prefix}/b`));
      assert.equal(b.text, 'body 1', 'the unasked answer is not taken for the next request');
    });

    it('delivers a close-delimited answer whole', { timeout: 10_000 }, async () => {
      const parts = ['first part, ', 'second part, ', 'last part'];
      const t = await raw((_req, s) => {
        s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n');
        let i = 0;
        const next = (): void => {
          if (i === parts.length) {
            s.end();
            return;
          }
          s.write(parts[i++] as string);
          setTimeout(next, 20);
        };
        setTimeout(next, 20);
      });
      const prefix = route(t);
      const res = await request(publicUrl(proxy, `${prefix}/stream`));
      assert.equal(res.status, 200);
      assert.equal(res.complete, true);
      assert.equal(res.text, parts.join(''));
      assert.equal(res.headers['content-length'], undefined);
      assert.equal(res.headers['transfer-encoding'], 'chunked', 'node frames the close-delimited body in chunks for the client');
      const again = await request(publicUrl(proxy, `${prefix}/stream`));
      assert.equal(again.text, parts.join(''));
      assert.equal(t.conns.length, 2);
    });
  });

  // ------------------------------------------------------- 2. keep-alive race

  describe('keep-alive race', () => {
    it('a GET after the target closed an idle connection goes out on a new one', { timeout: 10_000 }, async () => {
      const t = await raw((req, s) => {
        s.write(ok(`hello ${req.conn.id}`));
        setTimeout(() => s.end(), 50); // no Connection: close, then gone
      });
      const prefix = route(t);
      assert.equal((await request(publicUrl(proxy, `${prefix}/1`))).text, 'hello 0');
      await sleep(200);
      const res = await request(publicUrl(proxy, `${prefix}/2`));
      assert.equal(res.status, 200);
      assert.equal(res.text, 'hello 1');
      assert.equal(t.conns.length, 2);
      assert.equal(t.requests.length, 2, 'the GET was sent once: the proxy had seen the close');
    });

    it('a POST after the target closed an idle connection goes out once, on a new one', { timeout: 10_000 }, async () => {
      const t = await raw((req, s) => {
        s.write(ok(`${req.method} ${req.body.toString()} on ${req.conn.id}`));
        setTimeout(() => s.end(), 50);
      });
      const prefix = route(t);
      assert.equal((await request(publicUrl(proxy, `${prefix}/1`))).text, 'GET  on 0');
      await sleep(200);
      const res = await request(publicUrl(proxy, `${prefix}/2`), { method: 'POST', body: 'payload' });
      assert.equal(res.status, 200);
      assert.equal(res.text, 'POST payload on 1');
      assert.equal(t.requests.filter((r) => r.method === 'POST').length, 1, 'the POST reached the target once');
    });

    /**
     * A target whose connections each serve one request and close on the second
     * (as if it had timed them out as the request came), with that first request
     * already served on connection 0.
     */
    const closesSecondRequest = async (): Promise<{ t: RawTarget; prefix: string }> => {
      const t = await raw((req, s) => {
        if (req.index === 1) s.destroy();
        else s.write(ok(`served on ${req.conn.id}`));
      });
      const prefix = route(t);
      assert.equal((await request(publicUrl(proxy, `${prefix}/1`))).text, 'served on 0');
      return { t, prefix };
    };

    it('retries a GET once on a new connection when the reused one closes on receiving it', { timeout: 10_000 }, async () => {
      const { t, prefix } = await closesSecondRequest();
      const res = await request(publicUrl(proxy, `${prefix}/2`));
      assert.equal(res.status, 200);
      assert.equal(res.text, 'served on 1', 'answered on a new connection');
      assert.equal(t.conns.length, 2);
      assert.deepEqual(
        t.requests.map((r) => `${r.conn.id}:${r.path}`),
        [`0:${prefix}/1`, `0:${prefix}/2`, `1:${prefix}/2`],
      );
    });

    it('retries only once: a GET that also fails on the new connection gets a 503', { timeout: 10_000 }, async () => {
      // Connection 0 serves one request then drops the next; every later connection drops its first request.
      const t = await raw((req, s) => {
        if (req.conn.id === 0 && req.index === 0) s.write(ok('first'));
        else s.destroy();
      });
      const prefix = route(t);
      assert.equal((await request(publicUrl(proxy, `${prefix}/1`))).text, 'first');
      const res = await request(publicUrl(proxy, `${prefix}/2`));
      assert.equal(res.status, 503);
      assert.equal(t.requests.filter((r) => r.path === `${prefix}/2`).length, 2, 'sent twice, not more');
    });

    it(
      'does not retry a bodiless POST either (RFC 9110 §9.2.2: a proxy must not retry non-idempotent requests)',
      { timeout: 10_000 },
      async () => {
        const { t, prefix } = await closesSecondRequest();
        const res = await request(publicUrl(proxy, `${prefix}/api/kernels/k1/restart`), { method: 'POST', headers: { 'Content-Length': '0' } });
        assert.equal(t.requests.filter((r) => r.method === 'POST').length, 1, `the POST reached the target ${t.requests.filter((r) => r.method === 'POST').length} times`);
        assert.equal(res.status, 503);
      },
    );

    it('never sends a POST twice: the same race gets the client a 503', { timeout: 10_000 }, async () => {
      const { t, prefix } = await closesSecondRequest();
      const res = await request(publicUrl(proxy, `${prefix}/2`), { method: 'POST', body: 'once only' });
      assert.equal(res.status, 503);
      const posts = t.requests.filter((r) => r.method === 'POST');
      assert.equal(posts.length, 1, 'the POST reached the target once');
      assert.equal(posts[0]?.body.toString(), 'once only');
      assert.equal(t.conns.length, 1, 'no new connection was opened for it');
      // The next request opens a new connection and works.
      const next = await request(publicUrl(proxy, `${prefix}/3`));
      assert.equal(next.text, 'served on 1');
    });
  });

  // ---------------------------------------------------------- 3. idle limits

  describe('idle limits', () => {
    it('closes idle connections at the Keep-Alive hint less 1 s, else after 4 s', { timeout: 15_000 }, async () => {
      // Three targets, measured in parallel: hint of 2 s, hint of 1 s, no hint.
      const hint2 = await raw((_req, s) => s.write(ok('h2', 'Keep-Alive: timeout=2\r\n')));
      const hint1 = await raw((_req, s) => s.write(ok('h1', 'Keep-Alive: timeout=1\r\n')));
      const none = await raw((_req, s) => s.write(ok('none')));
      const [p2, p1, p0] = [route(hint2), route(hint1), route(none)];

      const idleClose = async (t: RawTarget, prefix: string, reuseAfterMs: number): Promise<number> => {
        await request(publicUrl(proxy, `${prefix}/a`));
        if (reuseAfterMs > 0) {
          // Used again before its limit: the same connection, and its idle time starts over.
          await sleep(reuseAfterMs);
          await request(publicUrl(proxy, `${prefix}/b`));
          assert.equal(t.conns.length, 1, `${prefix}: reused within its idle limit`);
        }
        const released = Date.now();
        const closedAt = await within((t.conns[0] as RawConn).closed, 7000, `${prefix}: the idle connection to close`);
        return closedAt - released;
      };
      const [idle2, idle1, idle0] = await Promise.all([idleClose(hint2, p2, 600), idleClose(hint1, p1, 0), idleClose(none, p0, 0)]);
      assert.ok(idle2 >= 900 && idle2 <= 2500, `timeout=2: closed after ${idle2} ms idle, expected 1000-2000 (+ margin)`);
      // A 1 s hint leaves no margin: the connection is not kept at all.
      assert.ok(idle1 <= 500, `timeout=1: closed after ${idle1} ms, expected at once`);
      assert.ok(idle0 >= 3900 && idle0 <= 5500, `no hint: closed after ${idle0} ms idle, expected 4000-5000 (+ margin)`);
      // After the close, a request opens a new connection.
      await request(publicUrl(proxy, `${p2}/c`));
      assert.equal(hint2.conns.length, 2);
    });
  });

  // ------------------------------------------------------- 4. invalid answers

  describe('invalid answers get a 502', () => {
    const cases: [string, string][] = [
      ['an obs-folded header', 'HTTP/1.1 200 OK\r\nX-Folded: first\r\n second\r\nContent-Length: 2\r\n\r\nok'],
      ['bare LF line endings', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok'],
      ['one bare LF in the head', 'HTTP/1.1 200 OK\r\nX-A: a\nContent-Length: 2\r\n\r\nok'],
      ['conflicting Content-Length headers', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
      ['a Content-Length list with different values', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!'],
      ['a non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello'],
      ['garbage instead of a status line', 'SSH-2.0-OpenSSH_9.6\r\nnot http at all\r\n\r\n'],
      ['a status line of another protocol version', 'HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok'],
      ['chunked not applied last', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n'],
      ['a 101 to a plain request', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'],
      ['a response head over 16 KiB', `HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(17 * 1024)}\r\nContent-Length: 2\r\n\r\nok`],
    ];
    for (const [what, answer] of cases) {
      it(what, { timeout: 10_000 }, async () => {
        const t = await raw((_req, s) => s.write(answer, 'latin1'));
        const prefix = route(t);
        const res = await request(publicUrl(proxy, `${prefix}/bad`));
        assert.equal(res.status, 502, `got ${res.status}: ${res.text.slice(0, 200)}`);
        await within((t.conns[0] as RawConn).closed, 2000, 'the proxy to close the connection');
        await proxyStillWorks();
      });
    }

    it('a bad chunk size cuts the client answer, which was already under way', { timeout: 10_000 }, async () => {
      const t = await raw((_req, s) => {
        s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
        setTimeout(() => s.write('zz\r\n'), 50);
      });
      const prefix = route(t);
      const outcome = await within(
        new Promise<string>((resolve) => {
          http
            .get(publicUrl(proxy, `${prefix}/x`), { agent: false }, (res) => {
              let body = '';
              res.on('data', (c: Buffer) => (body += c.toString()));
              res.on('end', () => resolve(`${res.statusCode} end ${res.complete} ${body}`));
              res.on('error', () => resolve(`${res.statusCode} error ${body}`));
            })
            .on('error', (err) => resolve(`request error ${err.message}`));
        }),
        5000,
        'the cut answer',
      );
      assert.match(outcome, /^200 (error|end false) hello$/);
    });

    it('accepts repeated identical Content-Length values and forwards one', { timeout: 10_000 }, async () => {
      const t = await raw((_req, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello'));
      const prefix = route(t);
      const res = await request(publicUrl(proxy, `${prefix}/dup`));
      assert.equal(res.status, 200);
      assert.equal(res.text, 'hello');
      assert.deepEqual(
        res.rawHeaders.filter((_, i) => i % 2 === 0 && res.rawHeaders[i]?.toLowerCase() === 'content-length'),
        ['Content-Length'],
      );
    });

    it('applies maxHeaderSize to response heads', { timeout: 10_000 }, async () => {
      const small = await extraProxy({ maxHeaderSize: 4096 });
      /** An answer whose head (without the final CRLF CRLF) is exactly `size` bytes. */
      const answerWithHead = (size: number): string => {
        const start = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: ';
        return `${start}${'p'.repeat(size - start.length)}\r\n\r\nok`;
      };
      const t = await raw((req, s) => s.write(answerWithHead(Number(req.path.split('/').pop()))));
      const prefixSmall = route(t, small);
      const prefixDefault = route(t);
      assert.equal((await request(publicUrl(small, `${prefixSmall}/4096`))).status, 200, 'a head of exactly the limit passes');
      assert.equal((await request(publicUrl(small, `${prefixSmall}/4097`))).status, 502, 'one byte over the limit');
      assert.equal((await request(publicUrl(small, `${prefixSmall}/6000`))).status, 502);
      assert.equal((await request(publicUrl(proxy, `${prefixDefault}/6000`))).status, 200, 'the default limit is 16 KiB');
      assert.equal((await request(publicUrl(proxy, `${prefixDefault}/16384`))).status, 200);
      assert.equal((await request(publicUrl(proxy, `${prefixDefault}/16385`))).status, 502);
      // The small proxy still works.
      assert.equal((await request(publicUrl(small, `${prefixSmall}/100`))).text, 'ok');
    });

    it(
      'garbage then close gets a 502, like garbage with an end of head',
      { timeout: 10_000 },
      async () => {
        const t = await raw(
          () => undefined,
          (_head, s) => {
            s.end('SSH-2.0-OpenSSH_9.6\r\n');
            return true;
          },
        );
        const prefix = route(t);
        const res = await request(publicUrl(proxy, `${prefix}/x`));
        assert.equal(res.status, 502);
      },
    );
  });

  // -------------------------------------------------------- 5. early answers

  describe('early answers', () => {
    it('forwards a 413 sent before the body was read, keeps the client connection, drops the upstream one', { timeout: 10_000 }, async () => {
      let earlyHeads = 0;
      const t = await raw(
        (req, s) => s.write(ok(`${req.method} on ${req.conn.id}`)),
        (head, s) => {
          if (head.method !== 'POST') return false;
          earlyHeads++;
          // Answer at once and read nothing more (the socket is paused: the body stays in the kernel).
          s.pause();
          s.write('HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\ntoo large');
          return true;
        },
      );
      const prefix = route(t);
      const a = agent();
      const big = Buffer.alloc(1024 * 1024, 'x');
      const first = await request(publicUrl(proxy, `${prefix}/upload`), { method: 'POST', body: big, agent: a, headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(first.status, 413);
      assert.equal(first.text, 'too large');
      const second = await request(publicUrl(proxy, `${prefix}/after`), { agent: a });
      assert.equal(second.status, 200);
      assert.equal(second.reusedSocket, true, 'the client connection to the proxy carried the next request');
      assert.equal(second.localPort, first.localPort);
      assert.equal(second.text, 'GET on 1', 'the upstream connection of the 413 was not reused');
      assert.equal(earlyHeads, 1);
      // The proxy closed the 413's connection: the target sees the end once it reads again.
      const conn0 = t.conns[0] as RawConn;
      conn0.socket.resume();
      await within(conn0.closed, 3000, 'the 413 connection to close');
    });

    it('forwards a 413 with Connection: close from a target that shuts its side', { timeout: 10_000 }, async () => {
      const t = await raw(
        (req, s) => s.write(ok(`${req.method} on ${req.conn.id}`)),
        (head, s) => {
          if (head.method !== 'POST') return false;
          s.pause();
          s.end('HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 9\r\n\r\ntoo large');
          return true;
        },
      );
      const prefix = route(t);
      const a = agent();
      const first = await request(publicUrl(proxy, `${prefix}/upload`), { method: 'POST', body: Buffer.alloc(1024 * 1024, 'y'), agent: a });
      assert.equal(first.status, 413);
      assert.equal(first.text, 'too large');
      const second = await request(publicUrl(proxy, `${prefix}/after`), { agent: a });
      assert.equal(second.text, 'GET on 1');
      assert.equal(second.reusedSocket, true);
    });
  });

  // ---------------------------------------------------------------- 6. chunked

  describe('chunked answers', () => {
    it('decodes chunks with extensions and trailers, and reuses the connection', { timeout: 10_000 }, async () => {
      const answer =
        'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n' +
        '5;ext=1\r\nhello\r\n' +
        '6 ; name="quoted; value"\r\n world\r\n' +
        'B\r\n, chunked!\n\r\n' +
        '0;last\r\nX-Checksum: 42\r\nX-Other: yes\r\n\r\n';
      const t = await raw((_req, s) => {
        // In pieces that split the framing: the size line, the data, the CRLFs, the trailers.
        const cuts = [20, 95, 100, 113, 120, 131, 140, answer.length - 5];
        let from = 0;
        const next = (): void => {
          const to = cuts.shift() ?? answer.length;
          s.write(answer.slice(from, to));
          from = to;
          if (from < answer.length) setTimeout(next, 5);
        };
        next();
      });
      const prefix = route(t);
      for (let i = 0; i < 2; i++) {
        const res = await request(publicUrl(proxy, `${prefix}/c${i}`));
        assert.equal(res.status, 200);
        assert.equal(res.complete, true);
        assert.equal(res.text, 'hello world, chunked!\n');
        assert.equal(res.headers['x-checksum'], undefined);
      }
      assert.equal(t.conns.length, 1, 'a chunked answer leaves the connection reusable');
    });

    it('frames by chunks an answer with both Transfer-Encoding and Content-Length, and drops the connection', { timeout: 10_000 }, async () => {
      const t = await raw((_req, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'));
      const prefix = route(t);
      const res = await request(publicUrl(proxy, `${prefix}/both`));
      assert.equal(res.status, 200);
      assert.equal(res.text, 'hello');
      assert.equal(res.complete, true);
      assert.equal(res.headers['content-length'], undefined, 'the Content-Length is not forwarded');
      await within((t.conns[0] as RawConn).closed, 2000, 'the proxy to close the connection');
      assert.equal((await request(publicUrl(proxy, `${prefix}/again`))).text, 'hello');
      assert.equal(t.conns.length, 2);
    });

    it('skips interim answers (100, 103) and forwards the final one', { timeout: 10_000 }, async () => {
      const t = await raw((_req, s) => s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n' + ok('final')));
      const prefix = route(t);
      const res = await request(publicUrl(proxy, `${prefix}/x`));
      assert.equal(res.status, 200);
      assert.equal(res.text, 'final');
      assert.equal((await request(publicUrl(proxy, `${prefix}/y`))).text, 'final');
      assert.equal(t.conns.length, 1);
    });

    it('passes header bytes that are not ASCII through unchanged', { timeout: 10_000 }, async () => {
      const value = Buffer.from('café ☕', 'utf8');
      const t = await raw((_req, s) => {
        s.write(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nX-Name: ', 'latin1'), value, Buffer.from('\r\nContent-Length: 2\r\n\r\nok', 'latin1')]));
      });
      const prefix = route(t);
      const res = await request(publicUrl(proxy, `${prefix}/x`));
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(res.headers['x-name'] as string, 'latin1'), value);
    });
  });

  // --------------------------------------------------------------- 7. requests

  describe('requests', () => {
    it('re-frames a chunked request body, streaming, with the bytes intact', { timeout: 10_000 }, async () => {
      const t = await raw((req, s) => s.write(ok(`got ${req.body.length}`)));
      const prefix = route(t);
      const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const socket = net.connect(proxy.publicPort, '127.0.0.1');
      cleanup.push(() => void socket.destroy());
      let answer = '';
      socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
      socket.write(`POST ${prefix}/upload HTTP/1.1\r\nHost: hub\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n5;ext=x\r\nhello\r\n`);
      // The first chunk reaches the target before the client sends the rest: the body streams.
      await within(
        (async () => {
          while (!(t.conns[0]?.received.includes('hello') ?? false)) await sleep(10);
        })(),
        3000,
        'the first chunk at the target',
      );
      socket.write(Buffer.concat([Buffer.from('100\r\n'), binary, Buffer.from('\r\n0\r\nX-Trailer: t\r\n\r\n')]));
      await within(
        (async () => {
          while (!answer.includes('got 261')) await sleep(10);
        })(),
        3000,
        'the answer to the chunked POST',
      );
      const req = t.requests[0] as RawRequest;
      assert.deepEqual(req.headers.get('transfer-encoding'), ['chunked']);
      assert.equal(req.headers.get('content-length'), undefined);
      assert.deepEqual(req.body, Buffer.concat([Buffer.from('hello'), binary]));
      // Canonical framing: hex size, CRLF, data, CRLF; no extensions, no trailers.
      const chunks = req.chunks as Buffer[];
      const reframed = Buffer.concat([...chunks.flatMap((c) => [Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]), Buffer.from('0\r\n\r\n')]);
      assert.deepEqual(req.rawBody, reframed);
      assert.ok(chunks.length >= 2, 'the two client chunks went out as they came');
      assert.ok(
        chunks.every((c) => c.length > 0),
        'no empty chunk before the last',
      );
      assert.equal(req.headers.get('x-trailer'), undefined);
    });

    it('does not wait for a body after a HEAD answer with a Content-Length', { timeout: 10_000 }, async () => {
      const t = await raw((req, s) => {
        if (req.method === 'HEAD') s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n');
        else s.write(ok('after head'));
      });
      const prefix = route(t);
      const head = await request(publicUrl(proxy, `${prefix}/file`), { method: 'HEAD', timeoutMs: 2000 });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '1000');
      assert.equal(head.body.length, 0);
      const get = await request(publicUrl(proxy, `${prefix}/file`), { timeoutMs: 2000 });
      assert.equal(get.text, 'after head');
      assert.equal(t.conns.length, 1, 'the connection carried the GET after the HEAD');
    });

    it('adds the target Host to an HTTP/1.0 request without one', { timeout: 10_000 }, async () => {
      const t = await raw((_req, s) => s.write(ok('for 1.0')));
      const prefix = route(t);
      const text = await rawToProxy(proxy.publicPort, `GET ${prefix}/old HTTP/1.0\r\nUser-Agent: ancient\r\n\r\n`);
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.ok(text.endsWith('\r\n\r\nfor 1.0'), text);
      const req = t.requests[0] as RawRequest;
      assert.equal(req.version, 'HTTP/1.1');
      assert.deepEqual(req.headers.get('host'), [`127.0.0.1:${t.port}`]);
      assert.deepEqual(req.headers.get('user-agent'), ['ancient']);
    });
  });

  // ----------------------------------------------------------------- 8. timeout

  describe('--timeout', () => {
    it('answers 503 when the target never answers, and closes the upstream socket', { timeout: 10_000 }, async () => {
      const timed = await extraProxy({ timeoutMs: 300 });
      const t = await raw(() => undefined); // reads the request, never answers
      const prefix = route(t, timed);
      const t0 = Date.now();
      const res = await request(publicUrl(timed, `${prefix}/slow`));
      const took = Date.now() - t0;
      assert.equal(res.status, 503);
      assert.ok(took >= 250 && took < 1500, `503 after ${took} ms, expected about 300`);
      await within((t.conns[0] as RawConn).closed, 1000, 'the proxy to close the silent connection');
    });

    it('does not apply to an idle connection between requests', { timeout: 10_000 }, async () => {
      const timed = await extraProxy({ timeoutMs: 200 });
      const t = await raw((req, s) => s.write(ok(`on ${req.conn.id}`)));
      const prefix = route(t, timed);
      assert.equal((await request(publicUrl(timed, `${prefix}/1`))).text, 'on 0');
      await sleep(500);
      assert.equal(t.conns[0]?.closedAt, undefined, 'the idle connection is kept past the request timeout');
      assert.equal((await request(publicUrl(timed, `${prefix}/2`))).text, 'on 0');
    });
  });

  // ------------------------------------------------------- 9. client leaves

  describe('a client that leaves', () => {
    it('closes the upstream connection of a long answer, which is not reused', { timeout: 10_000 }, async () => {
      const timers: NodeJS.Timeout[] = [];
      cleanup.push(() => timers.forEach((x) => clearInterval(x)));
      const t = await raw((req, s) => {
        if (!req.path.endsWith('/long')) {
          s.write(ok(`short on ${req.conn.id}`));
          return;
        }
        s.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n`);
        const timer = setInterval(() => {
          if (s.destroyed || s.writableEnded) clearInterval(timer);
          else s.write('z'.repeat(1024));
        }, 10);
        timers.push(timer);
      });
      const prefix = route(t);
      await within(
        new Promise<void>((resolve, reject) => {
          const req = http.get(publicUrl(proxy, `${prefix}/long`), { agent: false }, (res) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          });
          req.on('error', (err) => {
            if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
          });
        }),
        3000,
        'the first bytes of the long answer',
      );
      await within((t.conns[0] as RawConn).closed, 2000, 'the proxy to close the upstream connection');
      const next = await request(publicUrl(proxy, `${prefix}/short`));
      assert.equal(next.text, 'short on 1');
    });
  });

  // ------------------------------------------------------------- backpressure

  describe('backpressure', () => {
    it(
      'a slow client of an answer made of many small chunks adds one drain listener, not one per chunk',
      { timeout: 15_000 },
      async () => {
        // Count MaxListenersExceededWarning quietly (node's events module reports them with process.emitWarning).
        const warnings: string[] = [];
        const emitWarning = process.emitWarning;
        process.emitWarning = ((w: string | Error, ...rest: unknown[]): void => {
          if (w instanceof Error && w.name === 'MaxListenersExceededWarning') warnings.push(w.message);
          else (emitWarning as (...args: unknown[]) => void).call(process, w, ...rest);
        }) as typeof process.emitWarning;
        cleanup.push(() => void (process.emitWarning = emitWarning));
        // 8 MiB of body in 100-byte chunks: hundreds of chunks in every TCP read.
        const chunks = 80 * 1024;
        const t = await raw((_req, s) => {
          s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n');
          s.end(Buffer.concat([Buffer.from(`64\r\n${'a'.repeat(100)}\r\n`.repeat(chunks)), Buffer.from('0\r\n\r\n')]));
        });
        const prefix = route(t);
        const received = await within(
          new Promise<number>((resolve, reject) => {
            http
              .get(publicUrl(proxy, `${prefix}/tiny-chunks`), { agent: false }, (res) => {
                let n = 0;
                res.pause(); // a slow client: the proxy's buffer to it fills up
                setTimeout(() => res.resume(), 500);
                res.on('data', (c: Buffer) => (n += c.length));
                res.on('end', () => resolve(n));
                res.on('error', reject);
              })
              .on('error', reject);
          }),
          12_000,
          'the chunked answer',
        );
        assert.equal(received, chunks * 100);
        assert.equal(warnings.length, 0, `${warnings.length} MaxListenersExceededWarning, the first: ${warnings[0] ?? ''}`);
      },
    );
  });
});
