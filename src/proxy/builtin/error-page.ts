/**
 * Error answers of the public port: CHP's `--error-target` pages, a small
 * built-in page, and a "server not running" page for JupyterHub user routes.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyContext } from './forward.js';
import type { RouteEntry } from './route-table.js';
import { jsonErrorBody, OWN_ANSWER_HEADERS, RELAYED_ERROR_HEADERS, wantsJson } from './own-answer.js';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The JupyterHub user a route belongs to (its data has a string `user`), if any. */
export function routeUser(route: RouteEntry | undefined): string | undefined {
  const user = route?.data['user'];
  return typeof user === 'string' && user !== '' ? user : undefined;
}

/**
 * Answers `code`: with the error target's page for that code if one is
 * configured (as CHP), else (or if that fails) with a built-in page. A 503 for
 * a route owned by a JupyterHub user gets a page linking to `/hub/user/<user>/`.
 */
export function sendError(
  ctx: Pick<ProxyContext, 'errorTarget' | 'log' | 'metrics' | 'hostRouting'>,
  req: IncomingMessage,
  res: ServerResponse,
  code: number,
  route: RouteEntry | undefined,
): void {
  ctx.metrics?.request(code);
  const user = code === 503 ? routeUser(route) : undefined;
  const fallback = (): void => {
    if (user !== undefined && route !== undefined) userServerPage(req, res, user, hubLinkFor(route.key, user, ctx.hostRouting));
    else defaultErrorPage(req, res, code);
  };
  if (ctx.errorTarget === undefined) {
    fallback();
    return;
  }
  const url = new URL(ctx.errorTarget.replace(/\/?$/, '/') + String(code));
  url.searchParams.set('url', req.url ?? '/');
  const errReq = (url.protocol === 'https:' ? https : http).get(url, { timeout: 5000 }, (upstream) => {
    if (res.writableEnded || res.destroyed) {
      upstream.resume();
      return;
    }
    const status = upstream.statusCode ?? 500;
    if (status >= 400 && user !== undefined) {
      // The error target has no page for this: the user page says more than a bare error.
      upstream.resume();
      fallback();
      return;
    }
    for (const name of ['content-type', 'content-encoding']) {
      const value = upstream.headers[name];
      if (value !== undefined) res.setHeader(name, value);
    }
    for (const [name, value] of Object.entries(RELAYED_ERROR_HEADERS)) res.setHeader(name, value);
    res.writeHead(code);
    upstream.pipe(res);
    upstream.on('error', () => res.destroy());
  });
  errReq.on('timeout', () => errReq.destroy(new Error('timed out')));
  errReq.on('error', (err) => {
    ctx.log.error({ code, err: err.message }, 'could not get the error page from the error target');
    fallback();
  });
}

/**
 * The proxy's own error answer: an HTML page, or `{"status", "message"}` for
 * a client that wants JSON (own-answer.ts), with the proxy's security headers.
 */
function sendPage(req: IncomingMessage, res: ServerResponse, code: number, title: string, inner: string, message: string): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const json = wantsJson(req.url, req.headers.accept);
  const body = json
    ? jsonErrorBody(code, message)
    : `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` + `<body>${inner}</body></html>\n`;
  res.writeHead(code, {
    ...OWN_ANSWER_HEADERS,
    'Content-Type': json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Answers 400 with a page naming `problem` (a request the proxy refuses before routing it). */
export function sendBadRequest(ctx: Pick<ProxyContext, 'metrics'>, req: IncomingMessage, res: ServerResponse, problem: string): void {
  sendRefused(ctx, req, res, 400, problem);
}

/** Answers `status` (a 4xx) with a page or JSON naming `problem`, and closes the connection. */
export function sendRefused(ctx: Pick<ProxyContext, 'metrics'>, req: IncomingMessage, res: ServerResponse, status: number, problem: string): void {
  ctx.metrics?.request(status);
  const title = `${status} ${http.STATUS_CODES[status] ?? 'Error'}`;
  res.shouldKeepAlive = false;
  sendPage(req, res, status, title, `<h1>${escapeHtml(title.replace(' ', ': '))}</h1><p>${escapeHtml(problem)}</p>`, problem);
}

function defaultErrorPage(req: IncomingMessage, res: ServerResponse, code: number): void {
  const reason = http.STATUS_CODES[code] ?? 'Error';
  const message = code === 503 ? 'the server behind this address is not responding' : reason;
  sendPage(
    req,
    res,
    code,
    `${code} ${reason}`,
    `<h1>${code}: ${reason}</h1>` + (code === 503 ? '<p>The server behind this address is not responding.</p>' : ''),
    message,
  );
}

/**
 * The hub page that restarts the server behind a user route, host-relative:
 * `<base>hub/user/<name>/[<server>/]`, where `<base>` is what precedes
 * `/user/<name>` in the route key (the hub's `base_url`; under host routing the
 * key's first segment, the host, is left out).
 */
export function hubLinkFor(routeKey: string, user: string, hostRouting: boolean): string {
  const marker = `/user/${user}`;
  let at = routeKey.lastIndexOf(marker);
  while (at !== -1 && at + marker.length < routeKey.length && routeKey[at + marker.length] !== '/') {
    at = at === 0 ? -1 : routeKey.lastIndexOf(marker, at - 1);
  }
  if (at === -1) return `/hub/user/${encodeURIComponent(user)}/`;
  let base = routeKey.slice(0, at);
  if (hostRouting) base = base.replace(/^\/[^/]*/, '');
  const rest = routeKey.slice(at).split('/').map(encodeURIComponent).join('/');
  return `${base}/hub${rest}/`;
}

/** 503 page for a user's server that does not answer; `href` is the hub page that restarts it. */
function userServerPage(req: IncomingMessage, res: ServerResponse, user: string, href: string): void {
  sendPage(
    req,
    res,
    503,
    '503 Server not running',
    `<h1>Server not running</h1><p>The server of <b>${escapeHtml(user)}</b> is not running or not responding.</p>` +
      `<p><a href="${escapeHtml(href)}">Go to the hub</a> to start it again.</p>`,
    `the server of ${JSON.stringify(user)} is not running or not responding: start it again at ${href}`,
  );
}
