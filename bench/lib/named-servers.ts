/**
 * Many named servers of a few users, started and stopped at once through the
 * REST API (POST/DELETE /hub/api/users/NAME/servers/SERVER), watched by one
 * poller of GET /users/NAME per user.
 */
import { serverOf, type HubApi } from './http.js';
import { sleep } from './procs.js';

/** One server: its user and name. */
export interface NamedServer {
  user: string;
  name: string;
}

/** `perUser` servers (`s001`…) for each of `users`. */
export function namedServers(users: string[], perUser: number): NamedServer[] {
  return users.flatMap((user) => Array.from({ length: perUser }, (_, i) => ({ user, name: `s${String(i + 1).padStart(3, '0')}` })));
}

const path = (s: NamedServer) => `/users/${encodeURIComponent(s.user)}/servers/${encodeURIComponent(s.name)}`;
const text = (body: unknown) => (typeof body === 'object' && body !== null && 'message' in body ? String((body as { message: unknown }).message) : JSON.stringify(body)).slice(0, 200);

/** The servers map of each user (undefined for a user the GET failed for). */
async function serverMaps(api: HubApi, users: string[]): Promise<Map<string, Record<string, unknown> | undefined>> {
  const out = new Map<string, Record<string, unknown> | undefined>();
  await Promise.all(
    users.map(async (u) => {
      const g = await api.call('GET', `/users/${encodeURIComponent(u)}`, undefined, 30_000).catch(() => undefined);
      out.set(u, g?.status === 200 ? ((g.body as { servers?: Record<string, unknown> }).servers ?? {}) : undefined);
    }),
  );
  return out;
}

/**
 * Starts every server at once; resolves when each is ready or failed (or at
 * the timeout): the wall time and the errors by message.
 */
export async function spawnNamedMany(api: HubApi, servers: NamedServer[], timeoutMs: number): Promise<{ wallMs: number; ready: number; errors: Map<string, number> }> {
  const t0 = performance.now();
  const errors = new Map<string, number>();
  const fail = (why: string) => errors.set(why, (errors.get(why) ?? 0) + 1);
  const open = new Set<string>();
  await Promise.all(
    servers.map(async (s) => {
      const r = await api.call('POST', path(s), undefined, timeoutMs).catch((err: Error) => ({ status: 0, body: err.message }));
      if (r.status === 201 || r.status === 202) open.add(`${s.user}/${s.name}`);
      else fail(`POST: HTTP ${r.status}: ${text(r.body)}`);
    }),
  );
  const users = [...new Set(servers.map((s) => s.user))];
  let ready = 0;
  while (open.size && performance.now() - t0 < timeoutMs) {
    const maps = await serverMaps(api, users);
    for (const key of [...open]) {
      const [user, name] = key.split('/') as [string, string];
      const map = maps.get(user);
      if (!map) continue;
      const s = serverOf({ servers: map }, name);
      if (s?.ready) {
        ready++;
        open.delete(key);
      } else if (!s) {
        fail('the spawn failed (server gone while pending)');
        open.delete(key);
      }
    }
    if (open.size) await sleep(250);
  }
  for (let i = 0; i < open.size; i++) fail(`not ready within ${timeoutMs / 1000} s`);
  return { wallMs: performance.now() - t0, ready, errors };
}

/** Stops every server at once; resolves when none of them is listed any more (or throws at the timeout). */
export async function stopNamedMany(api: HubApi, servers: NamedServer[], timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all(servers.map((s) => api.call('DELETE', path(s), undefined, timeoutMs).catch(() => undefined)));
  const users = [...new Set(servers.map((s) => s.user))];
  while (performance.now() - t0 < timeoutMs) {
    const maps = await serverMaps(api, users);
    if (servers.every((s) => maps.get(s.user) !== undefined && !serverOf({ servers: maps.get(s.user) }, s.name))) return performance.now() - t0;
    await sleep(250);
  }
  throw new Error(`servers still listed after ${timeoutMs / 1000} s`);
}
