import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { listServices } from '../db/repos/services.js';
import { urlJoin } from '../lib/names.js';
import type { HubUrls } from '../hub/context.js';

/** A route the hub wants in the proxy's table. */
export interface WantedRoute {
  target: string;
  data: Record<string, unknown>;
}

/** Where a service is reached through the proxy: `<base_url>services/<name>/` (JupyterHub's `prefix`). */
export function servicePrefix(urls: Pick<HubUrls, 'base'>, name: string): string {
  return urlJoin(urls.base, 'services', encodeURIComponent(name), '/');
}

/**
 * The proxy target of a service url: its origin (as JupyterHub routes to the
 * service's host; the request path, `/services/<name>/...`, is kept).
 */
export function serviceTarget(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

/** True for a route the hub added for a service (data `{service: name}`). */
export function isServiceRoute(data: Record<string, unknown>): boolean {
  return typeof data['service'] === 'string';
}

/** The routes of every stored service that has a url, by proxy path (the database is the source of truth). */
export async function wantedServiceRoutes(db: Kysely<DB>, urls: Pick<HubUrls, 'base'>): Promise<Map<string, WantedRoute>> {
  const out = new Map<string, WantedRoute>();
  for (const s of await listServices(db)) {
    const target = s.url ? serviceTarget(s.url) : undefined;
    if (target) out.set(servicePrefix(urls, s.name), { target, data: { service: s.name } });
  }
  return out;
}
