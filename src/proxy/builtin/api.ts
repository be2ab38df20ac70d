/**
 * The configurable-http-proxy REST API on the proxy's API port:
 * `GET|POST|DELETE /api/routes[/<path>]`, plus `GET /health`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { logUrl, requestPath } from './forward.js';
import { routePathProblem } from './route-path.js';
import type { RouteData, RouteTable } from './route-table.js';
import { normalizeRouteKey } from './route-table.js';
import { serializeRoutes } from './state-file.js';

/** Largest accepted JSON body, in bytes. */
const MAX_BODY = 1024 * 1024;

export interface ApiContext {
  readonly table: RouteTable;
  readonly log: Logger;
  /** When set, every `/api/` call needs `Authorization: token <authToken>`. */
  readonly authToken: string | undefined;
  /** Called after every change to the table, with the key of the route. */
  readonly onChange: (key: string) => void;
  /** Host routing is on: a new route's data gets `host`, its key's first segment (as CHP). */
  readonly hostRouting?: boolean | undefined;
  /** Renders `GET /metrics` (Prometheus text); needs the token like `/api/`. */
  readonly metrics?: (() => Promise<{ contentType: string; body: string }>) | undefined;
}

const ROUTES_RE = /^\/api\/routes(\/.*)?$/;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** The digest of the expected token, kept: it is the same on every call. */
let expectedDigest: { token: string; digest: Buffer } | undefined;

/** True when the request carries `Authorization: token <expected>` (the `token` scheme only). */
export function checkToken(header: string | undefined, expected: string): boolean {
  const match = /^token\s+(\S+)\s*$/.exec(header ?? '');
  if (match === null || match[1] === undefined) return false;
  if (expectedDigest?.token !== expected) expectedDigest = { token: expected, digest: digest(expected) };
  // Both sides hashed: equal lengths for timingSafeEqual, and no length leak.
  return timingSafeEqual(digest(match[1]), expectedDigest.digest);
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const type = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Creates the request listener of the API server. */
export function createApiHandler(ctx: ApiContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    res.on('finish', () => {
      const quiet = req.url === '/metrics' || req.url === '/health'; // scraped often
      const level = res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : quiet ? 'debug' : 'info';
      ctx.log[level]({ method: req.method, url: logUrl(req.url), status: res.statusCode }, 'proxy API request');
    });
    handle(ctx, req, res).catch((err: unknown) => {
      ctx.log.error({ err: String(err) }, 'proxy API handler failed');
      if (!res.headersSent) send(res, 500, 'Internal Server Error');
      else res.destroy();
    });
  };
}

async function handle(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  // The path as sent: `URL` would resolve `..` (and `%2e%2e`, and `\`) first, turning
  // `/api/routes/user/..` into `/api/routes`, the root route.
  const { pathname } = requestPath(req.url);
  if (pathname === '/health' && req.method === 'GET') {
    send(res, 200, { status: 'ok' });
    return;
  }
  const m = ROUTES_RE.exec(pathname);
  const isMetrics = pathname === '/metrics' && ctx.metrics !== undefined;
  if (m === null && !isMetrics) {
    send(res, 404, 'Not Found');
    return;
  }
  if (ctx.authToken !== undefined && !checkToken(req.headers.authorization, ctx.authToken)) {
    ctx.log.debug({ method: req.method, url: url.pathname }, 'rejecting API request without a valid token');
    send(res, 403);
    return;
  }
  if (m === null) {
    if (req.method !== 'GET' || ctx.metrics === undefined) {
      send(res, 405, 'Method not supported');
      return;
    }
    const { contentType, body } = await ctx.metrics();
    res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(m[1] ?? '/');
  } catch {
    send(res, 400, 'Route path is not valid percent-encoding');
    return;
  }
  if (req.method === 'POST') {
    // Only new routes are checked: a bad route loaded from an older store can still be read and deleted.
    const problem = routePathProblem(m[1] ?? '/', decoded);
    if (problem !== undefined) {
      send(res, 400, problem);
      return;
    }
  }
  const path = normalizeRouteKey(decoded);
  switch (req.method) {
    case 'GET':
      return getRoutes(ctx, url, path, res);
    case 'POST':
      return postRoute(ctx, req, path, res);
    case 'DELETE':
      if (!ctx.table.delete(path)) {
        send(res, 404);
        return;
      }
      ctx.log.info({ route: path }, 'route removed');
      ctx.onChange(path);
      send(res, 204);
      return;
    default:
      send(res, 405, 'Method not supported');
  }
}

function getRoutes(ctx: ApiContext, url: URL, path: string, res: ServerResponse): void {
  if (path !== '/') {
    const entry = ctx.table.get(path);
    if (entry === undefined) send(res, 404);
    else send(res, 200, { ...entry.data, last_activity: new Date(entry.lastActivity).toISOString() });
    return;
  }
  const param = url.searchParams.get('inactiveSince') ?? url.searchParams.get('inactive_since');
  if (param === null || param === '') {
    send(res, 200, serializeRoutes(ctx.table));
    return;
  }
  const since = Date.parse(param);
  if (!Number.isFinite(since)) {
    send(res, 400, `Invalid datestamp '${param}' must be ISO8601.`);
    return;
  }
  const out: Record<string, Record<string, unknown>> = {};
  for (const entry of ctx.table.entries()) {
    if (entry.lastActivity < since) {
      out[entry.key] = { ...entry.data, last_activity: new Date(entry.lastActivity).toISOString() };
    }
  }
  send(res, 200, out);
}

async function postRoute(ctx: ApiContext, req: IncomingMessage, path: string, res: ServerResponse): Promise<void> {
  let body: unknown;
  try {
    const text = await readBody(req);
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    send(res, 400, `Body not valid JSON: ${String(err)}`);
    return;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    send(res, 400, 'Body must be a JSON object');
    return;
  }
  const data: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  delete data['last_activity']; // the proxy keeps its own
  if (typeof data['target'] !== 'string') {
    send(res, 400, "Must specify 'target' as string");
    return;
  }
  if (ctx.hostRouting === true && path !== '/') data['host'] = path.split('/')[1];
  const entry = ctx.table.set(path, data as RouteData);
  ctx.log.info({ route: path, target: data['target'] }, 'route added');
  ctx.onChange(entry.key);
  send(res, 201);
}
