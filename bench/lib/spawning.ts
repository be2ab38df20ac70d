/**
 * Starting and stopping servers through a hub's REST API, timed from the
 * client's side: POST /hub/api/users/NAME/server, then ready means a 201
 * answer or, after a 202, `servers[''].ready` in GET /hub/api/users/NAME.
 */
import { serverOf, type HubApi } from './http.js';
import { sleep } from './procs.js';

export interface SpawnTiming {
  user: string;
  /** ms from sending the POST until ready was seen; NaN when it failed. */
  ms: number;
  status: number;
  error?: string;
}

const message = (body: unknown) => (typeof body === 'object' && body !== null && 'message' in body ? String((body as { message: unknown }).message) : JSON.stringify(body)).slice(0, 200);

/** One spawn, waited for (polling GET /users/NAME every `pollMs` after a 202). */
export async function spawnOne(api: HubApi, user: string, opts: { pollMs?: number; timeoutMs?: number } = {}): Promise<SpawnTiming> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const t0 = performance.now();
  const r = await api.call('POST', `/users/${encodeURIComponent(user)}/server`, undefined, timeoutMs).catch((err: Error) => ({ status: 0, body: err.message }));
  const tPost = performance.now() - t0;
  if (r.status !== 201 && r.status !== 202) return { user, ms: NaN, status: r.status, error: `POST: HTTP ${r.status}: ${message(r.body)}` };
  let first = true;
  while (performance.now() - t0 < timeoutMs) {
    const g = await api.call('GET', `/users/${encodeURIComponent(user)}`);
    const s = serverOf(g.body);
    if (s?.ready) return { user, ms: first && r.status === 201 ? tPost : performance.now() - t0, status: r.status };
    if (!s) return { user, ms: NaN, status: r.status, error: 'the spawn failed (server gone while pending)' };
    first = false;
    await sleep(opts.pollMs ?? 10);
  }
  return { user, ms: NaN, status: r.status, error: `not ready within ${timeoutMs / 1000} s` };
}

/**
 * Many spawns at once. Every POST is sent at once; a 201 is ready at its
 * answer; others are found ready by one shared poller (GET /users?state=active
 * every `pollMs`, so that polling does not load the hub in proportion to the
 * number of spawns). Resolves per-user timings and the wall time until the
 * last one was ready.
 */
export async function spawnMany(api: HubApi, users: string[], opts: { pollMs: number; timeoutMs: number }): Promise<{ timings: SpawnTiming[]; wallMs: number }> {
  const t0 = performance.now();
  const done = new Map<string, SpawnTiming>();
  const posted = new Map<string, number>();
  const finish = (t: SpawnTiming) => {
    if (!done.has(t.user)) done.set(t.user, t);
  };
  const posts = users.map(async (user) => {
    const r = await api.call('POST', `/users/${encodeURIComponent(user)}/server`, undefined, opts.timeoutMs).catch((err: Error) => ({ status: 0, body: err.message }));
    posted.set(user, r.status);
    if (r.status === 201) finish({ user, ms: performance.now() - t0, status: 201 });
    else if (r.status !== 202) finish({ user, ms: NaN, status: r.status, error: `POST: HTTP ${r.status}: ${message(r.body)}` });
  });
  const poller = (async () => {
    while (done.size < users.length && performance.now() - t0 < opts.timeoutMs) {
      await sleep(opts.pollMs);
      const g = await api.call('GET', '/users?state=active&limit=200').catch(() => undefined);
      if (!g || !Array.isArray(g.body)) continue;
      const now = performance.now() - t0;
      const active = new Set<string>();
      for (const u of g.body as Array<{ name: string }>) {
        active.add(u.name);
        if (serverOf(u)?.ready && posted.has(u.name)) finish({ user: u.name, ms: now, status: posted.get(u.name)! });
      }
      // answered 202, and no longer active: the spawn failed
      for (const [user, status] of posted) if (status === 202 && !active.has(user) && !done.has(user)) finish({ user, ms: NaN, status, error: 'the spawn failed (server gone while pending)' });
    }
  })();
  await Promise.all([...posts, poller]);
  for (const user of users) finish({ user, ms: NaN, status: posted.get(user) ?? 0, error: `not ready within ${opts.timeoutMs / 1000} s` });
  const timings = users.map((u) => done.get(u)!);
  const ok = timings.filter((t) => Number.isFinite(t.ms)).map((t) => t.ms);
  return { timings, wallMs: ok.length === users.length ? Math.max(...ok) : NaN };
}

/** Stops a server and waits until the hub no longer lists it. Resolves ms. */
export async function stopOne(api: HubApi, user: string, timeoutMs = 60_000): Promise<number> {
  const t0 = performance.now();
  const r = await api.call('DELETE', `/users/${encodeURIComponent(user)}/server`, undefined, timeoutMs);
  if (r.status !== 204 && r.status !== 202 && r.status !== 400 && r.status !== 404) throw new Error(`DELETE /users/${user}/server: HTTP ${r.status}: ${message(r.body)}`);
  while (performance.now() - t0 < timeoutMs) {
    const g = await api.call('GET', `/users/${encodeURIComponent(user)}`);
    if (!serverOf(g.body)) return performance.now() - t0;
    await sleep(50);
  }
  throw new Error(`${user}'s server did not stop within ${timeoutMs / 1000} s`);
}

/** Stops many servers at once; resolves the wall time. */
export async function stopMany(api: HubApi, users: string[], timeoutMs = 120_000): Promise<number> {
  const t0 = performance.now();
  await Promise.all(users.map((u) => stopOne(api, u, timeoutMs).catch(() => undefined)));
  return performance.now() - t0;
}
