/** Statistics and printing. Benchmarks print figures; they never assert. */

export function quantile(values: number[], q: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  // nearest rank
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[rank]!;
}

export const median = (v: number[]) => {
  if (!v.length) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
export const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
export const min = (v: number[]) => (v.length ? Math.min(...v) : NaN);
export const max = (v: number[]) => (v.length ? Math.max(...v) : NaN);

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 0.1) return `${ms.toFixed(2)} ms`;
  // Websocket round trips on loopback: 0.03 ms against 0.05 ms hides a third of the difference.
  return `${(ms * 1000).toFixed(0)} µs`;
}

export function fmtNum(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtRatio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return 'n/a';
  return `${(a / b).toFixed(a / b >= 10 ? 0 : 1)}x`;
}

/** A markdown table, columns padded to line up in a terminal. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** One line of a benchmark's summary. */
export interface Figure {
  metric: string;
  ganymede: string;
  jupyterhub: string;
  /** Ganymede's target, if any. */
  target?: string;
  /** 'met', 'MISSED' or a remark. */
  verdict?: string;
}

export interface BenchResult {
  name: string;
  title: string;
  figures: Figure[];
  notes: string[];
  seconds: number;
  /**
   * Header of the second column when it is not JupyterHub 3.0 (e.g. the
   * scheduler's own floor, when JupyterHub's spawner cannot run here).
   */
  peer?: string;
}

export function figuresTable(figures: Figure[], peer = 'JupyterHub 3.0'): string {
  return table(
    ['metric', 'Ganymede', peer, 'target (Ganymede)', 'verdict'],
    figures.map((f) => [f.metric, f.ganymede, f.jupyterhub, f.target ?? '', f.verdict ?? '']),
  );
}

export const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

export function log(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Rejects after `ms` with a message naming `what`. */
export async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}
