/**
 * HTTP load: wrk when installed (`wrk -t1 -c N -d Ds --latency --timeout 30s`,
 * its output parsed), else autocannon (in this process).
 */
import { execFile } from 'node:child_process';
import { commandPath } from './host-tools.js';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { markedEnv } from './procs.js';

const run = promisify(execFile);

export interface LoadResult {
  tool: 'wrk' | 'autocannon';
  connections: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  /** Socket errors (connect, read, write, timeout) plus non-2xx/3xx answers. */
  errors: number;
}

let wrkPath: string | null | undefined;
export function wrkAvailable(): string | null {
  if (wrkPath !== undefined) return wrkPath;
  if (process.env['BENCH_LOAD_TOOL'] === 'autocannon') return (wrkPath = null);
  wrkPath = commandPath('wrk') ?? null;
  return wrkPath;
}

/** wrk prints durations as 812.00us, 2.34ms, 1.02s or 1.50m. */
function wrkDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

export function parseWrk(out: string, connections: number): LoadResult {
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : 0;
  };
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(out);
    return m ? wrkDuration(m[1]!) : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return {
    tool: 'wrk',
    connections,
    requests: num(/(\d+) requests in/),
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: pct('50'),
    p99: pct('99'),
    errors: socketErrors + num(/Non-2xx or 3xx responses: (\d+)/),
  };
}

export async function load(opts: { url: string; headers: Record<string, string>; connections: number; seconds: number; tool?: 'wrk' | 'autocannon' }): Promise<LoadResult> {
  const wrk = opts.tool === 'autocannon' ? null : wrkAvailable();
  if (wrk) {
    const args = ['-t1', '-c', String(opts.connections), '-d', `${opts.seconds}s`, '--latency', '--timeout', '30s'];
    for (const [k, v] of Object.entries(opts.headers)) args.push('-H', `${k}: ${v}`);
    args.push(opts.url);
    const { stdout } = await run(wrk, args, { env: markedEnv(), timeout: (opts.seconds + 60) * 1000, maxBuffer: 1 << 20 });
    return parseWrk(stdout, opts.connections);
  }
  const r = await autocannon({ url: opts.url, connections: opts.connections, duration: opts.seconds, headers: opts.headers, timeout: 30 });
  return {
    tool: 'autocannon',
    connections: opts.connections,
    requests: r.requests.total,
    rps: r.requests.total / (r.duration || opts.seconds),
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
  };
}
