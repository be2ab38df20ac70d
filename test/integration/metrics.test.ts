import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { badSpawner, namedBackends, neverSpawner, trivialSpawner, type BadSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';
import { parseExposition, type Exposition } from '../helpers/prometheus-text.js';
import type { PrometheusHubMetrics } from '../../src/metrics/hub-metrics.js';

/**
 * `GET /hub/metrics` (issue 14, item 4): JupyterHub's metric names, read by
 * real Prometheus text parsers, with values that match what happened.
 */
describe('GET /hub/metrics', () => {
  let t: TestHub;
  let good: TrivialSpawner;
  let bad: BadSpawner;
  let prom: string;

  async function scrape(token?: string): Promise<{ status: number; type: string | null; text: string }> {
    // the database gauges are cached for a second: read them afresh
    (t.hub.metrics as PrometheusHubMetrics).refresh();
    const res = await fetch(`${t.hubUrl}/hub/metrics`, { headers: token ? { Authorization: `token ${token}` } : {} });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  }
  async function metrics(): Promise<Exposition> {
    const r = await scrape(prom);
    assert.equal(r.status, 200, r.text);
    return parseExposition(r.text);
  }

  before(async () => {
    good = trivialSpawner();
    bad = badSpawner({ message: 'no nodes left' });
    t = await startTestHub({}, { spawners: namedBackends({ good, bad }) });
    prom = await t.tokenFor('prom', { admin: true });
  });
  after(async () => {
    await t.stop();
    await good.killAll();
    await bad.killAll();
  });

  it('refuses a request without read:metrics with 403, and answers Prometheus text to one with it', async () => {
    assert.equal((await scrape()).status, 403);
    const plain = await t.tokenFor('alice');
    assert.equal((await scrape(plain)).status, 403, 'a user token without read:metrics');
    const r = await scrape(prom);
    assert.equal(r.status, 200);
    assert.match(r.type ?? '', /^text\/plain; version=0\.0\.4/);
    const m = parseExposition(r.text);
    for (const [name, type] of [
      ['jupyterhub_request_duration_seconds', 'HISTOGRAM'],
      ['jupyterhub_server_spawn_duration_seconds', 'HISTOGRAM'],
      ['jupyterhub_server_stop_seconds', 'HISTOGRAM'],
      ['jupyterhub_proxy_poll_duration_seconds', 'HISTOGRAM'],
      ['jupyterhub_hub_startup_duration_seconds', 'HISTOGRAM'],
      ['jupyterhub_running_servers', 'GAUGE'],
      ['jupyterhub_total_users', 'GAUGE'],
      ['jupyterhub_active_users', 'GAUGE'],
      ['ganymede_spawn_queue_length', 'GAUGE'],
      ['ganymede_spawn_queue_wait_seconds', 'HISTOGRAM'],
      ['process_resident_memory_bytes', 'GAUGE'],
      ['nodejs_eventloop_lag_p99_seconds', 'GAUGE'],
    ] as const) {
      assert.equal(m.families.get(name)?.type, type, name);
    }
    // every spawn status exists before it happens (dashboards see 0, not nothing), with JupyterHub's buckets
    for (const status of ['success', 'failure', 'already-pending', 'throttled', 'too-many-users']) {
      assert.equal(m.value('jupyterhub_server_spawn_duration_seconds_count', { status }), 0, status);
    }
    assert.equal(m.value('jupyterhub_server_spawn_duration_seconds_bucket', { status: 'success', le: '600' }), 0);
    // the test hub reconciled the routes once when it started
    assert.equal(m.value('jupyterhub_proxy_poll_duration_seconds_count', { status: 'success' }), 1);
  });

  it('counts spawns by status, stops, running servers and requests by route and code', async () => {
    const alice = await t.tokenFor('alice');
    const bob = await t.tokenFor('bob');
    assert.equal((await t.api('POST', '/users/alice/server', { token: alice, body: { backend: 'good' } })).status, 201);
    const failed = await t.api('POST', '/users/bob/server', { token: bob, body: { backend: 'bad' } });
    assert.equal(failed.status, 500);
    assert.equal((await t.api('GET', '/users/nobody-here', { token: prom })).status, 404);
    await fetch(`${t.hubUrl}/hub/api/no/such/route/alice`);

    let m = await metrics();
    assert.equal(m.value('jupyterhub_server_spawn_duration_seconds_count', { status: 'success' }), 1);
    assert.equal(m.value('jupyterhub_server_spawn_duration_seconds_count', { status: 'failure' }), 1);
    assert.equal(m.value('jupyterhub_running_servers'), 1);
    assert.equal(m.value('ganymede_spawn_queue_length'), 0);
    const req = (method: string, handler: string, code: string) => m.value('jupyterhub_request_duration_seconds_count', { method, handler, code });
    assert.equal(req('POST', '/hub/api/users/:name/server', '201'), 1);
    assert.equal(req('POST', '/hub/api/users/:name/server', '500'), 1);
    assert.equal(req('GET', '/hub/api/users/:name', '404'), 1);
    assert.equal(req('GET', '/hub/metrics', '403'), 2);
    // the handler is the route's pattern, never the URL asked for
    const handlers = new Set(m.samples.filter((s) => s.name === 'jupyterhub_request_duration_seconds_count').map((s) => s.labels['handler']));
    assert.ok(![...handlers].some((h) => h?.includes('alice') || h?.includes('nobody')), [...handlers].join(', '));

    assert.equal((await t.api('DELETE', '/users/alice/server', { token: alice })).status, 204);
    m = await metrics();
    assert.equal(m.value('jupyterhub_server_stop_seconds_count', { status: 'success' }), 1);
    assert.equal(m.value('jupyterhub_running_servers'), 0);
  });

  it('counts users, and active users over 24h, 7d and 30d from their last activity', async () => {
    for (const name of ['carol', 'dave']) await t.tokenFor(name);
    const ago = (hours: number) => new Date(Date.now() - hours * 3600_000).toISOString();
    const activity: Record<string, string | null> = { prom: ago(0), alice: ago(1), bob: ago(3 * 24), carol: ago(10 * 24), dave: null };
    for (const [name, at] of Object.entries(activity)) await t.hub.db.updateTable('users').set({ last_activity: at }).where('name', '=', name).execute();
    const m = await metrics();
    assert.equal(m.value('jupyterhub_total_users'), 5);
    assert.equal(m.value('jupyterhub_active_users', { period: '24h' }), 2);
    assert.equal(m.value('jupyterhub_active_users', { period: '7d' }), 3);
    assert.equal(m.value('jupyterhub_active_users', { period: '30d' }), 4);
    // the npm parser reads the same gauge values
    const gauge = m.families.get('jupyterhub_active_users')!.metrics.find((x) => x.labels?.['period'] === '30d');
    assert.equal(Number(gauge?.value), 4);
  });
});

describe('spawn refusals in jupyterhub_server_spawn_duration_seconds', () => {
  it('counts already-pending, throttled (the spawn queue full) and too-many-users (active_server_limit), and the queue length', async () => {
    const spawner = neverSpawner();
    const t = await startTestHub({ concurrent_spawn_limit: 1, active_server_limit: 3, spawn_queue: { max_length: 1 }, slow_spawn_timeout: 0.1 }, { spawner });
    try {
      const [ann, ben, cat, dan] = [await t.tokenFor('ann'), await t.tokenFor('ben'), await t.tokenFor('cat'), await t.tokenFor('dan')];
      assert.equal((await t.api('POST', '/users/ann/server', { token: ann })).status, 202);
      assert.equal((await t.api('POST', '/users/ann/server', { token: ann })).status, 202, 'already pending');
      assert.equal((await t.api('POST', '/users/ben/server', { token: ben })).status, 202, 'queued behind ann');
      assert.equal((await t.api('POST', '/users/cat/server', { token: cat })).status, 429, 'the queue (max_length 1) is full');
      t.hub.config = { ...t.hub.config, active_server_limit: 1 };
      assert.equal((await t.api('POST', '/users/dan/server', { token: dan })).status, 429, 'over active_server_limit');
      const res = await fetch(`${t.hubUrl}/hub/metrics`, { headers: { Authorization: `token ${await t.tokenFor('root', { admin: true })}` } });
      const m = parseExposition(await res.text());
      const count = (status: string) => m.value('jupyterhub_server_spawn_duration_seconds_count', { status });
      assert.deepEqual(
        ['success', 'failure', 'already-pending', 'throttled', 'too-many-users'].map(count),
        [0, 0, 1, 1, 1],
      );
      assert.equal(m.value('ganymede_spawn_queue_length'), 1, "ben's queued spawn");
    } finally {
      await t.stop();
      await spawner.killAll();
    }
  });
});

describe('GET /hub/metrics for a Prometheus service', () => {
  it("answers a service whose role grants read:metrics (the operator's scrape set-up in docs/operations.md)", async () => {
    const token = 'prometheus-scrape-token-0123456789';
    const t = await startTestHub({
      services: [{ name: 'prometheus', api_token: token }],
      roles: [{ name: 'metrics-reader', scopes: ['read:metrics'], services: ['prometheus'] }],
    });
    try {
      const res = await fetch(`${t.hubUrl}/hub/metrics`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      assert.equal(parseExposition(await res.text()).value('jupyterhub_running_servers'), 0);
    } finally {
      await t.stop();
    }
  });
});

describe('GET /hub/metrics with authenticate_prometheus: false', () => {
  it('answers without credentials', async () => {
    const t = await startTestHub({ authenticate_prometheus: false });
    try {
      const res = await fetch(`${t.hubUrl}/hub/metrics`);
      assert.equal(res.status, 200);
      const m = parseExposition(await res.text());
      assert.equal(m.value('jupyterhub_total_users'), 0);
      // a live change of the option applies to the next request
      t.hub.config = { ...t.hub.config, authenticate_prometheus: true };
      assert.equal((await fetch(`${t.hubUrl}/hub/metrics`)).status, 403);
    } finally {
      await t.stop();
    }
  });
});
