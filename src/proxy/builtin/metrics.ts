/**
 * Prometheus metrics of one proxy instance (`GET /metrics` on the API port).
 * Each proxy gets its own prom-client Registry, so several proxies in one
 * process (tests, embedding) do not share counters.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { registerProcessMetrics } from './process-metrics.js';

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
  /** Stops what the process metrics sample in the background. */
  close(): void;
}

/** Names of the metrics, for docs and tests. */
export const METRIC_NAMES = {
  requests: 'ganymede_proxy_requests_total',
  upstreamErrors: 'ganymede_proxy_upstream_errors_total',
  websocketUpgrades: 'ganymede_proxy_websocket_upgrades_total',
  websocketsOpen: 'ganymede_proxy_websockets_open',
  routes: 'ganymede_proxy_routes',
} as const;

const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** Index into STATUS_CLASSES: 2 for 2xx ... 5 for 5xx, 0 for anything else. */
function statusClassIndex(status: number): number {
  const c = Math.floor(status / 100);
  return c >= 2 && c <= 5 ? c : 0;
}

export function createMetrics(sources: MetricsSources, processMetrics = true): ProxyMetrics {
  const registry = new Registry();
  const registers = [registry];
  // Counted in a plain array on the hot path; handed to prom-client when scraped.
  const counts = new Array<number>(STATUS_CLASSES.length).fill(0);
  const reported = new Array<number>(STATUS_CLASSES.length).fill(0);
  new Counter({
    name: METRIC_NAMES.requests,
    help: 'HTTP requests answered on the public port, by status class',
    labelNames: ['status_class'] as const,
    registers,
    collect() {
      for (let i = 0; i < counts.length; i++) {
        const status_class = STATUS_CLASSES[i] as string;
        const delta = (counts[i] as number) - (reported[i] as number);
        if (delta > 0 || (i >= 2 && reported[i] === 0)) this.inc({ status_class }, delta);
        reported[i] = counts[i] as number;
      }
    },
  });
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
  const stopProcessMetrics = processMetrics ? registerProcessMetrics(registry) : undefined;
  return {
    request: (status) => {
      const i = statusClassIndex(status);
      counts[i] = (counts[i] as number) + 1;
    },
    upstreamError: () => upstreamErrors.inc(),
    websocketUpgrade: () => upgrades.inc(),
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
    close: () => stopProcessMetrics?.(),
  };
}
