/**
 * Forwarding of plain HTTP requests on the public port, and the error pages it
 * serves when no route matches (404) or the target is down (503).
 *
 * Requests go upstream on keep-alive connections of the target's origin
 * (`upstream-connection.ts`): no stream per response, the response head as
 * flat header pairs, body chunks written to the client with backpressure.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { CONNECTION_PROTECTED } from './connection-header.js';
import { sendBadRequest, sendError } from './error-page.js';
import type { ProxyMetrics } from './metrics.js';
import type { RouteEntry, RouteTable } from './route-table.js';
import { DOT_SEGMENT_PROBLEM, hasDotSegment, routingPath } from './route-path.js';
import type { ResponseHead } from './response-parser.js';
import type { Exchange, UpstreamConnection, UpstreamRequest } from './upstream-connection.js';
import type { ParsedTarget, UpstreamPools } from './upstreams.js';

/** What the public-port handlers share. */
export interface ProxyContext {
  readonly table: RouteTable;
  readonly upstreams: UpstreamPools;
  readonly log: Logger;
  /** Upstream inactivity timeout for HTTP requests, in ms. */
  readonly timeoutMs: number | undefined;
  /** Base URL asked for error pages: `<errorTarget>/<code>?url=<request url>`. */
  readonly errorTarget: string | undefined;
  /** Add `X-Forwarded-*` headers (CHP's default; `--no-x-forward` turns it off). */
  readonly xForward: boolean;
  /** Match routes whose first segment is the request's host name (CHP `--host-routing`). */
  readonly hostRouting: boolean;
  /** The public port serves HTTPS (sets `X-Forwarded-Proto: https`, default port 443). */
  readonly secure: boolean;
  readonly metrics: ProxyMetrics | undefined;
  /** Headers added to every request sent upstream, as flat `[name, value, ...]` pairs (CHP `--custom-header`). */
  readonly customHeaders?: readonly string[] | undefined;
}

/**
 * Request headers never forwarded on a plain request: hop-by-hop ones, and
 * `expect` (node's server has already answered `100 Continue`).
 */
const REQUEST_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);
/** Request headers dropped on an upgrade, which keeps `Connection` and `Upgrade`. */
const UPGRADE_DROPPED = new Set(['keep-alive', 'proxy-connection']);

/**
 * The path part of a request URL (origin-form or absolute-form), as sent
 * (still encoded, dot segments unresolved), plus its query.
 */
export function requestPath(url: string | undefined): { pathname: string; pathAndQuery: string } {
  let raw = url ?? '/';
  if (!raw.startsWith('/')) raw = absolutePath(raw);
  const q = raw.indexOf('?');
  return { pathname: q === -1 ? raw : raw.slice(0, q), pathAndQuery: raw };
}

/**
 * The path and query of an absolute-form request target (`http://h:1/p?q`),
 * taken from the text as sent: a URL parser would resolve `..` in it first.
 */
function absolutePath(target: string): string {
  const scheme = target.indexOf('://');
  let at = scheme === -1 ? 0 : scheme + 3;
  while (at < target.length && target[at] !== '/' && target[at] !== '?' && target[at] !== '#') at++;
  const rest = target.slice(at).split('#', 1)[0] as string;
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** The host name of a `Host` header: port and IPv6 brackets stripped, lower case. */
export function hostName(host: string | undefined): string {
  const h = (host ?? '').trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') === -1 ? undefined : h.indexOf(']'));
  return h.replace(/:\d*$/, '');
}

/**
 * Finds the route for a request, matching on its path decoded as
 * `routingPath` does (all but `%2F` and `%5C`; CHP decodes those too). With host routing the
 * path matched is `/<host name><path>`, so the key `/alice.hub.example.org`
 * serves every path of that host; `/` still matches all. The caller refuses
 * paths with dot segments first (`hasDotSegment`).
 */
export function routeFor(
  table: RouteTable,
  req: Pick<IncomingMessage, 'url' | 'headers'>,
  hostRouting = false,
  { pathname } = requestPath(req.url),
): RouteEntry | undefined {
  return matchRoute(table, routingPath(pathname), req, hostRouting);
}

/** The route for an already decoded request path (`routingPath`). */
function matchRoute(table: RouteTable, decoded: string, req: Pick<IncomingMessage, 'headers'>, hostRouting: boolean): RouteEntry | undefined {
  return table.match(hostRouting ? `/${hostName(req.headers.host)}${decoded}` : decoded);
}

/** Whether `lowerName` is one of the `--custom-header` names (flat pairs, a handful at most). */
function isCustom(customHeaders: readonly string[], lowerName: string): boolean {
  for (let i = 0; i < customHeaders.length; i += 2) if ((customHeaders[i] as string).toLowerCase() === lowerName) return true;
  return false;
}

/** The head of the request sent upstream. */
export interface UpstreamHead {
  /** Flat `[name, value, ...]` pairs. */
  headers: string[];
  /** The client sends a body (a `Content-Length` other than 0, or `Transfer-Encoding`). */
  body: boolean;
}

/**
 * Headers to send upstream, as flat `[name, value, ...]` pairs in the client's
 * order: hop-by-hop ones and those named in `Connection` dropped (except the
 * framing and routing ones, {@link CONNECTION_PROTECTED}; an upgrade keeps
 * `Connection` and `Upgrade`), `X-Forwarded-For/Port/Proto/Host` appended
 * to any value already there, `--custom-header`s
 * added (replacing the client's headers of those names). `Host` passes through
 * unchanged.
 */
export function upstreamHead(
  req: IncomingMessage,
  xForward: boolean,
  upgrade: boolean,
  secure = false,
  customHeaders: readonly string[] = [],
): UpstreamHead {
  const raw = req.rawHeaders;
  let out: string[] = [];
  let body = false;
  const dropped = upgrade ? UPGRADE_DROPPED : REQUEST_HOP_BY_HOP;
  let named: Set<string> | undefined;
  let host = '';
  const forwarded: Record<string, string | undefined> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'transfer-encoding' || (lower === 'content-length' && value !== '0')) body = true;
    if (lower === 'connection' && !upgrade) named = connectionTokens(value, named);
    if (dropped.has(lower)) continue;
    if (customHeaders.length > 0 && isCustom(customHeaders, lower)) continue; // ours replace the client's
    if (lower === 'host') host = value;
    if (xForward && lower.startsWith('x-forwarded-')) {
      const key = lower.slice(12);
      if (key === 'for' || key === 'port' || key === 'proto' || key === 'host') {
        forwarded[key] = forwarded[key] === undefined ? value : `${forwarded[key]}, ${value}`;
        continue;
      }
    }
    out.push(name, value);
  }
  // Only the client's own headers may be removed by its `Connection` list, never those added below.
  if (named !== undefined) out = withoutNamed(out, named);
  if (xForward) {
    const port = /:(\d+)$/.exec(host)?.[1] ?? (secure ? '443' : '80');
    const ours = { for: req.socket.remoteAddress ?? '', port, proto: secure ? 'https' : 'http' };
    for (const key of ['for', 'port', 'proto'] as const) {
      const existing = forwarded[key];
      out.push(`x-forwarded-${key}`, existing !== undefined && existing !== '' ? `${existing},${ours[key]}` : ours[key]);
    }
    // Appended too (CHP keeps a client's value): the hub takes the last entry, which a client cannot forge.
    const fwdHost = forwarded['host'];
    out.push('x-forwarded-host', fwdHost !== undefined && fwdHost !== '' ? `${fwdHost},${host}` : host);
  }
  for (let i = 0; i + 1 < customHeaders.length; i += 2) out.push(customHeaders[i] as string, customHeaders[i + 1] as string);
  return { headers: out, body };
}

/**
 * Adds the header names a `Connection` value lists to `into` (undefined when
 * there are none), other than `close`, `keep-alive` and the
 * {@link CONNECTION_PROTECTED} names.
 */
function connectionTokens(value: string, into: Set<string> | undefined): Set<string> | undefined {
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t !== '' && t !== 'close' && t !== 'keep-alive' && !CONNECTION_PROTECTED.has(t)) (into ??= new Set()).add(t);
  }
  return into;
}

/** Flat header pairs without those whose (lower-case) name is in `named`. */
function withoutNamed(headers: readonly string[], named: ReadonlySet<string>): string[] {
  const keep: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (!named.has((headers[i] as string).toLowerCase())) keep.push(headers[i] as string, headers[i + 1] as string);
  }
  return keep;
}

/**
 * One proxied request: sends it on a connection of the target's origin and
 * copies the answer to the client. A request without a body that meets a
 * connection the target had just closed (keep-alive race) is sent once more
 * on a new connection.
 */
class ForwardExchange implements Exchange {
  private status = 0;
  private conn: UpstreamConnection | undefined;
  private retried = false;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly route: RouteEntry,
    private readonly target: ParsedTarget,
    private readonly request: UpstreamRequest,
  ) {}

  /** Sends the request on a free connection (a new one when `fresh`). */
  start(fresh = false): void {
    this.target.connections.acquire((conn) => {
      if (this.res.destroyed) {
        // The client left while the request waited for a free connection.
        this.target.connections.release(conn);
        return;
      }
      this.conn = conn;
      conn.send(this.request, this);
    }, fresh);
  }

  /** Cuts the upstream request (the client went away). */
  cancel(): void {
    const conn = this.conn;
    this.conn = undefined;
    conn?.abort();
  }

  onResponseHead(head: ResponseHead): void {
    this.status = head.statusCode;
    try {
      this.res.writeHead(head.statusCode, head.statusText, head.headers);
    } catch (err) {
      // Node refuses a header the parser let through: the answer cannot be forwarded as is.
      this.cancel();
      this.fail(502, `answer not forwardable: ${(err as Error).message}`);
    }
  }

  onResponseData(chunk: Buffer, last: boolean): boolean {
    if (last) {
      // The whole answer in one write (head and body), without the cork until next tick that write() sets up.
      this.ended = true;
      this.res.end(chunk);
      return true;
    }
    if (this.res.write(chunk)) return true;
    // The client is slower than the target: stop reading from the target until 'drain'
    // (the rest of the chunk already read still comes: one listener per pause).
    if (!this.waitingDrain) {
      this.waitingDrain = true;
      this.res.once('drain', this.onDrain);
    }
    return false;
  }

  private waitingDrain = false;
  /** `res.end()` has been called with the last chunk. */
  private ended = false;
  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.conn?.resume();
  };

  onResponseEnd(): void {
    this.conn = undefined;
    if (!this.ended) this.res.end();
    // Only successful requests count as activity, as in CHP.
    if (this.status < 300) this.route.lastActivity = Date.now();
    this.ctx.metrics?.request(this.status);
  }

  onResponseError(err: Error & { code?: string; retryable?: boolean }): void {
    this.conn = undefined;
    if (this.res.destroyed) return; // the client went away: nothing to tell
    if (err.retryable === true && !this.retried && !this.res.headersSent) {
      this.retried = true;
      this.start(true);
      return;
    }
    this.ctx.metrics?.upstreamError();
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    if (err.code === 'ERR_INVALID_RESPONSE') this.fail(502, err.message);
    else this.fail(503, err.code ?? err.message);
  }

  private fail(code: number, reason: string): void {
    const { ctx, req, res, route } = this;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    ctx.log.warn({ method: req.method, url: logUrl(req.url), route: route.key, err: reason }, code === 502 ? 'target gave an invalid answer' : 'target unreachable');
    sendError(ctx, req, res, code, route);
  }
}

const kExchange = Symbol('ganymede.forwardExchange');
type ResponseWithExchange = ServerResponse & { [kExchange]?: ForwardExchange };

/** A response closed before its end: the client went away, so the upstream request is cut. */
function onResponseClose(this: ResponseWithExchange): void {
  if (!this.writableFinished) this[kExchange]?.cancel();
}

/** Handles one request on the public port. */
export function handleWeb(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  if (req.url === '/_chp_healthz') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: 'OK' }));
    ctx.metrics?.request(200);
    return;
  }
  const path = requestPath(req.url);
  const decoded = routingPath(path.pathname);
  if (hasDotSegment(decoded)) {
    ctx.log.debug({ method: req.method, url: logUrl(req.url) }, 'dot segment in the request path');
    sendBadRequest(ctx, req, res, DOT_SEGMENT_PROBLEM);
    return;
  }
  const route = matchRoute(ctx.table, decoded, req, ctx.hostRouting);
  if (route === undefined) {
    ctx.log.debug({ method: req.method, url: logUrl(req.url) }, 'no route');
    sendError(ctx, req, res, 404, undefined);
    return;
  }
  let target: ParsedTarget;
  try {
    target = ctx.upstreams.resolve(route.data.target);
  } catch (err) {
    ctx.log.error({ route: route.key, target: route.data.target, err: String(err) }, 'bad route target');
    sendError(ctx, req, res, 500, undefined);
    return;
  }
  const { headers, body } = upstreamHead(req, ctx.xForward, false, ctx.secure, ctx.customHeaders);
  const exchange = new ForwardExchange(ctx, req, res, route, target, {
    method: req.method ?? 'GET',
    path: target.basePath + path.pathAndQuery,
    headers,
    body: body ? req : null,
    timeoutMs: ctx.timeoutMs ?? 0,
  });
  (res as ResponseWithExchange)[kExchange] = exchange;
  res.on('close', onResponseClose);
  exchange.start();
}

/** A URL fit for logs: no query string (it may hold tokens). */
export function logUrl(url: string | undefined): string {
  return (url ?? '').split('?', 1)[0] ?? '';
}
