/**
 * Processes started by the benchmarks, and how they are all stopped.
 *
 * Every process a benchmark starts (hubs, proxies, single-user servers) carries
 * the variable GANYMEDE_BENCH_RUN=<id of this run> in its environment: the hubs
 * get it from us, their proxies inherit it, and both hubs are configured to
 * pass it to the servers they spawn. `stopAll()` signals the children we
 * started, then sweeps /proc for any process that still carries this run's
 * mark (detached proxies and servers outlive their hub by design), so nothing
 * is left running at the end, even on error or Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export const MARK = 'GANYMEDE_BENCH_RUN';
export const RUN_ID = `${process.pid}-${randomBytes(4).toString('hex')}`;

const children = new Set<ChildProcess>();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The environment for a process we start: ours plus this run's mark. */
export function markedEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return { ...env, ...extra, [MARK]: RUN_ID };
}

export interface StartOptions {
  cwd: string;
  env?: Record<string, string>;
  /** stdout and stderr go here (appended). */
  logFile: string;
  /** Own process group (so its whole group can be signalled). */
  detached?: boolean;
}

/** Starts a process (marked), tracked until it exits. Resolves once it is running. */
export async function startProcess(cmd: string, args: string[], opts: StartOptions): Promise<ChildProcess> {
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: markedEnv(opts.env),
      stdio: ['ignore', fd, fd],
      detached: opts.detached ?? false,
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => reject(new Error(`cannot start ${cmd}: ${err.message}`)));
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  } finally {
    closeSync(fd);
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // a zombie is not running any more
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

/** Waits up to `ms` for a child to exit; true when it did. */
export async function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.pid === undefined) return;
  if (child.exitCode !== null || child.signalCode !== null) return;
  signal(child.pid, 'SIGTERM');
  if (await waitExit(child, graceMs)) return;
  signal(child.pid, 'SIGKILL');
  await waitExit(child, 2000);
}

/** Pids of processes (other than us) whose environment carries this run's mark. */
export function markedPids(extra?: (environ: string) => boolean): number[] {
  const needle = `${MARK}=${RUN_ID}\0`;
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (environ.includes(needle) && (!extra || extra(environ)) && alive(pid)) out.push(pid);
  }
  return out;
}

/** Pid of a marked process whose environment has `KEY=value`. */
export function findMarked(key: string, value: string): number | undefined {
  return markedPids((env) => env.includes(`\0${key}=${value}\0`) || env.startsWith(`${key}=${value}\0`))[0];
}

/** Signals pids by id (SIGTERM, then SIGKILL to whatever is left after `graceMs`). */
export async function killPids(pids: number[], graceMs = 3000): Promise<void> {
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(alive)) await sleep(50);
  for (const pid of pids) if (alive(pid)) signal(pid, 'SIGKILL');
}

/** Stops every tracked child, then every other process marked with this run's id. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => stopProcess(c, 5000)));
  for (let round = 0; round < 3; round++) {
    const left = markedPids();
    if (!left.length) return;
    await killPids(left);
  }
}

/** Last resort when the process exits abruptly: SIGKILL everything marked. */
function killAllNow(): void {
  for (const c of children) if (c.pid !== undefined) signal(c.pid, 'SIGKILL');
  try {
    for (const pid of markedPids()) signal(pid, 'SIGKILL');
  } catch {
    // best effort
  }
}

let installed = false;
/** On Ctrl-C / SIGTERM: stop everything, then exit. On exit: kill what is left. */
export function installCleanupHandlers(): void {
  if (installed) return;
  installed = true;
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${sig}: stopping every process this benchmark started...\n`);
    const force = setTimeout(() => {
      killAllNow();
      process.exit(130);
    }, 15_000);
    void stopAll().finally(() => {
      clearTimeout(force);
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', killAllNow);
}
