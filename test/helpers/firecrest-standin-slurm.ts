/**
 * The Slurm side of the FirecREST stand-in: what FirecREST's scheduler layer
 * does over SSH, done here on the real local Slurm. Jobs are submitted and
 * cancelled as the Unix user (`runuser -u <user> --`, so the test process must
 * be root); jobs are read as root with `squeue -t all` and `scontrol`. Every
 * command runs without a shell, with a timeout. The parsers are pure.
 */
import { spawn } from 'node:child_process';

/** What a command printed. */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Runs argv (no shell) with `env` as the whole environment; killed after `timeoutMs`. */
export function runCommand(argv: string[], opts: { stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? { PATH: BASE_PATH } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolvePromise({ code: null, stdout, stderr: `${stderr}${err.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin ?? '');
  });
}

/** The job fields the stand-in passes to sbatch (already checked against the spec). */
export interface SbatchJob {
  script: string;
  workingDirectory: string;
  name?: string | null;
  account?: string | null;
  partition?: string | null;
  reservation?: string | null;
  constraints?: string | null;
  standardInput?: string | null;
  standardOutput?: string | null;
  standardError?: string | null;
  env: Record<string, string>;
}

/**
 * `sbatch --parsable` as `user`, the script on stdin, the job's env as the
 * submitting environment (sbatch's default `--export=ALL` passes it into the
 * job). Resolves the job id, or the error sbatch printed.
 */
export async function sbatchAs(user: string, job: SbatchJob): Promise<{ jobId: string } | { error: string }> {
  const args = ['--parsable', `--chdir=${job.workingDirectory}`];
  const opt = (flag: string, v: string | null | undefined) => {
    if (v !== undefined && v !== null && v !== '') args.push(`--${flag}=${v}`);
  };
  opt('job-name', job.name);
  opt('account', job.account);
  opt('partition', job.partition);
  opt('reservation', job.reservation);
  opt('constraint', job.constraints);
  opt('input', job.standardInput);
  opt('output', job.standardOutput);
  opt('error', job.standardError);
  const env = { ...job.env, PATH: job.env['PATH'] ?? BASE_PATH };
  const r = await runCommand(['runuser', '-u', user, '--', 'sbatch', ...args], { stdin: job.script, env });
  const id = /^(\d+)(;\S+)?\s*$/.exec(r.stdout.trim());
  if (r.code === 0 && id) return { jobId: id[1] as string };
  return { error: (r.stderr.trim() || `sbatch exited with ${String(r.code)}`).replace(/^sbatch: error: /gm, '') };
}

/** `scancel` as `user`; the error scancel printed, or undefined. */
export async function scancelAs(user: string, jobId: string): Promise<string | undefined> {
  const r = await runCommand(['runuser', '-u', user, '--', 'scancel', jobId]);
  return r.code === 0 ? undefined : r.stderr.trim() || `scancel exited with ${String(r.code)}`;
}

const SEP = '\u001f';
// id, name, state, reason, node count, node list, partition, user, group, account, priority, workdir, start, end, elapsed, limit
const SQUEUE_FORMAT = ['%i', '%j', '%T', '%r', '%D', '%N', '%P', '%u', '%g', '%a', '%Q', '%Z', '%S', '%e', '%M', '%l'].join(SEP);

/** Seconds of a Slurm duration (`[d-][hh:]mm:ss`); null for `UNLIMITED`, `N/A`, `INVALID`. */
export function slurmDuration(s: string): number | null {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(s.trim());
  if (!m) return null;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

/** Epoch seconds of Slurm's local `YYYY-MM-DDTHH:MM:SS`; null for `N/A`, `Unknown`. */
export function slurmTime(s: string): number | null {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(s.trim())) return null;
  const t = new Date(s.trim()).getTime(); // no zone: local time, as Slurm prints it
  return Number.isFinite(t) ? Math.floor(t / 1000) : null;
}

/** A job as `JobModel` (spec field names), plus its owner for the access check. */
export interface StandinJob {
  owner: string;
  model: Record<string, unknown>;
}

/** Parses one line of {@link SQUEUE_FORMAT}; undefined when it is not one. */
export function parseSqueueLine(line: string, cluster: string): StandinJob | undefined {
  const f = line.split(SEP);
  if (f.length !== 16) return undefined;
  const [id, name, state, reason, count, nodes, partition, user, group, account, priority, workdir, start, end, elapsed, limit] = f as string[];
  const limitSeconds = slurmDuration(limit!);
  return {
    owner: user!,
    model: {
      jobId: id,
      name,
      status: { state, stateReason: reason === 'None' ? null : reason, exitCode: null, interruptSignal: null },
      time: {
        elapsed: slurmDuration(elapsed!),
        start: slurmTime(start!),
        end: slurmTime(end!),
        limit: limitSeconds === null ? null : Math.floor(limitSeconds / 60), // minutes, Slurm's unit
        suspended: 0,
      },
      allocationNodes: Number(count) || 0,
      cluster,
      nodes: nodes === '(null)' ? '' : nodes,
      partition,
      user,
      group,
      account: account === '(null)' ? null : account,
      priority: /^\d+$/.test(priority!) ? Number(priority) : null,
      workingDirectory: workdir,
      killRequestUser: null,
      tasks: null,
    },
  };
}

/** The job as root sees it with `squeue -t all`; null when Slurm no longer knows it. */
export async function squeueJob(jobId: string, cluster: string): Promise<StandinJob | null> {
  const r = await runCommand(['squeue', '-h', '-t', 'all', '-j', jobId, '-o', SQUEUE_FORMAT]);
  if (r.code !== 0) {
    if (/Invalid job id/i.test(r.stderr)) return null;
    throw new Error(`squeue failed: ${r.stderr.trim()}`);
  }
  const line = r.stdout.split('\n').find((l) => l.trim() !== '');
  const job = line === undefined ? undefined : parseSqueueLine(line, cluster);
  if (job === undefined) return null;
  const status = job.model['status'] as { state: string; exitCode: number | null; interruptSignal: number | null };
  if (!LIVE_STATES.has(status.state)) {
    // squeue has no exit code: scontrol's `ExitCode=<code>:<signal>` of a finished job
    const show = await runCommand(['scontrol', 'show', '-o', 'job', jobId]);
    const m = /(?:^| )ExitCode=(\d+):(\d+)/.exec(show.stdout);
    if (show.code === 0 && m) {
      status.exitCode = Number(m[1]);
      status.interruptSignal = Number(m[2]);
    }
  }
  return job;
}

const LIVE_STATES = new Set(['PENDING', 'CONFIGURING', 'RUNNING', 'SUSPENDED', 'COMPLETING', 'REQUEUED', 'RESIZING', 'SIGNALING', 'STAGE_OUT']);

/** `StdOut=`, `StdErr=`, `StdIn=` of `scontrol show -o job` (paths hold no spaces in these tests). */
export function parseScontrolPaths(line: string): { standardOutput: string | null; standardError: string | null; standardInput: string | null } {
  const get = (k: string) => new RegExp(`(?:^| )${k}=(\\S+)`).exec(line)?.[1] ?? null;
  return { standardOutput: get('StdOut'), standardError: get('StdErr'), standardInput: get('StdIn') };
}

/** The output paths and batch script of a job (root), or null when Slurm no longer knows it. */
export async function jobMetadata(jobId: string): Promise<{ script: string | null; standardOutput: string | null; standardError: string | null; standardInput: string | null } | null> {
  const show = await runCommand(['scontrol', 'show', '-o', 'job', jobId]);
  if (show.code !== 0) return null;
  const script = await runCommand(['scontrol', 'write', 'batch_script', jobId, '-']);
  return { ...parseScontrolPaths(show.stdout.trim()), script: script.code === 0 ? script.stdout : null };
}

/** `id` of a Unix user: user, primary group, all groups; null when unknown. */
export async function unixIdentity(user: string): Promise<{ user: Ident; group: Ident; groups: Ident[] } | null> {
  const ask = async (flag: string) => {
    const r = await runCommand(['id', flag, '--', user]);
    return r.code === 0 ? r.stdout.trim() : null;
  };
  const [uid, gid, gname, gids, gnames] = await Promise.all([ask('-u'), ask('-g'), ask('-gn'), ask('-G'), ask('-Gn')]);
  if (uid === null || gid === null || gname === null || gids === null || gnames === null) return null;
  const names = gnames.split(/\s+/);
  return {
    user: { id: uid, name: user },
    group: { id: gid, name: gname },
    groups: gids.split(/\s+/).map((id, i) => ({ id, name: names[i] ?? id })),
  };
}

/** A POSIX id and name, as `PosixIdentified`. */
export interface Ident {
  id: string;
  name: string;
}

/** The partitions `sinfo` lists: name, state, CPUs and node count. */
export async function sinfoPartitions(): Promise<{ name: string; partition: string; cpus: number | null; totalNodes: number | null }[]> {
  const r = await runCommand(['sinfo', '-h', '-o', `%R${SEP}%a${SEP}%C${SEP}%D`]);
  if (r.code !== 0) throw new Error(`sinfo failed: ${r.stderr.trim()}`);
  const byName = new Map<string, { name: string; partition: string; cpus: number | null; totalNodes: number | null }>();
  for (const line of r.stdout.split('\n')) {
    const [name, avail, cpus, nodes] = line.split(SEP);
    if (!name || byName.has(name)) continue;
    const total = /\/(\d+)$/.exec(cpus ?? '')?.[1];
    byName.set(name, { name, partition: (avail ?? '').toUpperCase(), cpus: total === undefined ? null : Number(total), totalNodes: Number(nodes) || null });
  }
  return [...byName.values()];
}
