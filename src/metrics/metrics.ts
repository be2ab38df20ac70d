/**
 * What the hub reports to its metrics (issue 14, item 4). Parts of the hub
 * call these methods when something happens; the Prometheus registry behind
 * them is built by the metrics module and injected into the hub (no global
 * registry). Gauges that come from the database (running servers, users,
 * queue length) are read when `/hub/metrics` is scraped, not pushed here.
 */
export interface HubMetrics {
  /** A spawn ended after `seconds` (JupyterHub's `jupyterhub_server_spawn_duration_seconds{status}`: success, failure, ...). */
  spawnEnded(status: string, seconds: number): void;
  /** A stop ended after `seconds` (`jupyterhub_server_stop_seconds{status}`). */
  stopEnded(status: string, seconds: number): void;
  /** One check of the proxy's routes took `seconds` (`jupyterhub_proxy_poll_duration_seconds{status}`). */
  proxyPolled(status: string, seconds: number): void;
  /** A queued spawn was admitted (`admitted`) or given up (`timeout`, `cancelled`) after waiting `seconds` in the spawn queue. */
  queueWaited(outcome: string, seconds: number): void;
}

/** Metrics that record nothing (tests, and before the registry exists). */
export const noMetrics: HubMetrics = {
  spawnEnded: () => undefined,
  stopEnded: () => undefined,
  proxyPolled: () => undefined,
  queueWaited: () => undefined,
};
