/**
 * Reads a Prometheus text exposition with two real parsers:
 * - npm `parse-prometheus-text-format`: every line must parse; gives the
 *   families with their TYPE and HELP and the gauges' values (it flattens
 *   labelled histograms, losing their labels, so it is not used for those);
 * - the Prometheus project's own Python client parser
 *   (`prometheus_client.parser`, Debian's python3-prometheus-client, which
 *   Debian's jupyterhub package depends on): every sample, histograms with
 *   their labels included.
 */
import { spawnSync } from 'node:child_process';
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  families: Map<string, MetricFamily>;
  samples: Sample[];
  /** The value of the one sample named `name` whose labels include `labels`; undefined when none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const PYTHON_PARSER = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        v = s.value
        out.append([s.name, s.labels, v if math.isfinite(v) else str(v)])
print(json.dumps(out))
`;

export function parseExposition(text: string): Exposition {
  const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
  const run = spawnSync('/usr/bin/python3', ['-c', PYTHON_PARSER], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (run.status !== 0) throw new Error(`prometheus_client's parser refused the exposition (or is not installed: apt-get install python3-prometheus-client): ${run.stderr || run.error?.message}`);
  const samples = (JSON.parse(run.stdout) as [string, Record<string, string>, number | string][]).map(([name, labels, value]) => ({ name, labels, value: Number(value) }));
  return {
    families,
    samples,
    value(name, labels = {}) {
      const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
  };
}
