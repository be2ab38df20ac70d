/**
 * A strict, incremental parser of HTTP/1.1 responses (RFC 9112), for the
 * answers of proxy targets. It finds where each response ends (so that the
 * connection can carry the next request), decodes chunked bodies, and
 * refuses what could make the proxy and the target disagree on that:
 * obs-folded or malformed header lines, bare CR or LF, conflicting or
 * non-numeric `Content-Length`, `chunked` applied twice, oversized heads.
 *
 * The parser only frames; what to forward is the caller's business. Heads are
 * parsed by `response-head.ts`: headers come out as flat `[name, value, ...]`
 * pairs in the target's order, without the hop-by-hop ones (`Connection`,
 * `Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding`, `Trailer`, and the
 * headers `Connection` names).
 */

import { CTL, fail, isField, parseResponseHead, type ResponseHead } from './response-head.js';

export { ResponseParseError, type Framing, type ResponseHead } from './response-head.js';

/** What the parser calls, synchronously from `push` and `end`. */
export interface ResponseSink {
  onHead(head: ResponseHead): void;
  /** `last`: this chunk ends a body of known length (the `onEnd` call follows at once). */
  onBody(chunk: Buffer, last: boolean): void;
  /** The response is complete; `reusable` when the connection may carry another request. */
  onEnd(reusable: boolean): void;
}

const enum State {
  /** No request in flight: any byte is an error. */
  Idle,
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  Close,
}

/** Longest chunk-size line (size and extensions) and trailer line accepted. */
const MAX_LINE = 4096;
/** Interim (1xx) responses accepted before the final one. */
const MAX_INTERIM = 16;
/** Largest chunk size: exact in a double. */
const MAX_CHUNK_HEX_DIGITS = 12;

const HEX = /^[0-9A-Fa-f]+/;
const CRLF_CRLF = Buffer.from('\r\n\r\n', 'latin1');
const HTTP1_PREFIX = Buffer.from('HTTP/1.', 'latin1');
const LF = 0x0a;
const CR = 0x0d;

export class ResponseParser {
  private state = State.Idle;
  private headRequest = false;
  private interim = 0;
  /** Bytes of a head (or line) not yet complete. */
  private pending: Buffer | undefined;
  private line = '';
  private remaining = 0;
  private keepAlive = false;
  private trailerBytes = 0;
  /** Set by `head` when the response has no body. */
  private headDone = false;

  constructor(
    private readonly sink: ResponseSink,
    private readonly maxHeadBytes = 16 * 1024,
  ) {}

  /** Whether a response is being parsed (begun and not yet ended). */
  get busy(): boolean {
    return this.state !== State.Idle;
  }

  /** Expects the response to a request; `head` for a HEAD request (no body, whatever the headers say). */
  begin(head: boolean): void {
    if (this.state !== State.Idle) fail('a response is already being parsed');
    this.state = State.Head;
    this.headRequest = head;
    this.interim = 0;
    this.pending = undefined;
  }

  /** Feeds bytes from the target. Throws `ResponseParseError`; the connection is then unusable. */
  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.state) {
        case State.Idle:
          fail('the target sent bytes with no request in flight');
        // eslint-disable-next-line no-fallthrough
        case State.Head:
          pos = this.pushHead(chunk, pos);
          if ((this.state as State) === State.Idle) return; // the sink reset the parser from onHead
          if (this.headDone) {
            // A response without a body (HEAD, 204, 304, Content-Length: 0) ended with its head.
            this.headDone = false;
            return this.complete(chunk, pos);
          }
          break;
        case State.Length: {
          const n = Math.min(this.remaining, chunk.length - pos);
          this.remaining -= n;
          const end = pos + n;
          this.sink.onBody(pos === 0 && end === chunk.length ? chunk : chunk.subarray(pos, end), this.remaining === 0);
          if ((this.state as State) === State.Idle) return; // the sink reset the parser
          pos = end;
          if (this.remaining === 0) return this.complete(chunk, pos);
          break;
        }
        case State.ChunkData: {
          const n = Math.min(this.remaining, chunk.length - pos);
          this.remaining -= n;
          this.sink.onBody(chunk.subarray(pos, pos + n), false);
          if ((this.state as State) === State.Idle) return; // the sink reset the parser
          pos += n;
          if (this.remaining === 0) {
            this.state = State.ChunkDataEnd;
            this.remaining = 2;
          }
          break;
        }
        case State.ChunkDataEnd:
          // The CRLF after a chunk's data, possibly split across reads.
          if (chunk[pos] !== (this.remaining === 2 ? CR : LF)) fail('chunk data not followed by CRLF');
          pos++;
          if (--this.remaining === 0) {
            this.state = State.ChunkSize;
            this.line = '';
          }
          break;
        case State.ChunkSize:
        case State.Trailers: {
          const lf = chunk.indexOf(LF, pos);
          const end = lf === -1 ? chunk.length : lf + 1;
          this.line += chunk.toString('latin1', pos, end);
          if (this.state === State.Trailers) this.trailerBytes += end - pos;
          pos = end;
          // The line without its CRLF (a line still incomplete may end with the CR), whole or in pieces.
          if (this.line.length > MAX_LINE + (lf === -1 ? 1 : 2)) fail(this.state === State.ChunkSize ? 'chunk-size line too long' : 'trailer line too long');
          if (lf === -1) break;
          const line = this.line;
          this.line = '';
          if (line.length < 2 || line.charCodeAt(line.length - 2) !== CR) fail('line not ended by CRLF in a chunked body');
          if (this.state === State.ChunkSize) this.chunkSize(line.slice(0, -2));
          else if (line.length === 2) return this.complete(chunk, pos);
          else if (this.trailerBytes > this.maxHeadBytes) fail(`trailers larger than ${this.maxHeadBytes} bytes`);
          else if (!isField(line.slice(0, -2))) fail('malformed trailer line');
          break;
        }
        case State.Close:
          this.sink.onBody(pos === 0 ? chunk : chunk.subarray(pos), false);
          return;
      }
    }
  }

  /**
   * The target closed its side. Ends a body that runs to the close; throws if
   * a response was begun and is incomplete.
   */
  end(): void {
    switch (this.state) {
      case State.Idle:
        return;
      case State.Close:
        this.state = State.Idle;
        this.sink.onEnd(false);
        return;
      case State.Head:
        fail('the target closed the connection before a complete response head');
      // eslint-disable-next-line no-fallthrough
      default:
        fail('the target closed the connection in the middle of the response body');
    }
  }

  /** Abandons the response in progress (the request was cut); the parser is idle again. */
  reset(): void {
    this.state = State.Idle;
    this.headDone = false;
    this.pending = undefined;
    this.line = '';
  }

  private complete(chunk: Buffer, pos: number): void {
    this.state = State.Idle;
    // Bytes past the end of the response (nothing was pipelined): the connection is not reusable.
    this.sink.onEnd(this.keepAlive && pos === chunk.length);
  }

  /** Consumes head bytes from `chunk[pos..]`; returns the position after the head, or the chunk's end. */
  private pushHead(chunk: Buffer, pos: number): number {
    let buf = chunk;
    let from = pos;
    let searchFrom = pos;
    if (this.pending !== undefined) {
      const before = this.pending.length;
      buf = Buffer.concat([this.pending, chunk.subarray(pos)]);
      this.pending = undefined;
      from = 0;
      searchFrom = Math.max(0, before - 3);
    }
    // Not an HTTP/1.x answer: said as soon as the first bytes show it, not after 16 KiB
    // or the close (checked first: a bare LF among those bytes is a mismatch too).
    const n = Math.min(HTTP1_PREFIX.length, buf.length - from);
    if (buf.compare(HTTP1_PREFIX, 0, n, from, from + n) !== 0) fail("invalid status line: the answer does not begin with 'HTTP/1.'");
    const end = buf.indexOf(CRLF_CRLF, searchFrom);
    // A bare LF is refused as soon as it comes (a head of LF-ended lines would never end),
    // unless it comes after the head is already too large: the same error however the bytes are split.
    const lf = bareLf(buf, from, searchFrom, end === -1 ? buf.length : end);
    if (lf !== -1 && lf - from <= this.maxHeadBytes + 3) fail('bare LF in the response head');
    if (end === -1) {
      // The last 3 bytes may begin the CRLF CRLF, which the limit does not count.
      if (buf.length - from > this.maxHeadBytes + 3) fail(`response head larger than ${this.maxHeadBytes} bytes`);
      this.pending = from === 0 && buf !== chunk ? buf : Buffer.from(buf.subarray(from));
      return chunk.length;
    }
    if (end - from > this.maxHeadBytes) fail(`response head larger than ${this.maxHeadBytes} bytes`);
    this.head(buf.toString('latin1', from, end));
    // Where the head ended, in `chunk`'s positions.
    return chunk.length - (buf.length - (end + 4));
  }

  private head(text: string): void {
    const head = parseResponseHead(text, this.headRequest);
    if (head === undefined) {
      if (++this.interim > MAX_INTERIM) fail(`more than ${MAX_INTERIM} interim (1xx) responses`);
      return;
    }
    this.keepAlive = head.keepAlive;
    this.sink.onHead(head);
    if (this.state !== State.Head) return; // the sink reset the parser (the client went away)
    switch (head.framing) {
      case 'none':
        this.headDone = true;
        break;
      case 'length':
        if (head.contentLength === 0) {
          this.headDone = true;
        } else {
          this.state = State.Length;
          this.remaining = head.contentLength;
        }
        break;
      case 'chunked':
        this.state = State.ChunkSize;
        this.line = '';
        this.trailerBytes = 0;
        break;
      case 'close':
        this.state = State.Close;
        break;
    }
  }

  private chunkSize(line: string): void {
    const hex = HEX.exec(line)?.[0];
    if (hex === undefined) fail(`invalid chunk size '${line.slice(0, 32)}'`);
    if (hex.length > MAX_CHUNK_HEX_DIGITS) fail('chunk size too large');
    const rest = line.slice(hex.length);
    // Chunk extensions (ignored): optional whitespace, then ';'.
    if (rest !== '' && (!/^[ \t]*;/.test(rest) || CTL.test(rest))) fail(`invalid chunk size '${line.slice(0, 32)}'`);
    const size = parseInt(hex, 16);
    if (size === 0) {
      this.state = State.Trailers;
      this.trailerBytes = 0;
    } else {
      this.state = State.ChunkData;
      this.remaining = size;
    }
  }
}

/** Where the first LF not preceded by CR is in `buf[from..to)`, or -1; the head begins at `start`. */
function bareLf(buf: Buffer, start: number, from: number, to: number): number {
  // Bounded: past `to` is the CRLF CRLF that ends the head, or the end of `buf`.
  for (let i = buf.indexOf(LF, from); i !== -1 && i < to; i = buf.indexOf(LF, i + 1)) {
    if (i === start || buf[i - 1] !== CR) return i;
  }
  return -1;
}

