import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResponseParseError, ResponseParser, type ResponseHead, type ResponseSink } from '../../src/proxy/builtin/response-parser.js';

// ------------------------------------------------------------------ harness

/** One request's answer: what the target sends, and whether the request was a HEAD. */
interface Exchange {
  bytes: Buffer;
  head?: boolean;
}

/** What the sink saw of one response. */
interface Seen {
  head: ResponseHead;
  body: Buffer;
  /** `undefined` while the response is not complete. */
  reusable: boolean | undefined;
}

interface Outcome {
  responses: Seen[];
  /** The `ResponseParseError` message, if one was thrown. */
  error: string | undefined;
  busy: boolean;
}

interface Options {
  /** Calls `end()` after the last push (the target closes the connection). */
  eof?: boolean;
  maxHeadBytes?: number;
}

const bytes = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s);

/** A sink that records what it is given and checks the order of the calls. */
class Recorder implements ResponseSink {
  readonly responses: Seen[] = [];
  private bodyParts: Buffer[] = [];

  onHead(head: ResponseHead): void {
    const last = this.responses.at(-1);
    assert.ok(last === undefined || last.reusable !== undefined, 'onHead before the previous response ended');
    this.responses.push({ head, body: Buffer.alloc(0), reusable: undefined });
    this.bodyParts = [];
  }

  onBody(chunk: Buffer): void {
    const last = this.responses.at(-1);
    assert.ok(last !== undefined && last.reusable === undefined, 'onBody outside a response');
    assert.ok(chunk.length > 0, 'empty body chunk');
    // Copied: the parser may hand out views of the pushed buffers.
    this.bodyParts.push(Buffer.from(chunk));
    last.body = Buffer.concat(this.bodyParts);
  }

  onEnd(reusable: boolean): void {
    const last = this.responses.at(-1);
    assert.ok(last !== undefined && last.reusable === undefined, 'onEnd outside a response');
    last.reusable = reusable;
  }

  /** The parser was reset: forgets the response in progress, if any. */
  abandon(): void {
    if (this.responses.at(-1)?.reusable === undefined) this.responses.pop();
  }
}

/** Feeds `exchanges` to a fresh parser, each cut into pieces by `cut`. */
function run(exchanges: readonly Exchange[], cut: (b: Buffer, index: number) => Buffer[], opts: Options = {}): Outcome {
  const rec = new Recorder();
  const parser = new ResponseParser(rec, opts.maxHeadBytes);
  let error: string | undefined;
  try {
    exchanges.forEach((ex, i) => {
      parser.begin(ex.head ?? false);
      for (const piece of cut(ex.bytes, i)) parser.push(piece);
    });
    if (opts.eof === true) parser.end();
  } catch (err) {
    if (!(err instanceof ResponseParseError)) throw err;
    assert.equal(err.code, 'ERR_INVALID_RESPONSE');
    assert.equal(err.name, 'ResponseParseError');
    error = err.message;
  }
  return { responses: rec.responses, error, busy: parser.busy };
}

const whole = (b: Buffer): Buffer[] => [Buffer.from(b)];
const byteByByte = (b: Buffer): Buffer[] => [...b].map((x) => Buffer.from([x]));
const splitAt = (b: Buffer, at: number): Buffer[] => [Buffer.from(b.subarray(0, at)), Buffer.from(b.subarray(at))];

/**
 * Feeds `exchanges` in one push each, split in two at every position of each
 * exchange (one at a time), and byte by byte; asserts that every way gives
 * the same outcome, and returns it. `splitBelow` limits the split positions
 * (and skips byte by byte), for answers whose outcome depends on what comes
 * in the same read.
 */
function feedAllWays(exchanges: readonly Exchange[], opts: Options & { splitBelow?: number } = {}): Outcome {
  const expected = run(exchanges, whole, opts);
  exchanges.forEach((ex, k) => {
    const limit = Math.min(ex.bytes.length, opts.splitBelow ?? Infinity);
    for (let at = 1; at < limit; at++) {
      const got = run(exchanges, (b, i) => (i === k ? splitAt(b, at) : whole(b)), opts);
      assert.deepEqual(got, expected, `exchange ${k} split at ${at}`);
    }
  });
  if (opts.splitBelow === undefined) assert.deepEqual(run(exchanges, byteByByte, opts), expected, 'byte by byte');
  return expected;
}

/** The one response `raw` makes, fed every way; it must be complete. */
function parse(raw: string | Buffer, opts: Options & { head?: boolean; splitBelow?: number } = {}): Seen {
  const out = feedAllWays([{ bytes: bytes(raw), head: opts.head }], opts);
  assert.equal(out.error, undefined, `unexpected error: ${out.error}`);
  assert.equal(out.responses.length, 1);
  const seen = out.responses[0] as Seen;
  assert.notEqual(seen.reusable, undefined, 'response not complete');
  assert.equal(out.busy, false);
  return seen;
}

/** A head with the usual values, overridden by `h`. */
function head(h: Partial<ResponseHead>): ResponseHead {
  return {
    statusCode: 200,
    statusText: 'OK',
    httpMinor: 1,
    headers: [],
    framing: 'length',
    contentLength: 0,
    keepAlive: true,
    keepAliveTimeoutMs: undefined,
    ...h,
  };
}

/** Asserts that `raw` is refused, the same way however it is fed, with a message matching `re`. */
function rejects(raw: string | Buffer, re: RegExp, opts: Options & { head?: boolean } = {}): Outcome {
  const out = feedAllWays([{ bytes: bytes(raw), head: opts.head }], opts);
  assert.ok(out.error !== undefined, 'no ResponseParseError');
  assert.match(out.error, re);
  return out;
}

/** The error `fn` throws, which must be a `ResponseParseError`. */
function thrown(fn: () => void): ResponseParseError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ResponseParseError, `not a ResponseParseError: ${String(err)}`);
    assert.equal(err.code, 'ERR_INVALID_RESPONSE');
    return err;
  }
  assert.fail('nothing thrown');
}

// ------------------------------------------------------------ valid answers

describe('response parser: valid responses', () => {
  it('Content-Length body', () => {
    const r = parse('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-Z: z\r\n\r\nhello');
    assert.deepEqual(r.head, head({ headers: ['Content-Type', 'text/plain', 'Content-Length', '5', 'X-Z', 'z'], contentLength: 5 }));
    assert.equal(r.body.toString('latin1'), 'hello');
    assert.equal(r.reusable, true);
  });

  it('Content-Length: 0 ends with the head', () => {
    const r = parse('HTTP/1.1 201 Created\r\nContent-Length: 0\r\nLocation: /x\r\n\r\n');
    assert.deepEqual(r.head, head({ statusCode: 201, statusText: 'Created', headers: ['Content-Length', '0', 'Location', '/x'] }));
    assert.equal(r.body.length, 0);
    assert.equal(r.reusable, true);
  });

  it('a body of binary bytes (CR, LF, NUL) is passed as is', () => {
    const body = Buffer.from([0, 13, 10, 13, 10, 255, 128, 1]);
    const r = parse(Buffer.concat([bytes('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n'), body]));
    assert.deepEqual(r.body, body);
    assert.equal(r.reusable, true);
  });

  it('header names are matched case-insensitively and kept as spelled', () => {
    const r = parse('HTTP/1.1 200 OK\r\ncontent-LENGTH:3\r\nTRANSFER-encoding-x: y\r\n\r\nabc');
    assert.deepEqual(r.head, head({ headers: ['content-LENGTH', '3', 'TRANSFER-encoding-x', 'y'], contentLength: 3 }));
    assert.equal(r.body.toString(), 'abc');
  });

  it('header values lose their leading and trailing spaces and tabs, not inner ones', () => {
    const r = parse('HTTP/1.1 200 OK\r\nX-A: \t a  b \t\r\nX-B:\r\nX-C:   \r\nContent-Length: \t2 \r\n\r\nok');
    assert.deepEqual(r.head.headers, ['X-A', 'a  b', 'X-B', '', 'X-C', '', 'Content-Length', '2']);
    assert.equal(r.head.contentLength, 2);
  });

  it('chunked body with several chunks', () => {
    const r = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n');
    assert.deepEqual(r.head, head({ headers: ['X-A', '1'], framing: 'chunked' }));
    assert.equal(r.body.toString(), 'hello world!');
    assert.equal(r.reusable, true);
  });

  it('chunked body with upper- and lower-case hex sizes and leading zeros', () => {
    const a = 'a'.repeat(10);
    const b = 'b'.repeat(0xab);
    const c = 'c'.repeat(0x1f);
    const r = parse(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n${a}\r\naB\r\n${b}\r\n001F\r\n${c}\r\n000\r\n\r\n`);
    assert.equal(r.body.toString(), a + b + c);
    assert.equal(r.reusable, true);
  });

  it('chunked body with chunk extensions (ignored)', () => {
    const r = parse(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '3;name=value\r\nabc\r\n' +
        '2 ; quoted="a;b" ;flag\r\nde\r\n' +
        '1\t;x\r\nf\r\n' +
        '0;last=yes\r\n\r\n',
    );
    assert.equal(r.head.framing, 'chunked');
    assert.equal(r.body.toString(), 'abcdef');
    assert.equal(r.reusable, true);
  });

  it('chunked body with trailers (read and dropped)', () => {
    const r = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n4\r\ndata\r\n0\r\nX-Sum: 1234\r\nX-Other:  v \r\n\r\n');
    assert.deepEqual(r.head.headers, [], 'the Trailer header goes with the trailers');
    assert.equal(r.body.toString(), 'data');
    assert.equal(r.reusable, true);
  });

  it('chunked body that is empty', () => {
    const r = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.deepEqual(r.head, head({ framing: 'chunked' }));
    assert.equal(r.body.length, 0);
    assert.equal(r.reusable, true);
  });

  it('Transfer-Encoding is matched case-insensitively, chunked applied last after another coding', () => {
    const r = parse('HTTP/1.1 200 OK\r\ntransfer-encoding: GZIP\r\nTransfer-Encoding:  Chunked \r\n\r\n2\r\n\x1f\x8b\r\n0\r\n\r\n');
    assert.deepEqual(r.head, head({ framing: 'chunked' }));
    assert.deepEqual(r.body, Buffer.from([0x1f, 0x8b]));
    assert.equal(r.reusable, true);
  });

  it('Transfer-Encoding without chunked: the body runs to the close', () => {
    const r = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz', { eof: true });
    assert.deepEqual(r.head, head({ framing: 'close', keepAlive: false }));
    assert.equal(r.body.toString(), 'zzz');
    assert.equal(r.reusable, false);
  });

  it('close-delimited body (no length) runs until end(), not reusable', () => {
    const r = parse('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome body\r\n\r\nwith CRLFs', { eof: true });
    assert.deepEqual(r.head, head({ headers: ['Content-Type', 'text/plain'], framing: 'close', keepAlive: false }));
    assert.equal(r.body.toString(), 'some body\r\n\r\nwith CRLFs');
    assert.equal(r.reusable, false);
    // Until the close, the response is not over.
    const out = run([{ bytes: bytes('HTTP/1.1 200 OK\r\n\r\nabc') }], whole);
    assert.equal(out.responses[0]?.reusable, undefined);
    assert.equal(out.busy, true);
  });

  it('close-delimited body that is empty', () => {
    const r = parse('HTTP/1.0 200 OK\r\n\r\n', { eof: true });
    assert.deepEqual(r.head, head({ httpMinor: 0, framing: 'close', keepAlive: false }));
    assert.equal(r.body.length, 0);
    assert.equal(r.reusable, false);
  });

  it('HEAD request: no body whatever Content-Length or Transfer-Encoding say', () => {
    const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 42\r\nETag: "x"\r\n\r\n', { head: true });
    assert.deepEqual(r.head, head({ headers: ['Content-Length', '42', 'ETag', '"x"'], framing: 'none' }));
    assert.equal(r.body.length, 0);
    assert.equal(r.reusable, true);
    const c = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', { head: true });
    assert.deepEqual(c.head, head({ framing: 'none' }));
    assert.equal(c.reusable, true);
    // No length at all: still no body, and the connection can be reused.
    const n = parse('HTTP/1.1 200 OK\r\n\r\n', { head: true });
    assert.deepEqual(n.head, head({ framing: 'none' }));
    assert.equal(n.reusable, true);
  });

  it('204 and 304: no body', () => {
    const a = parse('HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n');
    assert.deepEqual(a.head, head({ statusCode: 204, statusText: 'No Content', headers: ['X-A', '1'], framing: 'none' }));
    assert.equal(a.body.length, 0);
    assert.equal(a.reusable, true);
    const b = parse('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 100\r\n\r\n');
    assert.deepEqual(b.head, head({ statusCode: 304, statusText: 'Not Modified', headers: ['ETag', '"v1"', 'Content-Length', '100'], framing: 'none' }));
    assert.equal(b.body.length, 0);
    assert.equal(b.reusable, true);
    const c = parse('HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.equal(c.head.framing, 'none');
    assert.equal(c.reusable, true);
  });

  it('100 Continue and 103 Early Hints before the final answer are skipped', () => {
    const r = parse(
      'HTTP/1.1 100 Continue\r\n\r\n' +
        'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n' +
        'HTTP/1.1 102 Processing\r\n\r\n' +
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    );
    assert.deepEqual(r.head, head({ headers: ['Content-Length', '2'], contentLength: 2 }));
    assert.equal(r.body.toString(), 'ok');
    assert.equal(r.reusable, true);
    // Interim answers to a HEAD request too.
    const h = parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n', { head: true });
    assert.equal(h.head.framing, 'none');
    assert.equal(h.reusable, true);
  });

  it('16 interim answers are accepted', () => {
    const r = parse('HTTP/1.1 100 Continue\r\n\r\n'.repeat(16) + 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    assert.equal(r.head.statusCode, 200);
    assert.equal(r.reusable, true);
  });

  it('HTTP/1.0: not reusable unless Connection: keep-alive', () => {
    const a = parse('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok');
    assert.deepEqual(a.head, head({ httpMinor: 0, headers: ['Content-Length', '2'], contentLength: 2, keepAlive: false }));
    assert.equal(a.body.toString(), 'ok');
    assert.equal(a.reusable, false);
    const b = parse('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=7, max=10\r\nContent-Length: 2\r\n\r\nok');
    assert.deepEqual(b.head, head({ httpMinor: 0, headers: ['Content-Length', '2'], contentLength: 2, keepAliveTimeoutMs: 7000 }));
    assert.equal(b.reusable, true);
  });

  it('HTTP/1.0 with Connection: keep-alive and close is not reusable', () => {
    const r = parse('HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok');
    assert.equal(r.head.keepAlive, false);
    assert.equal(r.reusable, false);
    const s = parse('HTTP/1.0 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok');
    assert.equal(s.reusable, false);
  });

  it('HTTP/1.0 with Transfer-Encoding: decoded, but the connection is not reused (RFC 9112 §6.1)', () => {
    const r = parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n');
    assert.equal(r.head.framing, 'chunked');
    assert.equal(r.body.toString(), 'ok');
    assert.equal(r.head.keepAlive, false);
    assert.equal(r.reusable, false);
  });

  it('Connection: close makes the connection not reusable', () => {
    const r = parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok');
    assert.deepEqual(r.head, head({ headers: ['Content-Length', '2'], contentLength: 2, keepAlive: false }));
    assert.equal(r.reusable, false);
    const c = parse('HTTP/1.1 200 OK\r\nConnection: X-A, CLOSE\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.deepEqual(c.head, head({ framing: 'chunked', keepAlive: false }));
    assert.equal(c.reusable, false);
  });

  it('Keep-Alive: timeout=5 gives keepAliveTimeoutMs 5000', () => {
    const r = parse('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n');
    assert.deepEqual(r.head, head({ headers: ['Content-Length', '0'], keepAliveTimeoutMs: 5000 }));
    assert.equal(r.reusable, true);
    const m = parse('HTTP/1.1 200 OK\r\nKeep-Alive: max=100, TIMEOUT = 12\r\nContent-Length: 0\r\n\r\n');
    assert.equal(m.head.keepAliveTimeoutMs, 12000);
    const n = parse('HTTP/1.1 200 OK\r\nKeep-Alive: max=100, xtimeout=3\r\nContent-Length: 0\r\n\r\n');
    assert.equal(n.head.keepAliveTimeoutMs, undefined);
  });

  it('hop-by-hop headers are removed, and the headers Connection names', () => {
    const r = parse(
      'HTTP/1.1 200 OK\r\nX-Before: 1\r\nConnection: X-Secret, keep-alive\r\nProxy-Connection: keep-alive\r\nKeep-Alive: timeout=3\r\n' +
        'x-secret: a\r\nX-Kept: 2\r\nCONNECTION: x-other\r\nX-Other: b\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n',
    );
    assert.deepEqual(r.head.headers, ['X-Before', '1', 'X-Kept', '2', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Content-Length', '0']);
    assert.equal(r.head.keepAliveTimeoutMs, 3000);
    assert.equal(r.reusable, true);
  });

  it('repeated identical Content-Length values are accepted once, where the first was', () => {
    const a = parse('HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nX-A: 1\r\n\r\nhello');
    assert.deepEqual(a.head, head({ headers: ['Content-Length', '5', 'X-A', '1'], contentLength: 5 }));
    assert.equal(a.body.toString(), 'hello');
    assert.equal(a.reusable, true);
    const b = parse('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello');
    assert.deepEqual(b.head, head({ headers: ['content-length', '5', 'X-A', '1'], contentLength: 5 }));
    assert.equal(b.body.toString(), 'hello');
    assert.equal(b.reusable, true);
  });

  it('Transfer-Encoding and Content-Length: Transfer-Encoding wins, Content-Length removed, not reusable', () => {
    const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    assert.deepEqual(r.head, head({ headers: ['X-A', '1'], framing: 'chunked', keepAlive: false }));
    assert.equal(r.body.toString(), 'hello');
    assert.equal(r.reusable, false);
  });

  it('empty reason phrase, with and without the space', () => {
    const a = parse('HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n');
    assert.equal(a.head.statusCode, 200);
    assert.equal(a.head.statusText, '');
    assert.equal(a.reusable, true);
    const b = parse('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n');
    assert.equal(b.head.statusText, '');
    assert.equal(b.reusable, true);
    const c = parse('HTTP/1.1 404 Not  Found \t\r\nContent-Length: 0\r\n\r\n');
    assert.equal(c.head.statusText, 'Not  Found \t');
    assert.equal(c.head.statusCode, 404);
  });

  it('obs-text (0x80-0xff) in header values and the reason phrase is kept (latin1)', () => {
    const raw = Buffer.concat([
      bytes('HTTP/1.1 200 '),
      Buffer.from([0xc9, 0x74, 0xe9]),
      bytes('\r\nX-Name: caf'),
      Buffer.from([0xe9, 0x80, 0xff]),
      bytes('\r\nContent-Length: 0\r\n\r\n'),
    ]);
    const r = parse(raw);
    assert.equal(r.head.statusText, '\u00c9t\u00e9');
    assert.deepEqual(r.head.headers, ['X-Name', 'caf\u00e9\u0080\u00ff', 'Content-Length', '0']);
    assert.deepEqual(Buffer.from(r.head.headers[1] as string, 'latin1'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x80, 0xff]));
  });

  it('a head of exactly maxHeadBytes is accepted however it is split', () => {
    const start = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: ';
    const raw = `${start}${'a'.repeat(100 - start.length)}\r\n\r\n`;
    const r = parse(raw, { maxHeadBytes: 100 });
    assert.equal(r.reusable, true);
  });

  it('a chunk-size line of 4096 bytes is accepted however it is split', () => {
    const ext = `1;${'x'.repeat(4094)}`;
    const r = parse(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${ext}\r\na\r\n0\r\n\r\n`);
    assert.equal(r.body.toString(), 'a');
  });

  it('two consecutive responses on the same parser', () => {
    const out = feedAllWays([
      { bytes: bytes('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none') },
      { bytes: bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n') },
      { bytes: bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'), head: true },
      { bytes: bytes('HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nfour') },
    ]);
    assert.equal(out.error, undefined);
    assert.deepEqual(
      out.responses.map((r) => [r.head.statusCode, r.head.framing, r.body.toString(), r.reusable]),
      [
        [200, 'length', 'one', true],
        [200, 'chunked', 'two', true],
        [200, 'none', '', true],
        [404, 'length', 'four', true],
      ],
    );
    assert.equal(out.busy, false);
  });

  it('a new response can begin from onEnd', () => {
    const events: string[] = [];
    const parser: ResponseParser = new ResponseParser({
      onHead: (h) => events.push(`head ${h.statusCode}`),
      onBody: (c) => events.push(`body ${c.toString()}`),
      onEnd: (reusable) => {
        events.push(`end ${reusable}`);
        if (events.length < 4) parser.begin(false);
      },
    });
    parser.begin(false);
    parser.push(bytes('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na'));
    assert.equal(parser.busy, true);
    parser.push(bytes('HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nb'));
    assert.deepEqual(events, ['head 200', 'body a', 'end true', 'head 201', 'body b', 'end true']);
    assert.equal(parser.busy, false);
  });

  it('bytes after the end of a response in the same read: not reusable', () => {
    const raw = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    for (const extra of ['HTTP/1.1 200 OK\r\n\r\n', 'x', '\r\n']) {
      // Split anywhere before the end of the response, the extra bytes come with its last byte.
      const r = parse(raw + extra, { splitBelow: raw.length });
      assert.equal(r.body.toString(), 'ok');
      assert.equal(r.reusable, false);
    }
    for (const [answer, extra] of [
      ['HTTP/1.1 204 No Content\r\n\r\n', 'junk'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'junk'],
      ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'HTTP/1.1 200 OK\r\n\r\n'],
    ] as const) {
      assert.equal(parse(answer + extra, { splitBelow: answer.length }).reusable, false);
    }
    const headAnswer = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n';
    assert.equal(parse(`${headAnswer}!`, { head: true, splitBelow: headAnswer.length }).reusable, false);
    // In a later read, they are bytes with no request in flight.
    const out = run([{ bytes: bytes(`${raw}x`) }], (b) => splitAt(b, raw.length));
    assert.equal(out.responses[0]?.reusable, true);
    assert.match(out.error ?? '', /no request in flight/);
  });

  it('reset() abandons a response; the parser takes the next one', () => {
    const rec = new Recorder();
    const parser = new ResponseParser(rec);
    parser.begin(false);
    parser.push(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel'));
    assert.equal(parser.busy, true);
    parser.reset();
    rec.abandon();
    assert.equal(parser.busy, false);
    parser.end(); // idle: nothing to end
    parser.begin(false);
    parser.push(bytes('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    assert.equal(rec.responses[0]?.body.toString(), 'ok');
    assert.equal(rec.responses[0]?.reusable, true);
    // Reset in the middle of a head.
    parser.begin(false);
    parser.push(bytes('HTTP/1.1 200 OK\r\nX-A: 1\r\n'));
    parser.reset();
    parser.begin(false);
    parser.push(bytes('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n'));
    assert.equal(rec.responses[1]?.head.statusCode, 202);
    assert.deepEqual(rec.responses[1]?.head.headers, ['Content-Length', '0']);
    // Reset in the middle of a chunk-size line and of trailers.
    for (const partial of ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1']) {
      parser.begin(false);
      parser.push(bytes(partial));
      parser.reset();
      rec.abandon();
      parser.begin(false);
      parser.push(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n'));
      assert.equal(rec.responses.at(-1)?.body.toString(), 'z');
      assert.equal(rec.responses.at(-1)?.reusable, true);
    }
  });

  it('the sink may reset the parser from onHead or onBody: no further calls, parser idle', () => {
    const answers = [
      'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n',
      'HTTP/1.1 200 OK\r\n\r\nabcd',
      'HTTP/1.1 204 No Content\r\n\r\n',
    ];
    for (const when of ['head', 'body'] as const) {
      for (const answer of answers) {
        for (const cut of [whole, byteByByte]) {
          const events: string[] = [];
          const parser: ResponseParser = new ResponseParser({
            onHead: () => {
              events.push('head');
              if (when === 'head') parser.reset();
            },
            onBody: () => {
              events.push('body');
              if (when === 'body') parser.reset();
            },
            onEnd: () => events.push('end'),
          });
          parser.begin(false);
          for (const piece of cut(bytes(answer))) {
            if (!parser.busy) break; // the caller stops feeding a reset parser
            parser.push(piece);
          }
          const label = `${when} ${answer.slice(0, 40)} ${cut.name}`;
          assert.equal(parser.busy, false, label);
          assert.ok(!events.includes('end') || (when === 'body' && !events.includes('body')), `onEnd after reset: ${label}`);
          assert.ok(events.filter((e) => e === 'body').length <= 1, label);
          // The parser takes the next response.
          parser.begin(false);
          parser.push(bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
          assert.equal(parser.busy, false, label);
        }
      }
    }
  });

  it('busy, begin() while busy, end() while idle', () => {
    const parser = new ResponseParser(new Recorder());
    assert.equal(parser.busy, false);
    parser.end(); // nothing in flight: no throw
    parser.begin(false);
    assert.equal(parser.busy, true);
    assert.match(thrown(() => parser.begin(false)).message, /already/);
    parser.push(bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    assert.equal(parser.busy, false);
    parser.end(); // after a complete response: no throw
    parser.push(Buffer.alloc(0)); // nothing: no throw
  });
});

// ---------------------------------------------------------- invalid answers

describe('response parser: invalid responses', () => {
  const ok = 'HTTP/1.1 200 OK\r\n';

  it('obs-fold (a line starting with a space or tab)', () => {
    rejects(`${ok}X-A: a\r\n  folded\r\nContent-Length: 0\r\n\r\n`, /fold/);
    rejects(`${ok}X-A: a\r\n\tfolded: x\r\nContent-Length: 0\r\n\r\n`, /fold/);
    rejects(`${ok} X-A: a\r\nContent-Length: 0\r\n\r\n`, /fold/);
  });

  it('malformed header lines: space before the colon, empty name, no colon, bad name characters', () => {
    rejects(`${ok}Content-Length : 0\r\n\r\n`, /header name 'Content-Length '/);
    rejects(`${ok}X-A\t: 1\r\nContent-Length: 0\r\n\r\n`, /header name/);
    rejects(`${ok}: empty\r\nContent-Length: 0\r\n\r\n`, /malformed response header line/);
    rejects(`${ok}NoColon\r\nContent-Length: 0\r\n\r\n`, /malformed response header line/);
    rejects(`${ok}X(A): 1\r\nContent-Length: 0\r\n\r\n`, /header name/);
    rejects(`${ok}X\u00e9: 1\r\nContent-Length: 0\r\n\r\n`, /header name/);
  });

  it('bare LF line endings', () => {
    rejects('HTTP/1.1 200 OK\nContent-Length: 0\n\n', /LF/);
    rejects(`${ok}Content-Length: 0\n\r\n`, /LF/);
    rejects(`${ok}X-A: 1\nContent-Length: 0\r\n\r\n`, /LF/);
    rejects('\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', /does not begin with 'HTTP\/1\.'/);
    // Not waiting for a CRLF CRLF that may never come.
    const out = run([{ bytes: bytes('HTTP/1.1 200 OK\nContent-Length: 0\n\n') }], whole);
    assert.match(out.error ?? '', /bare LF/);
    // Past the head limit, the limit is the error, however the bytes come.
    rejects(`${ok}X-A: ${'a'.repeat(60)}\nX-B: 1\r\n\r\n`, /response head larger than 40 bytes/, { maxHeadBytes: 40 });
    rejects(`${ok}X-A: ${'a'.repeat(60)}\nX-B: 1`, /response head larger than 40 bytes/, { maxHeadBytes: 40 });
    rejects(`${ok}X-A: a\nX-B: ${'b'.repeat(60)}\r\n\r\n`, /bare LF/, { maxHeadBytes: 40 });
  });

  it('bare CR inside a value, the status line or a name', () => {
    rejects(`${ok}X-A: a\rb\r\nContent-Length: 0\r\n\r\n`, /invalid character in response header 'X-A'/);
    rejects(`${ok}X-A: ab\r\r\nContent-Length: 0\r\n\r\n`, /invalid character/);
    rejects('HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n', /status line/);
    rejects(`${ok}X\rA: 1\r\nContent-Length: 0\r\n\r\n`, /header name/);
  });

  it('NUL and other control characters in a value or the status line', () => {
    rejects(`${ok}X-A: a\x00b\r\nContent-Length: 0\r\n\r\n`, /invalid character in response header 'X-A'/);
    rejects(`${ok}X-A: a\x7fb\r\nContent-Length: 0\r\n\r\n`, /invalid character/);
    rejects(`${ok}X-A: \x1b[31m\r\nContent-Length: 0\r\n\r\n`, /invalid character/);
    rejects('HTTP/1.1 200 O\x00K\r\nContent-Length: 0\r\n\r\n', /status line/);
  });

  it('invalid Content-Length: non-numeric, negative, signed, empty, conflicting, too long', () => {
    for (const v of ['abc', '-1', '+5', '0x10', '5.0', '1e3', '', '5 5', '5,', ',5']) {
      rejects(`${ok}Content-Length: ${v}\r\n\r\nhello`, /Content-Length/, { eof: true });
    }
    rejects(`${ok}Content-Length: 5, 6\r\n\r\nhello`, /Content-Length/);
    rejects(`${ok}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello`, /Content-Length/);
    rejects(`${ok}Content-Length: 5\r\nContent-Length: 05\r\n\r\nhello`, /Content-Length/);
    rejects(`${ok}Content-Length: 1234567890123456\r\n\r\n`, /Content-Length/);
    rejects(`${ok}Content-Length: 99999999999999999999999\r\n\r\n`, /Content-Length/);
    // 15 digits is the largest accepted.
    const out = run([{ bytes: bytes(`${ok}Content-Length: 123456789012345\r\n\r\nab`) }], whole);
    assert.equal(out.error, undefined);
    assert.equal(out.responses[0]?.head.contentLength, 123456789012345);
  });

  it('Transfer-Encoding with chunked not last, or twice', () => {
    rejects(`${ok}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`, /Transfer-Encoding/);
    rejects(`${ok}Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n`, /Transfer-Encoding/);
    rejects(`${ok}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, /Transfer-Encoding/);
    rejects(`${ok}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, /Transfer-Encoding/);
    rejects(`${ok}Transfer-Encoding: chunked, chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n`, /Transfer-Encoding/);
  });

  it('invalid chunk sizes', () => {
    const te = `${ok}Transfer-Encoding: chunked\r\n\r\n`;
    for (const size of ['g', '0x10', 'x', '', ' 5', '5 ', '5 x', '-1', '+5', '1234567890abc', '0000000000000', '5\r;x', '5;a\x00b']) {
      rejects(`${te}${size}\r\nhello\r\n0\r\n\r\n`, /chunk size/);
    }
    // 12 hex digits is the largest accepted.
    const out = run([{ bytes: bytes(`${te}00000000000a\r\n0123456789\r\n0\r\n\r\n`) }], whole);
    assert.equal(out.error, undefined);
    assert.equal(out.responses[0]?.body.toString(), '0123456789');
  });

  it('chunk-size and trailer lines longer than 4096 bytes', () => {
    const te = `${ok}Transfer-Encoding: chunked\r\n\r\n`;
    rejects(`${te}1;${'x'.repeat(4095)}\r\na\r\n0\r\n\r\n`, /chunk-size line too long/);
    rejects(`${te}1;${'x'.repeat(10000)}`, /chunk-size line too long/);
    rejects(`${te}0\r\nX-T: ${'x'.repeat(4092)}\r\n\r\n`, /trailer line too long/, { maxHeadBytes: 100000 });
    const r = parse(`${te}0\r\nX-T: ${'x'.repeat(4091)}\r\n\r\n`, { maxHeadBytes: 100000 });
    assert.equal(r.reusable, true);
  });

  it('chunk data not followed by CRLF', () => {
    const te = `${ok}Transfer-Encoding: chunked\r\n\r\n`;
    rejects(`${te}5\r\nhelloX\r\n0\r\n\r\n`, /chunk data not followed by CRLF/);
    rejects(`${te}5\r\nhello\rX0\r\n\r\n`, /chunk data not followed by CRLF/);
    rejects(`${te}5\r\nhello\n0\r\n\r\n`, /chunk data not followed by CRLF/);
    rejects(`${te}3\r\nhello\r\n0\r\n\r\n`, /chunk data not followed by CRLF/);
  });

  it('chunk-size or trailer lines ended by a bare LF', () => {
    const te = `${ok}Transfer-Encoding: chunked\r\n\r\n`;
    rejects(`${te}5\nhello\r\n0\r\n\r\n`, /CRLF/);
    rejects(`${te}0\n\r\n`, /CRLF/);
    rejects(`${te}0\r\nX-T: 1\n\r\n`, /CRLF/);
    rejects(`${te}0\r\n\n`, /CRLF/);
  });

  it('malformed trailer lines', () => {
    const te = `${ok}Transfer-Encoding: chunked\r\n\r\n0\r\n`;
    rejects(`${te}X-T: a\x00b\r\n\r\n`, /trailer/);
    rejects(`${te}X-T: a\r\n folded\r\n\r\n`, /trailer/);
    rejects(`${te}no colon\r\n\r\n`, /trailer/);
    rejects(`${te}: empty name\r\n\r\n`, /trailer/);
    rejects(`${te}X T: 1\r\n\r\n`, /trailer/);
    rejects(`${te}X-T: a\rb\r\n\r\n`, /trailer/);
  });

  it('trailers larger than maxHeadBytes', () => {
    const te = `${ok}Transfer-Encoding: chunked\r\n\r\n0\r\n`;
    rejects(`${te}${'X-T: 0123456789\r\n'.repeat(10)}\r\n`, /trailers larger than 100 bytes/, { maxHeadBytes: 100 });
  });

  it('invalid status lines', () => {
    for (const line of [
      'HTTP/2 200 OK',
      'HTTP/2.0 200 OK',
      'HTTP/1.2 200 OK',
      'HTTP/1.1 20 OK',
      'HTTP/1.1 2000 OK',
      'HTTP/1.1 099 OK',
      'HTTP/1.1 200OK',
      'HTTP/1.1  200 OK',
      'HTTP/1.1\t200 OK',
      'http/1.1 200 OK',
      'FOO',
      '',
      ' HTTP/1.1 200 OK',
    ]) {
      rejects(`${line}\r\nContent-Length: 0\r\n\r\n`, /invalid status line/);
    }
  });

  it('101 Switching Protocols to a request that asked for no upgrade', () => {
    rejects('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', /101/);
  });

  it('more than 16 interim answers', () => {
    rejects('HTTP/1.1 100 Continue\r\n\r\n'.repeat(17) + 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', /more than 16 interim/);
    // The count starts again with each request.
    const out = feedAllWays([
      { bytes: bytes('HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(16) + 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n') },
      { bytes: bytes('HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(16) + 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n') },
    ]);
    assert.equal(out.error, undefined);
    assert.equal(out.responses.length, 2);
  });

  it('a head larger than maxHeadBytes, whether its end never comes or comes too late', () => {
    const big = `${ok}X-Big: ${'a'.repeat(200)}\r\n`;
    const never = rejects(big, /response head larger than 100 bytes/, { maxHeadBytes: 100 });
    assert.equal(never.responses.length, 0);
    rejects(`${big}\r\n`, /response head larger than 100 bytes/, { maxHeadBytes: 100 });
    // One byte more than the limit.
    const start = `${ok}Content-Length: 0\r\nX: `;
    rejects(`${start}${'a'.repeat(101 - start.length)}\r\n\r\n`, /response head larger than 100 bytes/, { maxHeadBytes: 100 });
    // The default limit is 16 KiB.
    const huge = run([{ bytes: bytes(`${ok}X-Big: ${'a'.repeat(16 * 1024)}\r\n\r\n`) }], whole);
    assert.equal(huge.error, 'response head larger than 16384 bytes');
    // Each interim head has the limit to itself, and so does the final one.
    const interim = `HTTP/1.1 103 Early Hints\r\nLink: ${'l'.repeat(60)}\r\n\r\n`;
    assert.equal(parse(`${interim}${interim}${ok}Content-Length: 0\r\n\r\n`, { maxHeadBytes: 100 }).reusable, true);
  });

  it('bytes with no request in flight', () => {
    const parser = new ResponseParser(new Recorder());
    assert.match(thrown(() => parser.push(bytes('HTTP/1.1 200 OK\r\n\r\n'))).message, /no request in flight/);
    const after = new ResponseParser(new Recorder());
    after.begin(false);
    after.push(bytes(`${ok}Content-Length: 0\r\n\r\n`));
    assert.match(thrown(() => after.push(bytes('x'))).message, /no request in flight/);
  });

  it('end() in the middle of a head', () => {
    for (const partial of ['', 'HTTP/1.1 2', `${ok}Content-`, `${ok}Content-Length: 0\r\n\r`, 'HTTP/1.1 100 Continue\r\n\r\n']) {
      const out = rejects(partial, /closed the connection before a complete response head/, { eof: true });
      assert.equal(out.responses.length, 0);
    }
  });

  it('end() in the middle of a Content-Length or chunked body', () => {
    const te = `${ok}Transfer-Encoding: chunked\r\n\r\n`;
    for (const partial of [
      `${ok}Content-Length: 5\r\n\r\n`,
      `${ok}Content-Length: 5\r\n\r\nhell`,
      te,
      `${te}5`,
      `${te}5\r\nhe`,
      `${te}5\r\nhello`,
      `${te}5\r\nhello\r`,
      `${te}5\r\nhello\r\n`,
      `${te}0\r\n`,
      `${te}0\r\nX-T: 1\r\n`,
      `${te}0\r\n\r`,
    ]) {
      const out = rejects(partial, /closed the connection in the middle of the response body/, { eof: true });
      assert.equal(out.responses.length, 1);
      assert.equal(out.responses[0]?.reusable, undefined);
    }
  });

  it('an error in a chunked body comes after the body bytes before it', () => {
    const out = rejects(`${ok}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n`, /chunk size/);
    assert.equal(out.responses[0]?.body.toString(), 'abc');
  });
});

// --------------------------------------------------------------------- fuzz

/** Deterministic PRNG (mulberry32). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('response parser: fuzz', () => {
  const corpus: Exchange[] = [
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello',
    'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: t\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nConnection: X-A, close\r\nX-A: 1\r\n\r\nclose-delimited body',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    'HTTP/1.1 204 No Content\r\nKeep-Alive: timeout=5\r\n\r\n',
    'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n',
    'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5, 5\r\n\r\nhello',
    'HTTP/1.1 200 \r\nX-O: caf\u00e9\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\n',
  ].map((s) => ({ bytes: bytes(s) }));
  corpus.push({ bytes: bytes('HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n'), head: true });
  const interesting = [...bytes('\r\n \t:;,0159aAfFxX-=\x00\x7f\x80\xff')];

  function mutate(rand: () => number, input: Buffer): Buffer {
    const b = [...input];
    const ops = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < ops; k++) {
      const at = Math.floor(rand() * (b.length + 1));
      const byte = rand() < 0.7 ? (interesting[Math.floor(rand() * interesting.length)] as number) : Math.floor(rand() * 256);
      const op = rand();
      if (op < 0.4 && at < b.length) b[at] = byte;
      else if (op < 0.7) b.splice(at, 0, byte);
      else if (op < 0.9) b.splice(at, 1 + Math.floor(rand() * 3));
      else b.splice(at, 0, ...b.slice(at, at + 1 + Math.floor(rand() * 8))); // repeat a few bytes
    }
    return Buffer.from(b);
  }

  function randomCut(rand: () => number, b: Buffer): Buffer[] {
    const cuts = new Set<number>();
    const n = Math.floor(rand() * 6);
    for (let k = 0; k < n; k++) cuts.add(Math.floor(rand() * (b.length + 1)));
    const sorted = [0, ...[...cuts].sort((x, y) => x - y), b.length];
    const out: Buffer[] = [];
    for (let k = 0; k + 1 < sorted.length; k++) out.push(Buffer.from(b.subarray(sorted[k], sorted[k + 1])));
    return out;
  }

  /** Feeds `pieces`, checking the sink's invariants as they happen. */
  function fuzzRun(pieces: Buffer[], headRequest: boolean, eof: boolean, maxHeadBytes: number): Outcome {
    let pushed = 0;
    let bodyBytes = 0;
    const rec = new Recorder();
    const sink: ResponseSink = {
      onHead: (h) => {
        assert.equal(rec.responses.length, 0, 'a second head for one request');
        assert.ok(h.statusCode >= 200 && h.statusCode <= 999, `status ${h.statusCode}`);
        assert.equal(h.headers.length % 2, 0);
        assert.ok(Number.isSafeInteger(h.contentLength) && h.contentLength >= 0);
        rec.onHead(h);
      },
      onBody: (chunk) => {
        bodyBytes += chunk.length;
        assert.ok(bodyBytes <= pushed, 'more body bytes than were pushed');
        const h = rec.responses[0]?.head;
        assert.ok(h !== undefined && h.framing !== 'none', 'body without a head or for a body-less response');
        if (h.framing === 'length') assert.ok(bodyBytes <= h.contentLength, 'more body bytes than Content-Length');
        rec.onBody(chunk);
      },
      onEnd: (reusable) => {
        const h = rec.responses[0]?.head;
        assert.ok(h !== undefined);
        if (h.framing === 'length') assert.equal(bodyBytes, h.contentLength, 'ended before Content-Length bytes');
        if (reusable) assert.ok(h.keepAlive && h.framing !== 'close');
        rec.onEnd(reusable);
      },
    };
    const parser = new ResponseParser(sink, maxHeadBytes);
    parser.begin(headRequest);
    let error: string | undefined;
    try {
      for (const piece of pieces) {
        pushed += piece.length;
        parser.push(piece);
      }
      if (eof) parser.end();
    } catch (err) {
      // Anything else than a ResponseParseError (an assertion, a TypeError) fails the test.
      if (!(err instanceof ResponseParseError)) throw err;
      assert.equal(err.code, 'ERR_INVALID_RESPONSE');
      error = err.message;
    }
    const out: Outcome = { responses: rec.responses, error, busy: parser.busy };
    const ended = out.responses[0]?.reusable !== undefined;
    // Complete, refused, or waiting for more bytes.
    if (error === undefined && !ended) {
      assert.equal(parser.busy, true, 'neither complete nor waiting');
      assert.equal(eof, false, 'end() neither ended the response nor threw');
    }
    return out;
  }

  it('mutated responses fed in random pieces: complete, refused, or waiting; the same however split', () => {
    const rand = mulberry32(0x6a6e7964);
    const started = Date.now();
    let completed = 0;
    let refused = 0;
    let waiting = 0;
    for (let iter = 0; iter < 3000; iter++) {
      const base = corpus[Math.floor(rand() * corpus.length)] as Exchange;
      const input = rand() < 0.05 ? base.bytes : mutate(rand, base.bytes);
      const headRequest = base.head === true || rand() < 0.05;
      const eof = rand() < 0.5;
      const maxHeadBytes = rand() < 0.2 ? 40 + Math.floor(rand() * 60) : 16 * 1024;
      const label = `iteration ${iter}: ${JSON.stringify(input.toString('latin1'))} head=${headRequest} eof=${eof} max=${maxHeadBytes}`;
      const split = fuzzRun(randomCut(rand, input), headRequest, eof, maxHeadBytes);
      const one = fuzzRun([input], headRequest, eof, maxHeadBytes);
      // Fed in one push or in pieces, the same answer, except that bytes past the
      // end of the response are refused when they come in a later read.
      const a = one.responses[0];
      const b = split.responses[0];
      assert.deepEqual(b?.head, a?.head, label);
      assert.deepEqual(b?.body, a?.body, label);
      if (a?.reusable === false && b?.reusable !== undefined && one.error === undefined && split.error !== undefined) {
        assert.match(split.error, /no request in flight/, label);
      } else {
        assert.equal(b?.reusable, a?.reusable, label);
        assert.equal(split.error, one.error, label);
      }
      if (one.error !== undefined) refused++;
      else if (a?.reusable !== undefined) completed++;
      else waiting++;
    }
    // The corpus and mutations reach all three outcomes.
    assert.ok(completed > 100 && refused > 100 && waiting > 50, `completed ${completed}, refused ${refused}, waiting ${waiting}`);
    assert.ok(Date.now() - started < 5000, 'fuzzing took too long');
  });
});
