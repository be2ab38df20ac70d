import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { CountedHistogram } from '../../src/metrics/counted-histogram.js';

const OBSERVED: Array<[Record<'method' | 'handler' | 'code', string>, number]> = [
  [{ method: 'GET', handler: '/hub/api/users/:name', code: '200' }, 0.0004],
  [{ method: 'GET', handler: '/hub/api/users/:name', code: '200' }, 0.005], // on a bound: counted in it
  [{ method: 'GET', handler: '/hub/api/users/:name', code: '200' }, 0.0051],
  [{ method: 'GET', handler: '/hub/api/users/:name', code: '404' }, 0.3],
  [{ method: 'POST', handler: '/hub/api/users', code: '201' }, 12], // above every bound
  [{ method: 'GET', handler: 'unmatched', code: '404' }, 2.5],
];

/** The parsed exposition of a registry, series sorted, for comparing two renderings. */
async function parsed(registry: Registry): Promise<unknown> {
  const families = parsePrometheusTextFormat(await registry.metrics()) as Array<{ name: string; metrics: Array<{ labels?: Record<string, string> }> }>;
  for (const f of families) f.metrics.sort((a, b) => JSON.stringify(a.labels ?? {}).localeCompare(JSON.stringify(b.labels ?? {})));
  return families;
}

describe('the request-duration histogram (observed on every request)', () => {
  it("renders exactly what prom-client's Histogram renders for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const counted = new CountedHistogram('jupyterhub_request_duration_seconds', 'request duration for all HTTP requests', ['method', 'handler', 'code'], [ours]);
    const reference = new Histogram({ name: 'jupyterhub_request_duration_seconds', help: 'request duration for all HTTP requests', labelNames: ['method', 'handler', 'code'], registers: [theirs] });
    for (const [labels, v] of OBSERVED) {
      counted.labels(labels).observe(v);
      reference.observe(labels, v);
    }
    assert.deepEqual(await parsed(ours), await parsed(theirs));
    const text = await ours.metrics();
    assert.match(text, /^# TYPE jupyterhub_request_duration_seconds histogram$/m);
    assert.match(text, /jupyterhub_request_duration_seconds_bucket\{method="GET",handler="\/hub\/api\/users\/:name",code="200",le="0\.005"\} 2/);
    assert.match(text, /jupyterhub_request_duration_seconds_count\{method="POST",handler="\/hub\/api\/users",code="201"\} 1/);
  });

  it('keeps one series per label set, ignores values that are not numbers, and zeroes on reset', async () => {
    const registry = new Registry();
    const h = new CountedHistogram('x_seconds', 'x', ['code'], [registry], [1, 2]);
    const a = h.labels({ code: '200' });
    assert.equal(h.labels({ code: '200' }), a);
    a.observe(Number.NaN);
    a.observe(Infinity);
    a.observe(1.5);
    assert.equal(a.count, 1);
    h.reset();
    a.observe(0.5);
    const text = await registry.metrics();
    assert.match(text, /x_seconds_bucket\{code="200",le="1"\} 1/);
    assert.match(text, /x_seconds_bucket\{code="200",le="2"\} 1/);
    assert.match(text, /x_seconds_sum\{code="200"\} 0\.5/);
  });
});
