/**
 * A small HTTP server on 127.0.0.1 for client tests: it records every request
 * (method, path, headers, body) and answers through the test's handler.
 * Plus a pino logger that writes into an array, to check what was logged.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** One request the server received. */
export interface RecordedRequest {
  method: string;
  /** The raw request target (path and query, as sent). */
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A running recorder: its base URL, what it received, and how to stop it. */
export interface HttpRecorder {
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Handles request number `n` (0-based); may leave `res` unanswered (a hang). */
export type RecorderHandler = (req: RecordedRequest, res: ServerResponse, n: number) => void;

/** Starts a recorder on a free port of 127.0.0.1. */
export async function startHttpRecorder(handler: RecorderHandler): Promise<HttpRecorder> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(rec);
      handler(rec, res, requests.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Answers `res` with `status` and `body` as JSON (no body for undefined). */
export function sendJson(res: ServerResponse, status: number, body?: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A port on 127.0.0.1 nothing listens on (one that was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A pino logger at `trace` writing every line, unfiltered, into `lines`. */
export function capturedLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: pino({ level: 'trace' }, destination), lines };
}
