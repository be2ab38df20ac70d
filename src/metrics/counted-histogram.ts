/**
 * A Prometheus histogram for what is observed on every request
 * (`jupyterhub_request_duration_seconds`).
 *
 * prom-client's Histogram checks the label names and hashes the label set
 * on each observation; on a fast API read that cost about a twentieth of the
 * request. Here a series is found once by its label values and kept, and an
 * observation is a bucket search and three additions. The histogram is
 * registered in a prom-client Registry, which renders it as it renders its
 * own (it asks {@link CountedHistogram.get} for the values).
 */
import type { Metric, Registry } from 'prom-client';

/** One line of the exposition, as prom-client's Registry takes it. */
interface ValueLine {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/** prom-client's default buckets (those JupyterHub's request histogram has). */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One label set's counts. */
export class CountedSeries {
  /** Observations per bucket (not cumulative); the last one counts those above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class CountedHistogram<L extends string> {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly series = new Map<string, CountedSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    registers: readonly Registry[],
    readonly buckets: readonly number[] = DEFAULT_BUCKETS,
  ) {
    for (const r of registers) r.registerMetric(this as unknown as Metric<L>);
  }

  /** The series of these label values (made on first use). */
  labels(values: Readonly<Record<L, string>>): CountedSeries {
    const key = this.labelNames.map((l) => values[l]).join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const labels: Record<string, string> = {};
      for (const l of this.labelNames) labels[l] = values[l];
      this.series.set(key, (s = new CountedSeries(labels, this.buckets)));
    }
    return s;
  }

  /** What prom-client's Registry renders: cumulative `_bucket` lines with `le`, then `_sum` and `_count`, per series. */
  get(): { name: string; help: string; type: 'histogram'; values: ValueLine[]; aggregator: 'sum' } {
    const values: ValueLine[] = [];
    for (const s of this.series.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le }, value: acc });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }

  /** Zeroes every series (kept: their holders keep observing into them). */
  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
