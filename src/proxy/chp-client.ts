/**
 * Client of the configurable-http-proxy REST API. Works against the npm
 * `configurable-http-proxy` and against Ganymede's built-in proxy.
 *
 * Route specs follow JupyterHub: URL-quoted path prefixes ending in `/`
 * (`/user/alice/`). CHP stores keys unquoted and without the trailing slash;
 * this client converts both ways, so a spec read back equals the spec added.
 */
import { ProxyError } from '../lib/errors.js';
import { dotSegmentIn } from '../lib/route-path.js';
import type { Proxy, Route, RouteData } from './proxy.js';

export interface ChpClientOptions {
  /** Base URL of the proxy API, e.g. `http://127.0.0.1:8001` (without `/api/routes`). */
  apiUrl: string;
  /** Sent as `Authorization: token <authToken>`; an empty string sends no header. */
  authToken: string;
  /** Timeout of each API call, in ms (default 10000). */
  timeoutMs?: number;
}

/** `/user/alice/` -> `/user/alice`; `/` stays `/`; a missing leading `/` is added. */
export function routespecToChpPath(routespec: string): string {
  let path = routespec.startsWith('/') ? routespec : `/${routespec}`;
  while (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path;
}

/**
 * Makes a path safe for a URL without double-quoting it: existing `%XX`
 * escapes and characters legal in a path are kept, anything else is encoded.
 */
export function quoteRequestPath(path: string): string {
  return path.replace(/%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/gu, (c) => encodeURIComponent(c));
}

/** Python's `urllib.parse.quote(key, safe='@/~')`, as JupyterHub applies to CHP's keys. */
export function quoteRouteKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%40/g, '@')
    .replace(/%2F/g, '/');
}

/** A CHP route key (`/user/alice`, unquoted) -> a route spec (`/user/alice/`). */
export function chpKeyToRoutespec(key: string): string {
  const quoted = quoteRouteKey(key.startsWith('/') ? key : `/${key}`);
  return quoted.endsWith('/') ? quoted : `${quoted}/`;
}

function describeFailure(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
    const cause: unknown = err.cause;
    if (cause instanceof Error) {
      const code = (cause as NodeJS.ErrnoException).code;
      return code ?? cause.message;
    }
    return err.message;
  }
  return String(err);
}

export class ChpClient implements Proxy {
  private readonly apiUrl: string;
  private readonly authToken: string;
  private readonly timeoutMs: number;

  constructor(opts: ChpClientOptions) {
    this.apiUrl = opts.apiUrl.replace(/\/+$/, '');
    this.authToken = opts.authToken;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Adds or replaces a route. The proxy stores `{...data, target}`. */
  async addRoute(routespec: string, target: string, data: RouteData): Promise<void> {
    const body = JSON.stringify({ ...data, target });
    await this.request('POST', routespecToChpPath(routespec), body, [201, 200]);
  }

  /** Removes a route; a route that does not exist counts as removed. */
  async deleteRoute(routespec: string): Promise<void> {
    await this.request('DELETE', routespecToChpPath(routespec), undefined, [204, 200, 404]);
  }

  /** The route stored exactly at `routespec`, or undefined. */
  async getRoute(routespec: string): Promise<(Route & { lastActivity?: Date }) | undefined> {
    const path = routespecToChpPath(routespec);
    if (path === '/') return (await this.getAllRoutes()).get('/');
    const res = await this.request('GET', path, undefined, [200, 404]);
    if (res.status === 404) return undefined;
    return toRoute(path, await this.json(res, path));
  }

  /** Every route the proxy holds, keyed by route spec (with trailing `/`). */
  async getAllRoutes(): Promise<Map<string, Route & { lastActivity?: Date }>> {
    const res = await this.request('GET', '', undefined, [200]);
    const body = await this.json(res, '');
    const routes = new Map<string, Route & { lastActivity?: Date }>();
    for (const [key, value] of Object.entries(body)) {
      const route = toRoute(key, value);
      if (route !== undefined) routes.set(route.routespec, route);
    }
    return routes;
  }

  private async request(method: string, path: string, body: string | undefined, ok: number[]): Promise<Response> {
    if (dotSegmentIn(path) !== undefined) throw new ProxyError(`Refusing the route ${JSON.stringify(path.slice(0, 200))}: it has a dot segment or a hidden separator`);
    const url = `${this.apiUrl}/api/routes${quoteRequestPath(path)}`;
    const what = `proxy API ${method} /api/routes${path}`;
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.authToken !== '') headers['Authorization'] = `token ${this.authToken}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new ProxyError(`${what} failed: cannot reach the proxy at ${this.apiUrl} (${describeFailure(err)})`, {
        cause: err,
      });
    }
    if (!ok.includes(res.status)) {
      const text = await res.text().catch(() => '');
      const hint = res.status === 403 ? ' (wrong or missing proxy auth token)' : '';
      throw new ProxyError(`${what} failed: ${res.status} ${res.statusText}${hint}`, {
        logMessage: text.slice(0, 500),
      });
    }
    if (method !== 'GET') await res.body?.cancel();
    return res;
  }

  private async json(res: Response, path: string): Promise<Record<string, unknown>> {
    let parsed: unknown;
    try {
      parsed = await res.json();
    } catch (err) {
      throw new ProxyError(`proxy API GET /api/routes${path} returned invalid JSON`, { cause: err });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ProxyError(`proxy API GET /api/routes${path} returned ${Array.isArray(parsed) ? 'an array' : typeof parsed}, not an object`);
    }
    return parsed as Record<string, unknown>;
  }
}

function toRoute(key: string, value: unknown): (Route & { lastActivity?: Date }) | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { target, last_activity: lastActivity, ...data } = value as Record<string, unknown>;
  if (typeof target !== 'string') return undefined;
  const route: Route & { lastActivity?: Date } = { routespec: chpKeyToRoutespec(key), target, data };
  if (typeof lastActivity === 'string') {
    const when = new Date(lastActivity);
    if (!Number.isNaN(when.getTime())) route.lastActivity = when;
  }
  return route;
}
