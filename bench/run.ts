/**
 * Runs the benchmarks and prints a summary table.
 *
 *   node --import tsx bench/run.ts [api] [admin] [startup] [startup-large] [spawn] [spawn-trivial] [spawn-storm] [proxy] [kubernetes] [slurm] [--quick] [--profile] [--keep] [--build]
 *   npm run bench -- [names...] [flags]
 *
 * No name: all of them but slurm (run it by name: it needs root and resizes the
 * shared Slurm test node for its run). --build runs `npm run build` first (the hub under test is
 * dist/). --quick: short runs to check the scripts work (figures not
 * comparable). --profile: the Ganymede hub runs under `node --cpu-prof` and a
 * summary of where its CPU time went is printed. --keep: keep the hubs'
 * temporary directories. Figures are printed, never asserted: the exit code is
 * non-zero only when a benchmark could not run.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { apiBench } from './api.js';
import { adminBench } from './admin.js';
import { startupBench } from './startup.js';
import { startupLargeBench } from './startup-large.js';
import { spawnBench } from './spawn.js';
import { spawnTrivialBench } from './spawn-trivial.js';
import { spawnStormBench } from './spawn-storm.js';
import { proxyBench } from './proxy.js';
import { slurmBench } from './slurm.js';
import { kubernetesBench } from './kubernetes.js';
import { parseArgs, printResult, type Bench } from './lib/common.js';
import { checkBuild, jupyterhubVersion, ROOT } from './lib/hubs.js';
import { installCleanupHandlers, stopAll } from './lib/procs.js';
import { wrkAvailable } from './lib/load.js';
import { log, table, type BenchResult } from './lib/report.js';

/** `onlyWhenNamed`: not part of "all" (slurm reconfigures the machine's shared test cluster and needs root). */
const BENCHES: Record<string, { bench: Bench; limitMin: number; onlyWhenNamed?: boolean }> = {
  api: { bench: apiBench, limitMin: 30 },
  admin: { bench: adminBench, limitMin: 20 },
  startup: { bench: startupBench, limitMin: 30 },
  'startup-large': { bench: startupLargeBench, limitMin: 25 },
  spawn: { bench: spawnBench, limitMin: 20 },
  'spawn-trivial': { bench: spawnTrivialBench, limitMin: 20 },
  'spawn-storm': { bench: spawnStormBench, limitMin: 45 },
  proxy: { bench: proxyBench, limitMin: 15 },
  kubernetes: { bench: kubernetesBench, limitMin: 5 },
  slurm: { bench: slurmBench, limitMin: 20, onlyWhenNamed: true },
};

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch (err) {
    // `wrk -v` prints its version and exits 1
    const out = (err as { stdout?: unknown }).stdout;
    return typeof out === 'string' && out.trim() ? out.trim() : '?';
  }
}

async function main(): Promise<number> {
  const { names, opts, build } = parseArgs(process.argv.slice(2));
  const selected = names.length ? names : Object.keys(BENCHES).filter((n) => !BENCHES[n]!.onlyWhenNamed);
  for (const n of selected) if (!BENCHES[n]) throw new Error(`unknown benchmark ${JSON.stringify(n)}; known: ${Object.keys(BENCHES).join(', ')}`);
  if (build) {
    log('building (npm run build)');
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  }
  const stale = checkBuild();
  installCleanupHandlers();
  const cpu = os.cpus();
  const dirty = sh('git', ['status', '--porcelain', '--', 'src']) ? ' (src/ has uncommitted changes)' : '';
  process.stdout.write(
    [
      `# Ganymede benchmarks ${new Date().toISOString()}`,
      `machine: ${cpu.length} x ${cpu[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`,
      `node ${process.version}; ${await jupyterhubVersion().then((v) => `jupyterhub ${v}`)}; load tool: ${wrkAvailable() ? sh('wrk', ['-v']).split('\n')[0]!.replace(/ Copyright.*/, '') : 'autocannon'}`,
      `ganymede: commit ${sh('git', ['rev-parse', '--short', 'HEAD'])}${dirty}${opts.quick ? '; QUICK MODE: figures not comparable' : ''}`,
      ...(stale ? [`warning: ${stale}`] : []),
      '',
    ].join('\n'),
  );

  const results: BenchResult[] = [];
  const failed: string[] = [];
  for (const name of selected) {
    const { bench, limitMin } = BENCHES[name]!;
    log(`=== ${name}`);
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = await Promise.race([
        bench(opts),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${name} did not finish within ${limitMin} min`)), limitMin * 60_000);
        }),
      ]);
      results.push(r);
      printResult(r);
    } catch (err) {
      failed.push(name);
      process.stderr.write(`benchmark ${name} failed: ${(err as Error).stack ?? String(err)}\n`);
    } finally {
      clearTimeout(timer);
      // whatever this benchmark left running
      await stopAll();
    }
  }

  process.stdout.write('\n# Summary\n\n');
  const rows: string[][] = [];
  // a bench whose peer is not JupyterHub names it in the cell
  for (const r of results) for (const f of r.figures) rows.push([r.name, f.metric, f.ganymede, r.peer ? `${r.peer}: ${f.jupyterhub}` : f.jupyterhub, f.target ?? '', f.verdict ?? '']);
  for (const n of failed) rows.push([n, 'FAILED (see stderr)', '', '', '', '']);
  process.stdout.write(`${table(['bench', 'metric', 'Ganymede', 'JupyterHub 3.0 (or the peer named)', 'target (Ganymede)', 'verdict'], rows)}\n`);
  return failed.length ? 1 : 0;
}

main()
  .then(async (code) => {
    await stopAll();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    await stopAll();
    process.exit(2);
  });
