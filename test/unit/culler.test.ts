import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cullAt, cullTime, userCullDue } from '../../src/services/culler/cull-at.js';
import { cullOnce, type CullOptions } from '../../src/services/culler/culler.js';
import { builtinCullOptions } from '../../src/services/culler/culler-runner.js';
import { validateConfig } from '../../src/config/load.js';
import { startHub } from '../../src/hub/lifecycle.js';
import pino from 'pino';

const NOW = new Date('2026-12-04T12:00:00.000Z');
const ago = (s: number) => new Date(NOW.getTime() - s * 1000).toISOString();
const RULES = { timeout: 600, max_age: 0, admin_users: true };
const OPTS: CullOptions = { timeout: 600, max_age: 0, users: false, remove_named_servers: false, admin_users: true, concurrency: 2 };

/** A JupyterHub REST API double: users by name, every request recorded. */
function fakeHub(users: Record<string, unknown>[], opts: { paginate?: boolean; pageSize?: number; stopStatus?: number } = {}) {
  const calls: { method: string; path: string; body?: unknown; auth: string | null; accept: string | null }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const fetchDouble = (async (url: string | URL, init?: RequestInit) => {
    const u = new URL(String(url));
    const headers = new Headers(init?.headers);
    calls.push({ method: init?.method ?? 'GET', path: u.pathname + u.search, ...(init?.body ? { body: JSON.parse(String(init.body)) } : {}), auth: headers.get('authorization'), accept: headers.get('accept') });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 2));
    inFlight--;
    if ((init?.method ?? 'GET') === 'GET') {
      const state = u.searchParams.get('state');
      const all = users.filter((x) => state !== 'ready' || Object.values((x['servers'] as Record<string, { ready: boolean }>) ?? {}).some((s) => s.ready));
      if (!opts.paginate) return Response.json(all);
      const offset = Number(u.searchParams.get('offset') ?? 0);
      const limit = Math.min(Number(u.searchParams.get('limit') ?? 50), opts.pageSize ?? 50);
      const items = all.slice(offset, offset + limit);
      const next = offset + limit < all.length ? { offset: offset + limit, limit, url: 'x' } : null;
      return Response.json({ items, _pagination: { offset, limit, total: all.length, next } });
    }
    return new Response(null, { status: u.pathname.includes('/server') ? (opts.stopStatus ?? 204) : 204 });
  }) as typeof fetch;
  return { fetch: fetchDouble, calls, maxInFlight: () => maxInFlight };
}

const server = (lastS: number | null, startedS: number, extra: Record<string, unknown> = {}) => ({
  name: '',
  ready: true,
  pending: null,
  started: ago(startedS),
  last_activity: lastS === null ? null : ago(lastS),
  ...extra,
});

describe('cull decisions (cull-at.ts)', () => {
  it('inactive timeout after the last activity, or after the start without one', () => {
    assert.deepEqual(cullTime(server(100, 1000), {}, RULES), { at: new Date(NOW.getTime() + 500_000), reason: 'inactive' });
    assert.equal(cullTime(server(null, 700), {}, RULES)?.at.toISOString(), ago(100));
  });
  it('max_age wins when it comes first; not running, pending and exempt admins are never culled', () => {
    assert.deepEqual(cullTime(server(10, 2000), {}, { ...RULES, max_age: 1800 }), { at: new Date(NOW.getTime() - 200_000), reason: 'max_age' });
    assert.equal(cullTime(server(10, 10, { ready: false }), {}, RULES), null);
    assert.equal(cullTime(server(10, 10, { ready: 0 }), {}, RULES), null);
    assert.equal(cullTime(server(9999, 9999, { pending: 'stop' }), {}, RULES), null);
    assert.equal(cullTime(server(9999, 9999), { admin: 1 }, { ...RULES, admin_users: false }), null);
    assert.ok(cullTime(server(9999, 9999), { admin: true }, RULES));
  });
  it('cullAt is null when culling is off; follows cull.* otherwise', () => {
    const cull = validateConfig({ cull: { timeout: 1800, every: 180 } }).cull;
    assert.deepEqual({ ...cull }, { enabled: false, timeout: 1800, every: 180, max_age: 0, users: false, remove_named_servers: false, admin_users: true, concurrency: 10 });
    assert.equal(cullAt(server(0, 0), {}, cull, NOW), null);
    assert.equal(cullAt({ ...server(0, 0), ready: 1 }, { admin: 0 }, { ...cull, enabled: true }, NOW)?.toISOString(), new Date(NOW.getTime() + 1_800_000).toISOString());
  });
  it('users: idle since their last activity (or creation); exempt admins kept; unknown kept', () => {
    assert.equal(userCullDue({ last_activity: ago(700) }, RULES, NOW), true);
    assert.equal(userCullDue({ last_activity: ago(100), created: ago(9999) }, RULES, NOW), false);
    assert.equal(userCullDue({ created: ago(9999) }, RULES, NOW), true);
    assert.equal(userCullDue({}, RULES, NOW), false);
    assert.equal(userCullDue({ admin: true, last_activity: ago(9999) }, { ...RULES, admin_users: false }, NOW), false);
  });
});

describe('cullOnce against a REST API double', () => {
  const users = () => [
    { name: 'idle', admin: false, last_activity: ago(5000), servers: { '': server(5000, 6000) } },
    { name: 'busy', admin: false, last_activity: ago(5), servers: { '': server(5, 6000) } },
    { name: 'boss', admin: true, last_activity: ago(5000), servers: { '': server(5000, 6000) } },
    { name: 'named', admin: false, last_activity: ago(5000), servers: { 'a b': server(5000, 6000, { name: 'a b' }) } },
    { name: 'gone', admin: false, last_activity: ago(5000), servers: {} },
    { name: 'new', admin: false, last_activity: ago(5), servers: {} },
  ];

  it('lists page by page with the pagination Accept header, and stops only idle servers', async () => {
    const hub = fakeHub(users(), { paginate: true, pageSize: 2 });
    const report = await cullOnce({ apiUrl: 'http://hub/hub/api/', token: 'tok', fetch: hub.fetch, now: () => NOW }, OPTS);
    const gets = hub.calls.filter((c) => c.method === 'GET');
    assert.deepEqual(
      gets.map((c) => c.path),
      ['/hub/api/users?state=ready&offset=0&limit=200', '/hub/api/users?state=ready&offset=2&limit=200'],
    );
    assert.match(gets[0]!.accept ?? '', /application\/jupyterhub-pagination\+json/);
    assert.equal(gets[0]!.auth, 'token tok');
    assert.deepEqual(report.stopped.sort(), ['boss/', 'idle/', 'named/a b']);
    const deletes = hub.calls.filter((c) => c.method === 'DELETE').map((c) => c.path).sort();
    assert.deepEqual(deletes, ['/hub/api/users/boss/server', '/hub/api/users/idle/server', '/hub/api/users/named/servers/a%20b']);
    assert.equal(report.deleted.length, 0);
  });

  it('takes a bare list (JupyterHub 3.0 without the header); exempts admins; removes named servers; culls users', async () => {
    const hub = fakeHub(users());
    const report = await cullOnce({ apiUrl: 'http://hub/hub/api', token: 't', fetch: hub.fetch, now: () => NOW }, { ...OPTS, admin_users: false, users: true, remove_named_servers: true });
    assert.deepEqual(hub.calls[0]!.path, '/hub/api/users?offset=0&limit=200');
    assert.deepEqual(report.stopped.sort(), ['idle/', 'named/a b']);
    assert.deepEqual(hub.calls.find((c) => c.path.endsWith('/servers/a%20b'))?.body, { remove: true });
    assert.deepEqual(report.deleted.sort(), ['gone', 'idle', 'named']);
  });

  it("the hub's own culler culls an idle admin's server but never asks to delete the admin (its token may not)", async () => {
    const hub = fakeHub(users());
    const opts = builtinCullOptions({ ...validateConfig({}).cull, enabled: true, timeout: 600, users: true, admin_users: true });
    assert.equal(opts.keep_admin_users, true);
    const report = await cullOnce({ apiUrl: 'http://hub/hub/api', token: 't', fetch: hub.fetch, now: () => NOW }, opts);
    assert.ok(report.stopped.includes('boss/'), "the admin's idle server is culled");
    assert.ok(!hub.calls.some((c) => c.method === 'DELETE' && c.path === '/hub/api/users/boss'), 'no DELETE of the admin user');
    assert.deepEqual(report.deleted.sort(), ['gone', 'idle', 'named']);
    assert.equal(report.errors, 0);
  });

  it('a bare list honouring offset/limit is read page by page; one ignoring them is read once', async () => {
    const many = Array.from({ length: 450 }, (_, i) => ({ name: `u${i}`, last_activity: ago(5), servers: { '': server(5, 10) } }));
    const paged = (async (url: string | URL) => {
      const u = new URL(String(url));
      const offset = Number(u.searchParams.get('offset'));
      return Response.json(many.slice(offset, offset + Number(u.searchParams.get('limit'))));
    }) as typeof fetch;
    assert.equal((await cullOnce({ apiUrl: 'http://hub/hub/api', token: 't', fetch: paged, now: () => NOW }, OPTS)).users, 450);
    let calls = 0;
    const whole = (async () => {
      calls++;
      return Response.json(many);
    }) as typeof fetch;
    assert.equal((await cullOnce({ apiUrl: 'http://hub/hub/api', token: 't', fetch: whole, now: () => NOW }, OPTS)).users, 450);
    assert.equal(calls, 2, 'the second answer brought no new user: done');
  });

  it('a stop still in progress (202) keeps the user; concurrency bounds requests in flight', async () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ name: `u${i}`, last_activity: ago(5000), servers: { '': server(5000, 6000) } }));
    const hub = fakeHub(many, { stopStatus: 202 });
    const report = await cullOnce({ apiUrl: 'http://hub/hub/api', token: 't', fetch: hub.fetch, now: () => NOW }, { ...OPTS, users: true, concurrency: 3 });
    assert.equal(report.stopped.length, 12);
    assert.equal(report.deleted.length, 0);
    assert.ok(hub.maxInFlight() <= 3, `max in flight ${hub.maxInFlight()}`);
  });

  it('max_age stops an active server', async () => {
    const hub = fakeHub(users());
    const report = await cullOnce({ apiUrl: 'http://hub/hub/api', token: 't', fetch: hub.fetch, now: () => NOW }, { ...OPTS, max_age: 3600 });
    assert.ok(report.stopped.includes('busy/'));
  });

  it('a refused listing is an error naming the status', async () => {
    const f = (async () => Response.json({ status: 403, message: 'Action is not authorized with current scopes; requires any of [list:users]' }, { status: 403 })) as typeof fetch;
    await assert.rejects(cullOnce({ apiUrl: 'http://hub/hub/api', token: 't', fetch: f }, OPTS), /listing users: HTTP 403 \(Action is not authorized/);
  });
});

describe('the built-in culler at start', () => {
  it('refuses a service or role named like the culler, before anything starts', async () => {
    const log = pino({ level: 'silent' });
    const withService = validateConfig({ data_dir: '/nonexistent/never-created', cull: { enabled: true }, services: [{ name: 'cull-idle' }] });
    await assert.rejects(startHub(withService, {}, log), /services: the name cull-idle is the built-in culler's/);
    const withRole = validateConfig({ data_dir: '/nonexistent/never-created', cull: { enabled: true }, roles: [{ name: 'cull-idle', scopes: ['read:users'] }] });
    await assert.rejects(startHub(withRole, {}, log), /roles: the name cull-idle is the built-in culler's role/);
  });
});
