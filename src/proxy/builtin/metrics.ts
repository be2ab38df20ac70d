/**
 * Prometheus metrics of one proxy instance (`GET /metrics` on the API port).
 * Each proxy gets its own prom-client Registry, so several proxies in one
 * process (tests, embedding) do not share counters.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsSources {
  /** Number of routes in the table. */
  routes: () => number;
  /** Number of websockets (upgraded connections) open right now. */
  openWebsockets: () => number;
}

export interface ProxyMetrics {
  /** Counts one finished public HTTP request by its status class. */
  request(status: number): void;
  /** Counts a failed connection or request to a target (HTTP or websocket). */
  upstreamError(): void;
  /** Counts one upgrade request received on the public port. */
  websocketUpgrade(): void;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Names of the metrics, for docs and tests. */
export const METRIC_NAMES = {
  requests: 'ganymede_proxy_requests_total',
  upstreamErrors: 'ganymede_proxy_upstream_errors_total',
  websocketUpgrades: 'ganymede_proxy_websocket_upgrades_total',
  websocketsOpen: 'ganymede_proxy_websockets_open',
  routes: 'ganymede_proxy_routes',
} as const;

function statusClass(status: number): string {
  if (status >= 200 && status < 600) return `${Math.floor(status / 100)}xx`;
  return 'other';
}

export function createMetrics(sources: MetricsSources, defaultMetrics = true): ProxyMetrics {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({
    name: METRIC_NAMES.requests,
    help: 'HTTP requests answered on the public port, by status class',
    labelNames: ['status_class'] as const,
    registers,
  });
  for (const cls of ['2xx', '3xx', '4xx', '5xx']) requests.inc({ status_class: cls }, 0);
  const upstreamErrors = new Counter({
    name: METRIC_NAMES.upstreamErrors,
    help: 'Requests and websockets whose target could not be reached or failed',
    registers,
  });
  const upgrades = new Counter({
    name: METRIC_NAMES.websocketUpgrades,
    help: 'Upgrade (websocket) requests received on the public port',
    registers,
  });
  new Gauge({
    name: METRIC_NAMES.websocketsOpen,
    help: 'Websockets open through the proxy',
    registers,
    collect() {
      this.set(sources.openWebsockets());
    },
  });
  new Gauge({
    name: METRIC_NAMES.routes,
    help: 'Routes in the routing table',
    registers,
    collect() {
      this.set(sources.routes());
    },
  });
  if (defaultMetrics) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  return {
    request: (status) => requests.inc({ status_class: statusClass(status) }),
    upstreamError: () => upstreamErrors.inc(),
    websocketUpgrade: () => upgrades.inc(),
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}
