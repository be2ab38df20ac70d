/**
 * The real Slurm + sshd of scripts/slurm-test-env/up.sh, as bench/slurm.ts
 * uses it: bringing it up (optionally with a bigger node), commands over the
 * OpenSSH client as the service account, a directory the jobs can read and
 * write, the counting `squeue` wrapper, and cancelling this run's jobs.
 *
 * The cluster is machine-wide and shared with tests: only jobs named
 * `gbench-<run id>-…` are ever cancelled, and the node is put back to up.sh's
 * defaults at the end ({@link restoreDefaultNode}).
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, TRIVIAL_SERVER } from './hubs.js';
import { RUN_ID } from './procs.js';

const run = promisify(execFile);

export const UP_SCRIPT = path.join(ROOT, 'scripts', 'slurm-test-env', 'up.sh');
export const LAUNCHER = path.join(ROOT, 'bin', 'ganymede-singleuser');
/** Where the counting wrapper is installed (as root). */
export const COUNTED_SQUEUE = '/usr/local/libexec/ganymede-bench/squeue-counted';

/** What up.sh printed (KEY=value lines). */
export interface SlurmEnv {
  sshHost: string;
  sshPort: number;
  sshUser: string;
  keyFile: string;
  knownHosts: string;
  node: string;
  nodeCpus: number;
}

/** Why this benchmark cannot run here, or undefined. */
export function slurmBenchUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'it runs as root (up.sh starts daemons; the counting wrapper is installed in /usr/local)';
  for (const p of ['/usr/sbin/slurmctld', '/usr/bin/sbatch', '/usr/sbin/sshd', '/usr/bin/ssh']) if (!existsSync(p)) return `${p} is missing (apt-get install slurm-wlm munge openssh-server openssh-client)`;
  return undefined;
}

/**
 * Runs up.sh (idempotent); with `node`, the node gets that many CPUs and MB
 * of memory, which rewrites slurm.conf and restarts slurmctld and slurmd.
 */
export async function slurmUp(node?: { cpus: number; memMb: number }): Promise<SlurmEnv> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['NODE_CPUS'];
  delete env['NODE_MEM_MB'];
  if (node) Object.assign(env, { NODE_CPUS: String(node.cpus), NODE_MEM_MB: String(node.memMb) });
  const { stdout } = await run('bash', [UP_SCRIPT], { env, timeout: 120_000 });
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) kv.set(m[1]!, m[2]!);
  }
  const get = (k: string) => {
    const v = kv.get(k);
    if (v === undefined) throw new Error(`up.sh did not print ${k}`);
    return v;
  };
  return {
    sshHost: get('SSH_HOST'),
    sshPort: Number(get('SSH_PORT')),
    sshUser: get('SSH_USER'),
    keyFile: get('SSH_KEY_FILE'),
    knownHosts: get('SSH_KNOWN_HOSTS'),
    node: get('SLURM_NODE'),
    nodeCpus: Number(get('SLURM_NODE_CPUS')),
  };
}

/** The pid in slurmctld's pid file (a change means it was restarted), or undefined. */
export function slurmctldPid(): number | undefined {
  try {
    return Number(readFileSync('/run/slurm/slurmctld.pid', 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** Puts the node back to up.sh's defaults (other users of the cluster expect them). */
export async function restoreDefaultNode(): Promise<void> {
  await slurmUp();
}

/** The OpenSSH client argv that runs `remote` as the service account (a new connection each time, host key checked). */
export function sshArgv(env: SlurmEnv, remote: string): string[] {
  return [
    '-p', String(env.sshPort), '-i', env.keyFile,
    '-o', `UserKnownHostsFile=${env.knownHosts}`, '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=10',
    `${env.sshUser}@${env.sshHost}`, remote,
  ];
}

/** Names of this run's jobs: the hub's and the floor's. */
export const JOB_NAME = { hub: `gbench-${RUN_ID}-hub`, floor: `gbench-${RUN_ID}-floor` } as const;

/**
 * A directory the service account owns (jobs write their logs there) holding
 * copies of the launcher and the trivial server, readable by every account.
 */
export function makeJobDir(owner: string): { dir: string; launcher: string; server: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-bench-slurm-'));
  const launcher = path.join(dir, 'ganymede-singleuser');
  const server = path.join(dir, 'trivial-server.mjs');
  copyFileSync(LAUNCHER, launcher);
  copyFileSync(TRIVIAL_SERVER, server);
  chmodSync(launcher, 0o755);
  chmodSync(server, 0o755);
  chmodSync(dir, 0o755);
  const { uid, gid } = accountIds(owner);
  chownSync(dir, uid, gid);
  return { dir, launcher, server };
}

function accountIds(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  const f = line?.split(':');
  if (!f || f.length < 4) throw new Error(`no account ${name} in /etc/passwd (run up.sh)`);
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/**
 * Installs {@link COUNTED_SQUEUE}: it appends `<epoch seconds> <its arguments>`
 * to `logFile` (created here, writable by `owner` only), then execs squeue.
 */
export function installCountingSqueue(logFile: string, owner: string): void {
  mkdirSync(path.dirname(COUNTED_SQUEUE), { recursive: true, mode: 0o755 });
  writeFileSync(logFile, '');
  const { uid, gid } = accountIds(owner);
  chownSync(logFile, uid, gid);
  chmodSync(logFile, 0o644);
  if (/[^A-Za-z0-9/._-]/.test(logFile)) throw new Error(`unexpected characters in ${logFile}`);
  writeFileSync(
    COUNTED_SQUEUE,
    [
      '#!/bin/sh',
      "# Written by Ganymede's bench/slurm.ts: logs one line per scheduler query, then runs squeue.",
      `printf '%s %s\\n' "$(date +%s.%N)" "$*" >>${logFile}`,
      'exec /usr/bin/squeue "$@"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  chmodSync(COUNTED_SQUEUE, 0o755);
}

/** Removes the counting wrapper. */
export function removeCountingSqueue(): void {
  rmSync(COUNTED_SQUEUE, { force: true });
}

/** One query the wrapper logged. */
export interface LoggedQuery {
  /** Epoch ms. */
  at: number;
  /** `all`: the one query for every job (-t all); `job`: a query of one job (-j). */
  kind: 'all' | 'job';
}

/** The queries the wrapper logged between `fromMs` and `toMs` (epoch ms). */
export function loggedQueries(logFile: string, fromMs: number, toMs: number): LoggedQuery[] {
  const out: LoggedQuery[] = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    const m = /^(\d+\.\d+) (.*)$/.exec(line);
    if (!m) continue;
    const at = Number(m[1]) * 1000;
    if (at >= fromMs && at <= toMs) out.push({ at, kind: / -j /.test(` ${m[2]!} `) ? 'job' : 'all' });
  }
  return out;
}

/**
 * Runs squeue (as root, locally) and resolves its stdout; asked again (for at
 * most 60 s) while slurmctld cannot be reached (tests sharing the cluster
 * stop and restart it).
 */
export async function squeue(args: string[]): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const { stdout } = await run('squeue', args, { timeout: 30_000 });
      return stdout;
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? '');
      if (!/Unable to contact slurm controller|Socket timed out/i.test(stderr) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** The node's CPU count as sinfo prints it (to notice that someone reset the node during the run). */
export async function nodeCpus(): Promise<number> {
  const { stdout } = await run('sinfo', ['-h', '-o', '%c'], { timeout: 30_000 });
  return Number(stdout.trim().split('\n')[0]);
}

/** Job ids of this run's jobs named `name` that squeue still lists (any state). */
export async function jobIdsNamed(name: string): Promise<string[]> {
  return (await squeue(['-h', '-n', name, '-o', '%i'])).split('\n').map((l) => l.trim()).filter((l) => /^\d+$/.test(l));
}

/** Whether `squeue -h -j ID` prints nothing (the job is gone, as the brief of the bench defines it). */
export async function jobGone(id: string): Promise<boolean> {
  try {
    return (await squeue(['-h', '-j', id, '-o', '%T'])).trim() === '';
  } catch (err) {
    // "Invalid job id specified": forgotten already
    if (/Invalid job id/i.test(String((err as { stderr?: unknown }).stderr ?? ''))) return true;
    throw err;
  }
}

/** Cancels every job of this run (by name, only the service account's) and waits (at most 30 s) until none is listed. */
export async function cancelRunJobs(owner: string): Promise<number> {
  let left: number;
  for (const name of Object.values(JOB_NAME)) await run('scancel', ['-u', owner, '-n', name], { timeout: 30_000 }).catch(() => undefined);
  const deadline = Date.now() + 30_000;
  do {
    left = 0;
    for (const name of Object.values(JOB_NAME)) left += (await jobIdsNamed(name).catch(() => [])).length;
    if (!left) return 0;
    await new Promise((r) => setTimeout(r, 250));
  } while (Date.now() < deadline);
  return left;
}
