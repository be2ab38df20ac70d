import { activeServers } from '../db/repos/servers.js';
import { recordRouteActivity } from './route-activity.js';
import { ProxyError } from '../lib/errors.js';
import { dotSegmentIn } from '../lib/route-path.js';
import { proxyMembers } from '../proxy/multi-proxy.js';
import type { Proxy, Route } from '../proxy/proxy.js';
import type { Hub } from './context.js';
import { serverPrefix } from './spawn-env.js';
import { isServiceRoute, wantedServiceRoutes } from '../services/service-routes.js';

type Wanted = Map<string, { target: string; data: Record<string, unknown> }>;

/**
 * Route changes one reconciliation keeps in flight per proxy: a proxy that
 * restarted empty gets thousands of routes back in a fraction of the time one
 * at a time would take, without opening thousands of connections.
 */
export const RECONCILE_CONCURRENCY = 16;
type Table = Map<string, Route & { lastActivity?: Date }>;

/**
 * Makes the proxy's routing table match the database: the hub's own route at
 * the base URL, one route per ready server, one per service with a url
 * (`<base>services/<name>/`, data `{service}`); stale hub-owned routes are
 * removed (a removed service's too). Copies each route's `last_activity` into the server and user.
 *
 * A server being started keeps whatever route it has: its spawn adds the route
 * (after storing the server's url) before marking it ready, and removing the
 * route in between would leave the new server unreachable until the next
 * reconciliation. For the same reason every proxy's table is read before the
 * database: a route added while this runs is then either missing from the
 * table read (so not removed) or belongs to a server the database read already
 * sees as starting or ready.
 *
 * When the hub has several proxies (a MultiProxy), each one's table is read
 * and repaired separately, and the latest activity any of them saw is kept.
 * A proxy that fails does not stop the others; the error (naming every proxy
 * that failed) is thrown after all were tried.
 */
export async function reconcileRoutes(hub: Hub): Promise<{ added: number; removed: number }> {
  const began = performance.now();
  try {
    const result = await reconcileAll(hub);
    hub.metrics.proxyPolled('success', (performance.now() - began) / 1000);
    return result;
  } catch (err) {
    hub.metrics.proxyPolled('failure', (performance.now() - began) / 1000);
    throw err;
  }
}

async function reconcileAll(hub: Hub): Promise<{ added: number; removed: number }> {
  const members = proxyMembers(hub.proxy);
  const reads = await Promise.all(
    members.map((m) =>
      m.proxy.getAllRoutes().then(
        (routes) => ({ member: m, routes, err: undefined as unknown }),
        (err: unknown) => ({ member: m, routes: undefined, err }),
      ),
    ),
  );
  const servers = await activeServers(hub.db);
  const wanted: Wanted = new Map();
  const starting = new Set<string>();
  wanted.set(hub.urls.base, { target: hub.urls.internal, data: { hub: true } });
  for (const [spec, route] of await wantedServiceRoutes(hub.db, hub.urls)) wanted.set(spec, route);
  for (const s of servers) {
    const spec = serverPrefix(hub.urls, s.user_name, s.name);
    if (dotSegmentIn(spec) !== undefined) continue; // a name stored before the name rules: never routed
    if (s.pending === 'spawn') starting.add(spec);
    else if (s.ready && s.url) wanted.set(spec, { target: s.url, data: { jupyterhub: true, user: s.user_name, server_name: s.name } });
  }
  let added = 0;
  let removed = 0;
  const tables: Table[] = [];
  const failures: { name: string; err: unknown }[] = [];
  await Promise.all(
    reads.map(async ({ member, routes, err }) => {
      try {
        if (!routes) throw err;
        tables.push(routes);
        const result = await reconcileOne(member.proxy, routes, wanted, starting);
        added += result.added;
        removed += result.removed;
      } catch (e) {
        failures.push({ name: member.name, err: e });
      }
    }),
  );
  // Single proxy: its error as it was thrown (unchanged behaviour).
  if (members.length === 1 && failures.length === 1) throw failures[0]!.err;
  await recordRouteActivity(hub, servers, tables);
  if (added || removed) hub.log.info({ added, removed, ...(members.length > 1 ? { proxies: members.length } : {}) }, 'reconciled proxy routes with the database');
  if (failures.length) {
    const detail = failures.map((f) => `${f.name}: ${f.err instanceof Error ? f.err.message : String(f.err)}`).join('; ');
    throw new ProxyError(`Could not reconcile ${failures.length} of ${members.length} proxies (${detail})`, { cause: failures[0]!.err });
  }
  return { added, removed };
}

/** Repairs one proxy's table (`routes`, as read from it); routes of servers in `starting` are left alone. */
async function reconcileOne(proxy: Proxy, routes: Table, wanted: Wanted, starting: ReadonlySet<string>): Promise<{ added: number; removed: number }> {
  const additions: (() => Promise<void>)[] = [];
  for (const [spec, want] of wanted) {
    const have = routes.get(spec);
    if (!have || have.target !== want.target) additions.push(() => proxy.addRoute(spec, want.target, want.data));
  }
  const removals: (() => Promise<void>)[] = [];
  for (const [spec, have] of routes) {
    if (wanted.has(spec) || starting.has(spec)) continue;
    if (have.data['jupyterhub'] === true || have.data['hub'] === true || isServiceRoute(have.data)) removals.push(() => proxy.deleteRoute(spec));
  }
  await inParallel(additions, RECONCILE_CONCURRENCY);
  await inParallel(removals, RECONCILE_CONCURRENCY);
  return { added: additions.length, removed: removals.length };
}

/** Runs `tasks` with at most `limit` in flight; rejects with the first failure once the running ones have settled. */
async function inParallel(tasks: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < tasks.length) {
      const task = tasks[next++] as () => Promise<void>;
      try {
        await task();
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (failure !== undefined) throw failure.err;
}
