/** What every benchmark shares: options, profiling, and running one file on its own. */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCleanupHandlers, stopAll } from './procs.js';
import { figuresTable, log, type BenchResult } from './report.js';
import { newestProfile, summarizeProfile } from './profile.js';
import { checkBuild } from './hubs.js';

export interface BenchOptions {
  /** Shorter runs and fewer samples, to check that a benchmark works (figures not comparable). */
  quick: boolean;
  /** Run the Ganymede hub under `node --cpu-prof` and print where its CPU time went. */
  profile: boolean;
  /** Keep the hubs' temporary directories (logs, databases). */
  keep: boolean;
}

export type Bench = (opts: BenchOptions) => Promise<BenchResult>;

export function parseArgs(argv: string[]): { names: string[]; opts: BenchOptions; build: boolean } {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const env = (k: string) => process.env[k] === '1';
  const known = ['--quick', '--profile', '--keep', '--build'];
  for (const f of flags) if (!known.includes(f)) throw new Error(`unknown option ${f}; known: ${known.join(' ')}`);
  return {
    names: argv.filter((a) => !a.startsWith('--')),
    build: flags.has('--build'),
    opts: {
      quick: flags.has('--quick') || env('BENCH_QUICK'),
      profile: flags.has('--profile') || env('BENCH_PROFILE'),
      keep: flags.has('--keep') || env('BENCH_KEEP'),
    },
  };
}

/** The node flags for a profiled Ganymede hub, and a function that prints the summary afterwards. */
export function profiler(opts: BenchOptions, what: string): { nodeArgs: string[]; report(): void } {
  if (!opts.profile) return { nodeArgs: [], report: () => undefined };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-bench-prof-'));
  return {
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
    report() {
      const file = newestProfile(dir);
      if (!file) {
        log(`profile: no .cpuprofile written in ${dir}`);
        return;
      }
      const s = summarizeProfile(file);
      process.stdout.write(`\n### CPU profile of the Ganymede hub: ${what}\n(${file}; open it in Chrome DevTools > Performance)\n\n${s.text}\n`);
    },
  };
}

export function printResult(r: BenchResult): void {
  process.stdout.write(`\n## ${r.title} (${r.name}, ${r.seconds.toFixed(0)} s)\n\n${figuresTable(r.figures, r.peer)}\n`);
  for (const n of r.notes) process.stdout.write(`- ${n}\n`);
}

/**
 * When `moduleUrl` is the script node was asked to run: run this one benchmark and exit.
 * `usesDist: false`: the benchmark runs src/ in-process, so a missing or stale dist/ is not checked.
 */
export function runIfMain(moduleUrl: string, bench: Bench, how: { usesDist?: boolean } = {}): void {
  const file = process.argv[1] ? path.resolve(process.argv[1]) : '';
  if (file !== fileURLToPath(moduleUrl)) return;
  installCleanupHandlers();
  const { opts } = parseArgs(process.argv.slice(2));
  void (async () => {
    let code = 0;
    try {
      const stale = how.usesDist === false ? undefined : checkBuild();
      if (stale) log(`warning: ${stale}`);
      printResult(await bench(opts));
    } catch (err) {
      process.stderr.write(`benchmark failed: ${(err as Error).stack ?? String(err)}\n`);
      code = 1;
    } finally {
      await stopAll();
    }
    process.exit(code);
  })();
}
