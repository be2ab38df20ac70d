import { activeServers, touchServerActivity, type ServerRow } from '../db/repos/servers.js';
import { touchUserActivity } from '../db/repos/users.js';
import { proxyMembers } from '../proxy/multi-proxy.js';
import type { Route } from '../proxy/proxy.js';
import type { Hub } from './context.js';
import { serverPrefix } from './spawn-env.js';

type Table = Map<string, Route & { lastActivity?: Date }>;

/**
 * Copies the proxies' per-route activity into the running servers and their
 * users (source 'proxy'): for each ready server, the latest `last_activity`
 * any proxy has for its route, when newer than the stored one (an older value
 * never moves a time back). Returns how many servers moved forward.
 */
export async function recordRouteActivity(hub: Hub, servers: readonly (ServerRow & { user_name: string })[], tables: readonly Table[]): Promise<number> {
  let moved = 0;
  for (const s of servers) {
    if (!s.ready) continue;
    const spec = serverPrefix(hub.urls, s.user_name, s.name);
    let latest: Date | undefined;
    for (const t of tables) {
      const at = t.get(spec)?.lastActivity;
      if (at && (!latest || at > latest)) latest = at;
    }
    if (!latest) continue;
    const when = latest.toISOString();
    if (!s.last_activity || when > s.last_activity) {
      await touchServerActivity(hub.db, s.id, when, 'proxy');
      await touchUserActivity(hub.db, s.user_id, when);
      moved++;
    }
  }
  return moved;
}

/**
 * Reads every proxy's routing table and records its activity (JupyterHub's
 * `update_last_activity`). A proxy that cannot be read is skipped (logged);
 * the others still count.
 */
export async function pollRouteActivity(hub: Hub): Promise<number> {
  const tables: Table[] = [];
  await Promise.all(
    proxyMembers(hub.proxy).map(async (m) => {
      try {
        tables.push(await m.proxy.getAllRoutes());
      } catch (err) {
        hub.log.warn({ proxy: m.name, err: (err as Error).message }, "could not read the proxy's route activity; will retry");
      }
    }),
  );
  if (!tables.length) return 0;
  return recordRouteActivity(hub, await activeServers(hub.db), tables);
}

/**
 * Polls the proxies' route activity every `last_activity_interval` seconds
 * (read from `hub.config` at each tick; 0 pauses it). Returns a stop function.
 */
export function startActivityPolling(hub: Hub): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    const seconds = hub.config.last_activity_interval;
    timer = setTimeout(tick, (seconds > 0 ? seconds : 60) * 1000);
    timer.unref();
  };
  const tick = () => {
    if (hub.config.last_activity_interval <= 0) return schedule();
    pollRouteActivity(hub)
      .catch((err: Error) => hub.log.warn({ err: err.message }, 'recording route activity failed; will retry'))
      .finally(schedule);
  };
  schedule();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
