/**
 * Forwarding of plain HTTP requests on the proxy's public port, and the error
 * pages it serves when no route matches (404) or the target is down (503).
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AgentPool, ParsedTarget } from './agents.js';
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

/** Finds the route for a request (matching on the decoded path, as CHP does). */
export function routeFor(table: RouteTable, url: string | undefined): RouteEntry | undefined {
  const { pathname } = requestPath(url);
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    decoded = pathname;
  }
  return table.match(decoded);
}

/**
 * Headers to send upstream: the client's headers minus hop-by-hop ones, plus
 * `X-Forwarded-For/Port/Proto` (appended to any existing value) and
 * `X-Forwarded-Host` (kept if already set). `Host` is passed through unchanged.
 */
export function upstreamHeaders(req: IncomingMessage, xForward: boolean, keepUpgrade: boolean): OutgoingHttpHeaders {
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
    const port = /:(\d+)$/.exec(host)?.[1] ?? '80';
    const values: Record<string, string> = { for: req.socket.remoteAddress ?? '', port, proto: 'http' };
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
  const route = routeFor(ctx.table, req.url);
  if (route === undefined) {
    ctx.log.debug({ method: req.method, url: logUrl(req.url) }, 'no route');
    sendError(ctx, req, res, 404);
    return;
  }
  let target: ParsedTarget;
  try {
    target = ctx.agents.resolve(route.data.target);
  } catch (err) {
    ctx.log.error({ route: route.key, target: route.data.target, err: String(err) }, 'bad route target');
    sendError(ctx, req, res, 500);
    return;
  }
  const { pathAndQuery } = requestPath(req.url);
  const proxyReq = (target.secure ? https : http).request({
    protocol: target.secure ? 'https:' : 'http:',
    hostname: target.hostname,
    port: target.port,
    method: req.method,
    path: target.basePath + pathAndQuery,
    headers: upstreamHeaders(req, ctx.xForward, false),
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
    if (res.headersSent) {
      res.destroy();
      return;
    }
    ctx.log.warn({ method: req.method, url: logUrl(req.url), route: route.key, err: err.code ?? err.message }, 'target unreachable');
    sendError(ctx, req, res, 503);
  });
  res.on('close', () => {
    if (!res.writableFinished) proxyReq.destroy();
  });
  // Only successful requests count as activity, as in CHP.
  res.on('finish', () => {
    if (res.statusCode < 300) touch();
  });
}

/** Answers `code`, with the error target's page for that code if one is configured. */
export function sendError(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, code: number): void {
  if (ctx.errorTarget === undefined) {
    defaultErrorPage(res, code);
    return;
  }
  const url = new URL(ctx.errorTarget.replace(/\/?$/, '/') + String(code));
  url.searchParams.set('url', req.url ?? '/');
  const errReq = (url.protocol === 'https:' ? https : http).get(url, { timeout: 5000 }, (upstream) => {
    if (res.writableEnded || res.destroyed) {
      upstream.resume();
      return;
    }
    for (const name of ['content-type', 'content-encoding']) {
      const value = upstream.headers[name];
      if (value !== undefined) res.setHeader(name, value);
    }
    res.writeHead(code);
    upstream.pipe(res);
    upstream.on('error', () => res.destroy());
  });
  errReq.on('timeout', () => errReq.destroy(new Error('timed out')));
  errReq.on('error', (err) => {
    ctx.log.error({ code, err: err.message }, 'could not get the error page from the error target');
    defaultErrorPage(res, code);
  });
}

function defaultErrorPage(res: ServerResponse, code: number): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const reason = http.STATUS_CODES[code] ?? 'Error';
  const body =
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${code} ${reason}</title></head>` +
    `<body><h1>${code}: ${reason}</h1>` +
    (code === 503 ? '<p>The server behind this address is not responding.</p>' : '') +
    '</body></html>\n';
  res.writeHead(code, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** A URL fit for logs: no query string (it may hold tokens). */
export function logUrl(url: string | undefined): string {
  return (url ?? '').split('?', 1)[0] ?? '';
}
