/**
 * Forwarding of plain HTTP requests on the proxy's public port, and the error
 * pages it serves when no route matches (404) or the target is down (503).
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AgentPool, ParsedTarget } from './agents.js';
import { sendError } from './error-page.js';
import type { ProxyMetrics } from './metrics.js';
import type { RouteEntry, RouteTable } from './route-table.js';

/** What the public-port handlers share. */
export interface ProxyContext {
  readonly table: RouteTable;
  readonly agents: AgentPool;
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
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'];

/** The path part of a request URL (origin-form or absolute-form), still encoded, plus its query. */
export function requestPath(url: string | undefined): { pathname: string; pathAndQuery: string } {
  let raw = url ?? '/';
  if (!raw.startsWith('/')) {
    const parsed = new URL(raw, 'http://invalid');
    raw = parsed.pathname + parsed.search;
  }
  const q = raw.indexOf('?');
  return { pathname: q === -1 ? raw : raw.slice(0, q), pathAndQuery: raw };
}

/** The host name of a `Host` header: port and IPv6 brackets stripped, lower case. */
export function hostName(host: string | undefined): string {
  const h = (host ?? '').trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') === -1 ? undefined : h.indexOf(']'));
  return h.replace(/:\d*$/, '');
}

/**
 * Finds the route for a request (matching on the decoded path, as CHP does).
 * With host routing the path matched is `/<host name><path>`, so the key
 * `/alice.hub.example.org` serves every path of that host; `/` still matches all.
 */
export function routeFor(
  table: RouteTable,
  req: Pick<IncomingMessage, 'url' | 'headers'>,
  hostRouting = false,
): RouteEntry | undefined {
  const { pathname } = requestPath(req.url);
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    decoded = pathname;
  }
  if (hostRouting) decoded = `/${hostName(req.headers.host)}${decoded}`;
  return table.match(decoded);
}

/**
 * Headers to send upstream: the client's headers minus hop-by-hop ones, plus
 * `X-Forwarded-For/Port/Proto` (appended to any existing value) and
 * `X-Forwarded-Host` (kept if already set). `Host` is passed through unchanged.
 */
export function upstreamHeaders(req: IncomingMessage, xForward: boolean, keepUpgrade: boolean, secure = false): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ...req.headers };
  const connection = req.headers.connection;
  if (!keepUpgrade) {
    if (typeof connection === 'string') {
      for (const token of connection.split(',')) delete headers[token.trim().toLowerCase()];
    }
    for (const name of HOP_BY_HOP) delete headers[name];
  } else {
    delete headers['keep-alive'];
    delete headers['proxy-connection'];
  }
  if (xForward) {
    const host = req.headers.host ?? '';
    const port = /:(\d+)$/.exec(host)?.[1] ?? (secure ? '443' : '80');
    const values: Record<string, string> = { for: req.socket.remoteAddress ?? '', port, proto: secure ? 'https' : 'http' };
    for (const [key, value] of Object.entries(values)) {
      const name = `x-forwarded-${key}`;
      const existing = req.headers[name];
      headers[name] = typeof existing === 'string' && existing !== '' ? `${existing},${value}` : value;
    }
    headers['x-forwarded-host'] = req.headers['x-forwarded-host'] ?? host;
  }
  return headers;
}

/** Handles one request on the public port. */
export function handleWeb(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  if (req.url === '/_chp_healthz') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: 'OK' }));
    return;
  }
  const route = routeFor(ctx.table, req, ctx.hostRouting);
  if (route === undefined) {
    ctx.log.debug({ method: req.method, url: logUrl(req.url) }, 'no route');
    sendError(ctx, req, res, 404, undefined);
    return;
  }
  let target: ParsedTarget;
  try {
    target = ctx.agents.resolve(route.data.target);
  } catch (err) {
    ctx.log.error({ route: route.key, target: route.data.target, err: String(err) }, 'bad route target');
    sendError(ctx, req, res, 500, undefined);
    return;
  }
  const { pathAndQuery } = requestPath(req.url);
  const proxyReq = (target.secure ? https : http).request({
    protocol: target.secure ? 'https:' : 'http:',
    hostname: target.hostname,
    port: target.port,
    method: req.method,
    path: target.basePath + pathAndQuery,
    headers: upstreamHeaders(req, ctx.xForward, false, ctx.secure),
    agent: target.agent,
  });
  if (ctx.timeoutMs !== undefined) {
    proxyReq.setTimeout(ctx.timeoutMs, () => {
      proxyReq.destroy(Object.assign(new Error(`no answer from target in ${ctx.timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
  }
  const touch = (): void => {
    route.lastActivity = new Date();
  };
  req.on('data', touch);
  req.pipe(proxyReq);

  proxyReq.on('response', (upstream) => {
    const headers: OutgoingHttpHeaders = { ...upstream.headers };
    for (const name of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding']) delete headers[name];
    res.writeHead(upstream.statusCode ?? 502, upstream.statusMessage, headers);
    upstream.pipe(res);
    upstream.on('error', () => res.destroy());
    upstream.on('close', () => {
      if (!upstream.complete) res.destroy();
    });
  });
  proxyReq.on('error', (err: NodeJS.ErrnoException) => {
    ctx.metrics?.upstreamError();
    if (res.headersSent) {
      res.destroy();
      return;
    }
    ctx.log.warn({ method: req.method, url: logUrl(req.url), route: route.key, err: err.code ?? err.message }, 'target unreachable');
    sendError(ctx, req, res, 503, route);
  });
  res.on('close', () => {
    if (!res.writableFinished) proxyReq.destroy();
  });
  // Only successful requests count as activity, as in CHP.
  res.on('finish', () => {
    if (res.statusCode < 300) touch();
  });
}

/** A URL fit for logs: no query string (it may hold tokens). */
export function logUrl(url: string | undefined): string {
  return (url ?? '').split('?', 1)[0] ?? '';
}
