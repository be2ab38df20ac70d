import type { Kysely } from 'kysely';
import { Gauge, Histogram, Registry } from 'prom-client';
import type { DB } from '../db/schema.js';
import { ACTIVE_PERIODS, CachedSnapshot, readSnapshot, type ActivePeriod } from './db-snapshot.js';
import { SPAWN_STATUSES, type HubMetrics, type SpawnStatus } from './metrics.js';
import { queueLength as queuedSpawns } from '../db/repos/spawn-queue.js';
import { registerProcessMetrics } from '../proxy/builtin/process-metrics.js';
import { CountedHistogram, type CountedSeries } from './counted-histogram.js';

/** JupyterHub's buckets of `jupyterhub_server_spawn_duration_seconds` (spawns take a while). */
export const SPAWN_BUCKETS = [0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 180, 300, 600];
/** Buckets of the time a spawn waits in the queue. */
export const QUEUE_WAIT_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export interface HubMetricsOptions {
  /** The hub's database (read at scrape time for the gauges). */
  db: Kysely<DB>;
  /** The spawn queue's length (default: servers pending spawn; the queue replaces it with its own). */
  queueLength?: (db: Kysely<DB>) => Promise<number>;
  /** How long one read of the database gauges is reused, in ms (default 1000). */
  snapshotTtlMs?: number;
}

/**
 * The hub's metrics in a Prometheus registry of its own (two hubs in one
 * process, as tests build them, never share one). Durations are pushed by
 * the hub as things happen ({@link HubMetrics}); database gauges are read
 * when the registry is scraped ({@link text}), at most once a second.
 */
export class PrometheusHubMetrics implements HubMetrics {
  readonly registry = new Registry();
  private readonly requests: CountedHistogram<'method' | 'handler' | 'code'>;
  /** The series by handler, method and code, so that a request makes no label set or key (they are few: route patterns, not URLs). */
  private readonly requestSeries = new Map<string, Map<string, Map<number, CountedSeries>>>();
  private readonly spawns: Histogram<'status'>;
  private readonly stops: Histogram<'status'>;
  private readonly proxyPolls: Histogram<'status'>;
  private readonly startup: Histogram;
  private readonly queueWaits: Histogram<'outcome'>;
  private readonly snapshot: CachedSnapshot;
  private readonly stopProcessMetrics: () => void;

  constructor(opts: HubMetricsOptions) {
    const registers = [this.registry];
    const queueLength = opts.queueLength ?? queuedSpawns;
    this.snapshot = new CachedSnapshot(() => readSnapshot(opts.db, queueLength), opts.snapshotTtlMs ?? 1000);
    const snapshot = this.snapshot;
    // observed on every request: a histogram whose observation is a few additions (counted-histogram.ts)
    this.requests = new CountedHistogram('jupyterhub_request_duration_seconds', 'request duration for all HTTP requests', ['method', 'handler', 'code'], registers);
    this.spawns = new Histogram({
      name: 'jupyterhub_server_spawn_duration_seconds',
      help: 'time taken for server spawning operation',
      labelNames: ['status'],
      buckets: SPAWN_BUCKETS,
      registers,
    });
    this.stops = new Histogram({ name: 'jupyterhub_server_stop_seconds', help: 'time taken for server stopping operation', labelNames: ['status'], registers });
    this.proxyPolls = new Histogram({
      name: 'jupyterhub_proxy_poll_duration_seconds',
      help: 'duration for polling all routes from proxy',
      labelNames: ['status'],
      registers,
    });
    this.startup = new Histogram({ name: 'jupyterhub_hub_startup_duration_seconds', help: 'Time taken for Hub to start', registers });
    this.queueWaits = new Histogram({
      name: 'ganymede_spawn_queue_wait_seconds',
      help: 'time a spawn waited in the spawn queue, by outcome (admitted, timeout, cancelled)',
      labelNames: ['outcome'],
      buckets: QUEUE_WAIT_BUCKETS,
      registers,
    });
    // every status exists from the start (a dashboard sees failure=0, not no series), as JupyterHub does
    for (const status of SPAWN_STATUSES) this.spawns.zero({ status });
    for (const status of ['success', 'failure']) {
      this.stops.zero({ status });
      this.proxyPolls.zero({ status });
    }
    for (const outcome of ['admitted', 'timeout', 'cancelled']) this.queueWaits.zero({ outcome });
    // the process's CPU, memory, open files and event-loop lag, as the proxy reports its own (no GC histogram: see there)
    this.stopProcessMetrics = registerProcessMetrics(this.registry);
    new Gauge({
      name: 'jupyterhub_running_servers',
      help: 'the number of user servers currently running',
      registers,
      async collect() {
        this.set((await snapshot.get()).runningServers);
      },
    });
    new Gauge({
      name: 'jupyterhub_total_users',
      help: 'total number of users',
      registers,
      async collect() {
        this.set((await snapshot.get()).totalUsers);
      },
    });
    new Gauge({
      name: 'jupyterhub_active_users',
      help: 'number of users who were active in the given time period',
      labelNames: ['period'],
      registers,
      async collect() {
        const { activeUsers } = await snapshot.get();
        for (const period of Object.keys(ACTIVE_PERIODS) as ActivePeriod[]) this.set({ period }, activeUsers[period]);
      },
    });
    new Gauge({
      name: 'ganymede_spawn_queue_length',
      help: 'the number of spawns waiting in the spawn queue',
      registers,
      async collect() {
        this.set((await snapshot.get()).queueLength);
      },
    });
  }

  spawnEnded(status: SpawnStatus, seconds: number): void {
    this.spawns.observe({ status }, seconds);
  }

  stopEnded(status: 'success' | 'failure', seconds: number): void {
    this.stops.observe({ status }, seconds);
  }

  proxyPolled(status: 'success' | 'failure', seconds: number): void {
    this.proxyPolls.observe({ status }, seconds);
  }

  queueWaited(outcome: string, seconds: number): void {
    this.queueWaits.observe({ outcome }, seconds);
  }

  hubStarted(seconds: number): void {
    this.startup.observe(seconds);
  }

  /** One HTTP request ended: `handler` is the route pattern (bounded cardinality), never the raw URL. */
  requestEnded(method: string, handler: string, code: number, seconds: number): void {
    let byMethod = this.requestSeries.get(handler);
    if (!byMethod) this.requestSeries.set(handler, (byMethod = new Map()));
    let byCode = byMethod.get(method);
    if (!byCode) byMethod.set(method, (byCode = new Map()));
    let series = byCode.get(code);
    if (!series) byCode.set(code, (series = this.requests.labels({ method, handler, code: String(code) })));
    series.observe(seconds);
  }

  /** The exposition text (Prometheus text format 0.0.4) and its content type. */
  async text(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  /** Stops the event-loop monitor of the process metrics (the hub's close). */
  close(): void {
    this.stopProcessMetrics();
  }

  /** Forgets the cached database read: the next scrape reads afresh. */
  refresh(): void {
    this.snapshot.clear();
  }
}
