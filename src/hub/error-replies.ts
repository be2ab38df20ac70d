import { STATUS_CODES } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { HubError } from '../lib/errors.js';
import { html, page } from '../web/layout.js';
import { drainRefusedBody } from './refused-body.js';
import { securityHeaders } from './security-headers.js';

/**
 * Every error answer of the hub has one shape: JSON `{status, message}` under
 * the API prefix, an HTML page elsewhere. That holds for the hub's own errors
 * (the error handler), unknown routes (the not-found handler), Fastify's router
 * errors (`frameworkErrors`: a bad percent-encoding, a too-long parameter) and
 * requests node's HTTP parser refuses before Fastify sees them (`clientError`:
 * an unknown method, oversized headers or URL, broken framing).
 */
export interface ErrorShapeContext {
  /** The API prefix, e.g. `/hub/api/`. */
  apiPrefix: string;
  /** The hub's page prefix, e.g. `/hub/`, for links on error pages. */
  hubPrefix: string;
  /** The `headers` option (security headers on every answer). */
  headers: Readonly<Record<string, string>>;
}

/** Most characters of a client's URL quoted back in a message. */
const QUOTED_URL_MAX = 200;

/** A request path for a message: no query, clipped, control characters escaped. */
export function quotedPath(url: string): string {
  const path = url.split('?')[0] ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = path.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return clean.length > QUOTED_URL_MAX ? `${clean.slice(0, QUOTED_URL_MAX)}… (${clean.length} characters)` : clean;
}

function isApi(ctx: ErrorShapeContext, url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return path.startsWith(ctx.apiPrefix) || `${path}/` === ctx.apiPrefix;
}

/** A status's reason phrase ("Not Found"), or "Error". */
export function statusText(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

function errorPage(ctx: ErrorShapeContext, status: number, message: string): string {
  return page(
    { title: `Error ${status}`, hubPrefix: ctx.hubPrefix },
    html`<div class="card"><h1>${status} ${statusText(status)}</h1><p>${message}</p><p><a class="button" href="${ctx.hubPrefix}home">Back to the hub</a></p></div>`,
  );
}

/** Sends an error in the shape the request's URL calls for. */
export function sendError(ctx: ErrorShapeContext, req: FastifyRequest, reply: FastifyReply, status: number, message: string): FastifyReply {
  reply.code(status);
  if (isApi(ctx, req.url)) return reply.send({ status, message });
  return reply.type('text/html; charset=utf-8').send(errorPage(ctx, status, message));
}

/** The status and client-facing message of an error thrown while serving a request. */
export function describeError(err: FastifyError | HubError | Error): { status: number; message: string; headers: Record<string, string> } {
  if (err instanceof HubError) return { status: err.status, message: err.message, headers: err.headers };
  const code = (err as FastifyError).statusCode;
  if (typeof code === 'number' && code >= 400 && code < 500) return { status: code, message: err.message, headers: {} };
  return { status: 500, message: 'Internal server error; the hub log has the details', headers: {} };
}

/** Fastify's `setErrorHandler`: logs, then answers in the request's shape. */
export function errorHandler(ctx: ErrorShapeContext) {
  return (err: FastifyError | HubError, req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const { status, message, headers } = describeError(err);
    for (const [k, v] of Object.entries(headers)) reply.header(k, v);
    if (status === 413) drainRefusedBody(req, reply);
    const url = quotedPath(req.url);
    if (status >= 500) req.log.error({ err, url }, 'request failed');
    else req.log.info({ status, message, url }, 'request refused');
    return sendError(ctx, req, reply, status, message);
  };
}

/** Fastify's `setNotFoundHandler`. */
export function notFoundHandler(ctx: ErrorShapeContext) {
  return (req: FastifyRequest, reply: FastifyReply): FastifyReply => sendError(ctx, req, reply, 404, `Not found: ${quotedPath(req.method)} ${quotedPath(req.url)}`);
}

/**
 * Fastify's `frameworkErrors` option: errors of its router, before any hook
 * ran (so the security headers are set here). A malformed percent-encoding is
 * a 400, a too-long path parameter a 414; the message quotes at most a clipped
 * path, not Fastify's whole echo of it.
 */
export function frameworkErrorHandler(ctx: ErrorShapeContext) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): void => {
    const extra = securityHeaders(ctx.headers); // now: a live reload may change the option
    reply.headers(extra);
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
    const message =
      err.code === 'FST_ERR_BAD_URL'
        ? `Malformed URL (bad percent-encoding): ${quotedPath(req.url)}`
        : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? `URL too long: a path segment exceeds the hub's limit (${quotedPath(req.url)})`
          : `Bad request: ${err.message.slice(0, QUOTED_URL_MAX)}`;
    req.log.info({ status, code: err.code, url: quotedPath(req.url) }, 'request refused by the router');
    void sendError(ctx, req, reply, status, message);
  };
}

/** node's HTTP parser errors and what to answer for them. */
function clientErrorStatus(code: string): { status: number; message: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'Request headers or URL too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, message: 'Request not received in time' };
    case 'HPE_INVALID_METHOD':
      return { status: 405, message: 'Unknown HTTP method' };
    case 'HPE_INVALID_URL':
      return { status: 400, message: 'Malformed request target (URL)' };
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { status: 400, message: 'Invalid Content-Length header' };
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
      return { status: 400, message: 'Invalid chunked request body' };
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_INVALID_HEADER_VALUE':
      return { status: 400, message: 'Invalid request header' };
    case 'HPE_INVALID_VERSION':
      return { status: 400, message: 'Unsupported HTTP version' };
    default:
      return { status: 400, message: 'Malformed HTTP request' };
  }
}

/** A request target longer than this in a head too large for node's parser makes the answer 414, not 431. */
const LONG_URL = 8192;

/** The request target at the start of what the parser had read, when there is one. */
function targetOf(rawPacket: unknown): string {
  const bytes = Buffer.isBuffer(rawPacket) ? rawPacket : undefined;
  if (!bytes) return '';
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ (\S+)/.exec(bytes.subarray(0, 65536).toString('latin1'))?.[1] ?? '';
}

type SocketWithResponse = Socket & { _httpMessage?: { headersSent?: boolean } | null };

/**
 * Fastify's `clientErrorHandler`: answers a request node's HTTP parser
 * refused (it never reaches Fastify) in the hub's error shape, then closes the
 * connection. Nothing is written when an answer is already under way.
 */
export function clientErrorHandler(ctx: ErrorShapeContext, log: { debug(obj: object, msg: string): void }) {
  return (err: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void => {
    const extra = securityHeaders(ctx.headers); // now: a live reload may change the option
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const target = targetOf(err.rawPacket);
    const known = err.code === 'HPE_HEADER_OVERFLOW' && target.length > LONG_URL ? { status: 414, message: 'URL too long' } : clientErrorStatus(err.code ?? '');
    const status = known.status;
    // node's parser says what exactly is wrong ("Expected CRLF after version" for a bare LF): add it to a 400
    const reason = (err as { reason?: unknown }).reason;
    const message = status === 400 && typeof reason === 'string' && /^[\x20-\x7e]{1,200}$/.test(reason) ? `${known.message} (${reason})` : known.message;
    log.debug({ code: err.code, status }, 'malformed request refused');
    const inFlight = (socket as SocketWithResponse)._httpMessage;
    if (socket.writable && !inFlight?.headersSent) socket.end(rawAnswer(ctx, extra, status, message, target));
    else socket.destroy();
  };
}

/** A whole error answer for a raw socket, in the shape `target` calls for, closing the connection. */
function rawAnswer(ctx: ErrorShapeContext, extra: Record<string, string>, status: number, message: string, target: string): string {
  const api = isApi(ctx, target);
  const body = api ? JSON.stringify({ status, message }) : errorPage(ctx, status, message);
  const head = [
    `HTTP/1.1 ${status} ${statusText(status)}`,
    `Content-Type: ${api ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8'}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
  ];
  return `${head.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * The hub server's `connect` listener: a `CONNECT` request (node hands it over
 * as a raw socket, and without a listener closes it without a word) gets a 405
 * in the hub's error shape. The hub tunnels nothing.
 */
export function connectRefusedHandler(ctx: ErrorShapeContext) {
  return (req: IncomingMessage, socket: Duplex): void => {
    const extra = securityHeaders(ctx.headers); // now: a live reload may change the option
    socket.on('error', () => socket.destroy());
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(rawAnswer(ctx, extra, 405, 'CONNECT is not supported: the hub is not a forward proxy', req.url ?? ''), () => socket.destroy());
  };
}

/**
 * The hub server's `checkExpectation` listener: a request with an `Expect`
 * other than `100-continue` gets a 417 in the hub's error shape, with its
 * security headers (node's own 417 has neither), and the connection closes.
 */
export function expectationFailedHandler(ctx: ErrorShapeContext) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const extra = securityHeaders(ctx.headers); // now: a live reload may change the option
    req.resume();
    const status = 417;
    const message = 'Unsupported Expect header: the hub meets only "Expect: 100-continue"';
    const api = isApi(ctx, req.url ?? '/');
    const body = api ? JSON.stringify({ status, message }) : errorPage(ctx, status, message);
    res.shouldKeepAlive = false;
    res.writeHead(status, {
      ...extra,
      'Content-Type': api ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  };
}
