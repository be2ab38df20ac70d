import type { ProxyError } from '../lib/errors.js';

/**
 * Data stored with a route, kept as given (configurable-http-proxy semantics).
 * The hub always sets `jupyterhub: true`, and `user`/`server_name` on user routes.
 */
export type RouteData = Record<string, unknown>;

export interface Route {
  /** The path prefix, always starting and ending with `/` (e.g. `/user/alice/`). */
  routespec: string;
  target: string;
  data: RouteData;
}

/**
 * What the hub needs from a proxy. Every method throws {@link ProxyError}
 * when the proxy cannot be reached or refuses the call.
 */
export interface Proxy {
  addRoute(routespec: string, target: string, data: RouteData): Promise<void>;
  deleteRoute(routespec: string): Promise<void>;
  /** Every route the proxy holds, keyed by routespec (with trailing `/`). */
  getAllRoutes(): Promise<Map<string, Route & { lastActivity?: Date }>>;
}

export type { ProxyError };
