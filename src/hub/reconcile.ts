import { activeServers, touchServerActivity } from '../db/repos/servers.js';
import { touchUserActivity } from '../db/repos/users.js';
import type { Hub } from './context.js';
import { serverPrefix } from './spawn-env.js';

/**
 * Makes the proxy's routing table match the database: the hub's own route at
 * the base URL, one route per ready server; stale hub-owned routes are
 * removed. Copies each route's `last_activity` into the server and user.
 */
export async function reconcileRoutes(hub: Hub): Promise<{ added: number; removed: number }> {
  const [routes, servers] = await Promise.all([hub.proxy.getAllRoutes(), activeServers(hub.db)]);
  const wanted = new Map<string, { target: string; data: Record<string, unknown> }>();
  wanted.set(hub.urls.base, { target: hub.urls.internal, data: { hub: true } });
  for (const s of servers) {
    if (!s.ready || !s.url) continue;
    wanted.set(serverPrefix(hub.urls, s.user_name, s.name), { target: s.url, data: { jupyterhub: true, user: s.user_name, server_name: s.name } });
  }
  let added = 0;
  let removed = 0;
  for (const [spec, want] of wanted) {
    const have = routes.get(spec);
    if (!have || have.target !== want.target) {
      await hub.proxy.addRoute(spec, want.target, want.data);
      added++;
    }
  }
  for (const [spec, have] of routes) {
    if (!wanted.has(spec) && (have.data['jupyterhub'] === true || have.data['hub'] === true)) {
      await hub.proxy.deleteRoute(spec);
      removed++;
    }
  }
  for (const s of servers) {
    const route = routes.get(serverPrefix(hub.urls, s.user_name, s.name));
    if (!route?.lastActivity || !s.ready) continue;
    const when = route.lastActivity.toISOString();
    if (!s.last_activity || when > s.last_activity) {
      await touchServerActivity(hub.db, s.id, when);
      await touchUserActivity(hub.db, s.user_id, when);
    }
  }
  if (added || removed) hub.log.info({ added, removed }, 'reconciled proxy routes with the database');
  return { added, removed };
}
