/**
 * What the hub reports to its metrics (issue 14, item 4). Parts of the hub
 * call these methods when something happens; the Prometheus registry behind
 * them is built per hub by src/metrics/hub-metrics.ts and injected into the hub
 * (no global registry). Gauges that come from the database (running servers,
 * users, queue length) are read when `/hub/metrics` is scraped, not pushed here.
 */
export interface HubMetrics {
  /**
   * A spawn ended after `seconds` (JupyterHub's `jupyterhub_server_spawn_duration_seconds{status}`),
   * `status` one of {@link SPAWN_STATUSES}.
   */
  spawnEnded(status: SpawnStatus, seconds: number): void;
  /** A stop ended after `seconds` (`jupyterhub_server_stop_seconds{status}`: success, failure). */
  stopEnded(status: 'success' | 'failure', seconds: number): void;
  /** One check of the proxy's routes took `seconds` (`jupyterhub_proxy_poll_duration_seconds{status}`: success, failure). */
  proxyPolled(status: 'success' | 'failure', seconds: number): void;
  /** A queued spawn was admitted (`admitted`) or given up (`timeout`, `cancelled`) after waiting `seconds` in the spawn queue. */
  queueWaited(outcome: string, seconds: number): void;
  /** The hub took `seconds` from its process start to serving (`jupyterhub_hub_startup_duration_seconds`). */
  hubStarted(seconds: number): void;
}

/** JupyterHub's ServerSpawnStatus values: the `status` label of the spawn duration. */
export const SPAWN_STATUSES = ['success', 'failure', 'already-pending', 'throttled', 'too-many-users'] as const;
export type SpawnStatus = (typeof SPAWN_STATUSES)[number];

/** Metrics that record nothing (tests, and before the registry exists). */
export const noMetrics: HubMetrics = {
  spawnEnded: () => undefined,
  stopEnded: () => undefined,
  proxyPolled: () => undefined,
  queueWaited: () => undefined,
  hubStarted: () => undefined,
};
