/**
 * One keep-alive HTTP/1.1 connection to a proxy target, carrying one request
 * at a time: the request head written as one string, the body streamed with
 * backpressure (re-chunked when the client sent it chunked), the answer read
 * by `ResponseParser` and handed to an `Exchange` as head, body chunks, end.
 *
 * Reuse is decided here: a connection goes back to its origin's free list
 * only when the response was complete, the target allowed keep-alive, and the
 * request body was sent in full; anything else closes it.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { ResponseParser, type ResponseHead, type ResponseSink } from './response-parser.js';
import type { ClientTls } from './tls.js';

/** Methods a request may be sent again with when a reused connection turns out closed (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** How long connecting to a target may take. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The one buffer every upstream connection reads into (net's `onread`): no
 * allocation per read. Reads are handed to the parser synchronously, and the
 * body bytes passed on are copied (`onBody`), so the next read may overwrite it.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** An upstream failure, with a `code` the forwarder maps to an answer. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    message: string,
    readonly code: string,
    /** No byte of the answer arrived on a reused connection: the target closed it while idle, the request may be sent again. */
    readonly retryable = false,
  ) {
    super(message);
  }
}

/** What one proxied request does with the answer. */
export interface Exchange {
  onResponseHead(head: ResponseHead): void;
  /**
   * Returns false to pause reading from the target until `resume()` of the
   * connection. `last`: the chunk ends a body of known length (`onResponseEnd` follows at once).
   */
  onResponseData(chunk: Buffer, last: boolean): boolean;
  onResponseEnd(): void;
  /** The request failed; no further call follows. */
  onResponseError(err: Error & { code?: string }): void;
}

export interface UpstreamRequest {
  method: string;
  /** Path and query, as sent on the request line. */
  path: string;
  /** Flat `[name, value, ...]`, without framing headers other than `Content-Length`. */
  headers: readonly string[];
  /** The client's request, when it has a body to stream. */
  body: IncomingMessage | null;
  /** Inactivity timeout while the request is in flight, in ms; 0 for none. */
  timeoutMs: number;
}

/** Where a connection goes; `OriginConnections` implements it. */
export interface ConnectionOwner {
  /** The connection is free for another request. */
  release(conn: UpstreamConnection): void;
  /** The connection is closed (or closing) and must not be used again. */
  forget(conn: UpstreamConnection): void;
}

export interface ConnectTarget {
  readonly hostname: string;
  readonly port: number;
  readonly secure: boolean;
  /** False when `--insecure` turned off certificate checks for https targets. */
  readonly rejectUnauthorized: boolean;
  /** `Host` to send when the client sent none. */
  readonly host: string;
  /** Client certificate and CA for an https target (`--client-ssl-*`). */
  readonly clientTls?: ClientTls | undefined;
}

/**
 * Opens a TCP connection to a target, or TLS (HTTP/1.1 by ALPN, the certificate
 * checked against the host name unless `--insecure`) for an https/wss target.
 * Writes before the connection is up are buffered by node. With `onread`, the
 * bytes read go to its callback (false pauses reading) and no 'data' event is
 * emitted; node's TLS socket takes the option too, though its types omit it.
 */
export function connectTo(target: ConnectTarget, onread?: net.OnReadOpts): net.Socket {
  if (!target.secure) return net.connect({ host: target.hostname, port: target.port, onread });
  const options: tls.ConnectionOptions & { onread?: net.OnReadOpts | undefined } = {
    host: target.hostname,
    port: target.port,
    servername: net.isIP(target.hostname) === 0 ? target.hostname : undefined,
    rejectUnauthorized: target.rejectUnauthorized,
    ALPNProtocols: ['http/1.1'],
    ...target.clientTls,
    onread,
  };
  return tls.connect(options);
}

export class UpstreamConnection implements ResponseSink {
  private readonly socket: net.Socket;
  private readonly parser: ResponseParser;
  private exchange: Exchange | undefined;
  /** The request body has been written in full (or there was none). */
  private bodySent = true;
  private body: IncomingMessage | null = null;
  /** The request in flight may be sent again: idempotent (RFC 9110 §9.2.2) and without a body. */
  private resendable = false;
  /** Bytes of the current answer received so far. */
  private received = 0;
  /** Requests completed on this connection. */
  private served = 0;
  private closed = false;
  private timeoutMs = 0;
  /** When the connection was opened or last released, for the idle sweep (ms). */
  idleSince = Date.now();
  /** How long the target keeps an idle connection, less a margin (ms). */
  idleLimitMs: number;
  /** Resumes reading after `onResponseData` returned false. */
  readonly resume = (): void => {
    this.socket.resume();
  };

  constructor(
    private readonly owner: ConnectionOwner,
    private readonly target: ConnectTarget,
    maxHeadBytes: number,
    defaultIdleMs: number,
  ) {
    this.idleLimitMs = defaultIdleMs;
    this.parser = new ResponseParser(this, maxHeadBytes);
    const socket = connectTo(target, {
      buffer: READ_BUFFER,
      callback: (bytes) => {
        this.onSocketData(READ_BUFFER.subarray(0, bytes));
        return true;
      },
    });
    this.socket = socket;
    socket.setNoDelay(true);
    const connectTimer = setTimeout(() => this.fail(new UpstreamError(`no connection to ${target.hostname}:${target.port} within ${CONNECT_TIMEOUT_MS} ms`, 'ECONNTIMEOUT')), CONNECT_TIMEOUT_MS);
    socket.once(target.secure ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    socket.on('end', () => this.onSocketEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(new UpstreamError(err.message, err.code ?? 'ECONNRESET', this.isRetryable())));
    socket.on('close', () => {
      clearTimeout(connectTimer);
      this.fail(new UpstreamError('the target closed the connection', 'ECONNRESET', this.isRetryable()));
    });
    socket.on('timeout', () => this.fail(new UpstreamError(`no answer from the target within ${this.timeoutMs} ms`, 'ETIMEDOUT')));
  }

  /** Sends a request; the answer goes to `exchange`. */
  send(req: UpstreamRequest, exchange: Exchange): void {
    if (this.closed) {
      exchange.onResponseError(new UpstreamError('the connection to the target is closed', 'ECONNRESET', true));
      return;
    }
    this.exchange = exchange;
    this.received = 0;
    this.parser.begin(req.method === 'HEAD');
    if (req.timeoutMs > 0 || this.timeoutMs > 0) {
      this.timeoutMs = req.timeoutMs;
      this.socket.setTimeout(req.timeoutMs);
    }
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    const headers = req.headers;
    let hasHost = false;
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i] as string;
      if (name.length === 4 && name.toLowerCase() === 'host') hasHost = true;
      head += `${name}: ${headers[i + 1] as string}\r\n`;
    }
    if (!hasHost) head += `Host: ${this.target.host}\r\n`;
    const body = req.body;
    this.resendable = body === null && IDEMPOTENT.has(req.method);
    if (body === null) {
      this.bodySent = true;
      this.socket.write(head + '\r\n', 'latin1');
      return;
    }
    // A body without Content-Length came chunked from the client (node has decoded it): send it chunked.
    const chunked = body.headers['content-length'] === undefined;
    this.socket.write(chunked ? `${head}Transfer-Encoding: chunked\r\n\r\n` : head + '\r\n', 'latin1');
    this.streamBody(body, chunked);
  }

  /** Cuts the request in flight (the client went away): the connection is closed. */
  abort(): void {
    this.exchange = undefined;
    this.parser.reset();
    this.close();
  }

  /** Closes the connection (idle, or cutting what is in flight). */
  close(): void {
    if (!this.closed) {
      this.closed = true;
      this.owner.forget(this);
    }
    this.detachBody();
    this.socket.destroy();
  }

  // ----------------------------------------------------------- ResponseSink

  onHead(head: ResponseHead): void {
    if (head.keepAliveTimeoutMs !== undefined) this.idleLimitMs = Math.min(this.idleLimitMs, Math.max(0, head.keepAliveTimeoutMs - 1000));
    this.exchange?.onResponseHead(head);
  }

  onBody(chunk: Buffer, last: boolean): void {
    // A copy: `chunk` is part of READ_BUFFER, and the client's socket may keep it queued.
    if (this.exchange?.onResponseData(Buffer.from(chunk), last) === false) this.socket.pause();
  }

  onEnd(reusable: boolean): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    this.served++;
    if (this.timeoutMs > 0) {
      this.timeoutMs = 0;
      this.socket.setTimeout(0);
    }
    // Reusable only if the target said so and the request went out whole.
    const keep = reusable && this.bodySent && !this.closed && this.idleLimitMs > 0;
    if (!keep) this.close();
    exchange?.onResponseEnd();
    if (keep) {
      // Reading may have been paused for the client of the request that just ended.
      if (this.socket.isPaused()) this.socket.resume();
      this.idleSince = Date.now();
      this.owner.release(this);
    }
  }

  // ---------------------------------------------------------------- private

  private isRetryable(): boolean {
    return this.served > 0 && this.received === 0 && this.resendable;
  }

  private onSocketData(chunk: Buffer): void {
    this.received += chunk.length;
    if (this.exchange === undefined) {
      // Bytes with no request in flight: the target is not speaking HTTP/1.1 as we do.
      this.close();
      return;
    }
    try {
      this.parser.push(chunk);
    } catch (err) {
      this.fail(err as Error & { code?: string });
    }
  }

  private onSocketEnd(): void {
    if (this.exchange === undefined) {
      this.close();
      return;
    }
    try {
      this.parser.end();
    } catch (err) {
      // Part of an answer, then the close: an invalid answer (502); nothing at all: the connection was cut (503).
      this.fail(this.received > 0 ? (err as Error) : new UpstreamError((err as Error).message, 'ECONNRESET', this.isRetryable()));
      return;
    }
    this.close();
  }

  /** Ends the request in flight with `err` (if any) and closes the connection. */
  private fail(err: Error & { code?: string }): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    this.parser.reset();
    this.close();
    exchange?.onResponseError(err);
  }

  private streamBody(body: IncomingMessage, chunked: boolean): void {
    this.bodySent = false;
    this.body = body;
    const socket = this.socket;
    const onData = (chunk: Buffer): void => {
      if (this.closed || this.body !== body) return; // the exchange is over: the rest is dropped
      let ok: boolean;
      if (chunked) {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        ok = socket.write('\r\n', 'latin1');
        socket.uncork();
      } else {
        ok = socket.write(chunk);
      }
      if (!ok) {
        body.pause();
        socket.once('drain', () => body.resume());
      }
    };
    const onEnd = (): void => {
      if (this.body !== body) return;
      if (chunked && !this.closed) socket.write('0\r\n\r\n', 'latin1');
      this.bodySent = true;
      this.detachBody();
    };
    const onAborted = (): void => {
      if (this.body === body) this.fail(new UpstreamError('the client stopped sending the request body', 'ECONNABORTED'));
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onAborted);
  }

  private detachBody(): void {
    const body = this.body;
    if (body === null) return;
    this.body = null;
    // Listeners stay so that the rest of the client's body is read and dropped
    // (the client connection stays usable); they ignore a body that is not this.body.
    body.resume();
  }
}
