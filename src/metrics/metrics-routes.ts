import type { FastifyInstance } from 'fastify';
import { requireScope } from '../api/common.js';
import type { Hub } from '../hub/context.js';
import type { PrometheusHubMetrics } from './hub-metrics.js';

/**
 * `GET <base>hub/metrics`: the Prometheus exposition, as JupyterHub serves
 * it. Requires `read:metrics` unless `authenticate_prometheus` is false
 * (read at each request: a reloaded configuration applies at once).
 */
export function metricsRoutes(app: FastifyInstance, hub: Hub, metrics: PrometheusHubMetrics): void {
  app.get('/metrics', async (req, reply) => {
    if (hub.config.authenticate_prometheus) await requireScope(hub, req, ['read:metrics']);
    const { body, contentType } = await metrics.text();
    return reply.header('Cache-Control', 'no-store').type(contentType).send(body);
  });
}

/**
 * Times every request into `jupyterhub_request_duration_seconds{method,handler,code}`.
 * The handler label is the route's pattern (`/hub/api/users/:name`), never the
 * URL asked for, so the number of series stays bounded; requests no route
 * matched share one label.
 */
export function recordRequestDurations(app: FastifyInstance, metrics: PrometheusHubMetrics): void {
  app.addHook('onResponse', function recordDuration(req, reply, done) {
    metrics.requestEnded(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}
