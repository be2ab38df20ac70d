/**
 * The real Slurm test environment for the batch spawner's tests: a one-node
 * Slurm with munge, a private sshd on 127.0.0.1 that lets the service account
 * `jupyterspawner` in with a key, the BriCS wrapper scripts and sudoers rules
 * (scripts/slurm-test-env/up.sh, run once per test process), plus the few
 * root-side helpers the tests need (look at a job, cancel a user's jobs,
 * stop and start the controller).
 *
 * Jobs run as the test users (`alice`, `bob`, `carol.proj1`), not as root: any
 * file a test hands to a job (the repo's bin/ launcher, test/fixtures/, node)
 * must be readable, and executable where it is run, by them. A checkout under
 * a 0700 directory (what `mktemp -d` makes) is not: see {@link jobUsersCannotUse}.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const UP_SCRIPT = fileURLToPath(new URL('../../scripts/slurm-test-env/up.sh', import.meta.url));

/** Where the environment is and who is in it (as up.sh reported it). */
export interface SlurmCluster {
  /** The "login host" sshd: always 127.0.0.1. */
  sshHost: string;
  sshPort: number;
  /** The service account the hub logs in as (`jupyterspawner`). */
  sshUser: string;
  /** The service account's private key (root-owned, 0600). */
  keyFile: string;
  /** A known_hosts file with the sshd's key as `[127.0.0.1]:<port> ssh-ed25519 …`. */
  knownHostsFile: string;
  /** The sshd's private host key (for tests that start another sshd with the same key). */
  hostKeyFile: string;
  sshdConfigFile: string;
  sshdPidFile: string;
  sshdLogFile: string;
  /** Where `slurmspawner_sbatch`, `slurmspawner_squeue`, `slurmspawner_scancel` are. */
  wrappersDir: string;
  /** Full paths of the three BriCS wrappers. */
  wrappers: { sbatch: string; squeue: string; scancel: string };
  /** Users jobs may run as (`sudo -n -u <user>` from the service account). */
  users: string[];
  /** The Slurm node's name, as `squeue %B` prints it (this host's short name). */
  node: string;
  nodeCpus: number;
  /** An address of the hub that jobs can reach (they run on this machine). */
  hubReachableAddress: string;
}

/** The address a job on the test node uses to reach a hub listening on this machine. */
export const hubReachableAddress = '127.0.0.1';

/** What a command run by these helpers printed. */
export interface RootCommandResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * Runs a shell command line as root (this test process must be root), with
 * an optional standard input, killed after `timeoutMs` (default 30 s).
 */
export function runAsRoot(cmd: string, opts: { stdin?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RootCommandResult> {
  if (process.getuid?.() !== 0) return Promise.reject(new Error('runAsRoot: this test process is not root'));
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/bash', ['-c', cmd], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`runAsRoot: '${cmd}' did not finish within ${opts.timeoutMs ?? 30_000} ms`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin ?? '');
  });
}

const REQUIRED_PROGRAMS = ['/usr/sbin/munged', '/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/bin/sbatch', '/usr/sbin/sshd', '/usr/bin/sudo'];

let cluster: Promise<SlurmCluster | { unavailable: string }> | undefined;

/**
 * Brings the environment up (once per process; re-running up.sh is cheap and
 * restarts nothing that is right). Resolves `{unavailable}` with the reason,
 * also printed as a NOTICE, when it cannot run here (not root, packages
 * missing); rejects when up.sh fails on a machine where it should work.
 * The sshd port is taken from GANYMEDE_TEST_SSH_PORT (default 2222).
 */
export function ensureSlurmCluster(): Promise<SlurmCluster | { unavailable: string }> {
  cluster ??= bringUp();
  return cluster;
}

async function bringUp(): Promise<SlurmCluster | { unavailable: string }> {
  const unavailable = (why: string) => {
    process.stderr.write(`NOTICE: the Slurm tests are skipped: ${why}\n`);
    return { unavailable: why };
  };
  if (process.getuid?.() !== 0) return unavailable('they need root (the test environment starts daemons and creates users)');
  const missing = REQUIRED_PROGRAMS.filter((p) => !existsSync(p));
  if (missing.length > 0) return unavailable(`${missing.join(', ')} missing (scripts/test.sh installs slurm-wlm munge openssh-server sudo)`);
  const env = { ...process.env };
  if (process.env['GANYMEDE_TEST_SSH_PORT']) env['SSH_PORT'] = process.env['GANYMEDE_TEST_SSH_PORT'];
  const r = await runAsRoot(`bash ${shellQuote(UP_SCRIPT)}`, { env, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`scripts/slurm-test-env/up.sh failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  const kv = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) kv.set(m[1] as string, m[2] as string);
  }
  const get = (k: string): string => {
    const v = kv.get(k);
    if (v === undefined) throw new Error(`up.sh did not report ${k}`);
    return v;
  };
  const wrappersDir = get('WRAPPERS_DIR');
  return {
    sshHost: get('SSH_HOST'),
    sshPort: Number(get('SSH_PORT')),
    sshUser: get('SSH_USER'),
    keyFile: get('SSH_KEY_FILE'),
    knownHostsFile: get('SSH_KNOWN_HOSTS'),
    hostKeyFile: get('SSH_HOST_KEY'),
    sshdConfigFile: get('SSH_CONFIG'),
    sshdPidFile: get('SSHD_PID_FILE'),
    sshdLogFile: get('SSHD_LOG'),
    wrappersDir,
    wrappers: {
      sbatch: `${wrappersDir}/slurmspawner_sbatch`,
      squeue: `${wrappersDir}/slurmspawner_squeue`,
      scancel: `${wrappersDir}/slurmspawner_scancel`,
    },
    users: get('SLURM_USERS').split(' ').filter(Boolean),
    node: get('SLURM_NODE'),
    nodeCpus: Number(get('SLURM_NODE_CPUS')),
    hubReachableAddress,
  };
}

/** Single-quotes a word for a POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The `ssh:` block of a `kind: slurm` back-end that reaches this environment as the service account. */
export function sshConfigFor(c: SlurmCluster): { host: string; port: number; user: string; key_file: string; known_hosts: string } {
  return { host: c.sshHost, port: c.sshPort, user: c.sshUser, key_file: c.keyFile, known_hosts: c.knownHostsFile };
}

/** The OpenSSH client command (argv) that logs in as the service account, host key strictly checked. */
export function sshArgv(c: SlurmCluster, remoteCommand: string): string[] {
  return [
    'ssh', '-p', String(c.sshPort), '-i', c.keyFile,
    '-o', `UserKnownHostsFile=${c.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=10',
    `${c.sshUser}@${c.sshHost}`, remoteCommand,
  ];
}

/** What `squeue` knows of a job, or null when it no longer lists it at all. */
export interface JobView {
  /** e.g. `PENDING`, `RUNNING`, `COMPLETED`, `CANCELLED`. */
  state: string;
  /** The node (`n/a` while pending). */
  host: string;
  user: string;
  /** Pending reason, or `None`. */
  reason: string;
}

/**
 * Looks at a job as root, finished ones included (`-t all`: plain `squeue -j`
 * prints nothing for a finished job, exactly as for a job that never existed).
 * Null when Slurm does not know the id (never submitted, or forgotten after MinJobAge).
 */
export async function squeueJob(id: string | number): Promise<JobView | null> {
  if (!/^\d+$/.test(String(id))) throw new Error(`squeueJob: not a job id: ${String(id)}`);
  const r = await runAsRoot(`squeue -h -t all -j ${String(id)} -o '%T|%B|%u|%r'`);
  if (r.code !== 0) {
    if (/Invalid job id/i.test(r.stderr)) return null;
    throw new Error(`squeue failed: ${r.stderr.trim()}`);
  }
  const line = r.stdout.trim().split('\n')[0];
  if (!line) return null;
  const [state = '', host = '', user = '', reason = ''] = line.split('|');
  return { state, host, user, reason };
}

/** Cancels every job of `user` and waits (at most 10 s) until none is queued or running. */
export async function cancelAllJobsOf(user: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_.-]*$/.test(user)) throw new Error(`cancelAllJobsOf: not a user name: ${user}`);
  await runAsRoot(`scancel -u ${shellQuote(user)}`);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const r = await runAsRoot(`squeue -h -u ${shellQuote(user)} -o '%i'`);
    if (r.code === 0 && r.stdout.trim() === '') return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`jobs of ${user} still listed 10 s after scancel`);
}

/**
 * Stops slurmctld (SIGTERM by pid, waits until it is gone or a zombie). Jobs
 * keep running; `squeue` then fails with "Unable to contact slurm controller".
 * The controller is shared by every test on the machine: start it again soon.
 */
export async function stopSlurmctld(): Promise<void> {
  const r = await runAsRoot(
    `pid=$(cat /run/slurm/slurmctld.pid 2>/dev/null) || exit 0
     kill -TERM "$pid" 2>/dev/null || exit 0
     for i in $(seq 1 100); do
       s=$(sed 's/.*) //' /proc/$pid/stat 2>/dev/null | cut -d' ' -f1)
       case "$s" in ''|Z|X) exit 0;; esac
       sleep 0.1
     done
     echo "slurmctld $pid still alive 10 s after SIGTERM" >&2; exit 1`,
  );
  if (r.code !== 0) throw new Error(r.stderr.trim());
}

/** Starts slurmctld again (up.sh starts whatever is not running) and waits until the node is usable. */
export async function startSlurmctld(): Promise<void> {
  const r = await runAsRoot(`bash ${shellQuote(UP_SCRIPT)}`, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`up.sh failed: ${r.stderr}`);
}

/**
 * Which of `paths` some job user cannot use: every path must be readable by
 * each user, and those in `executables` also executable (every parent
 * directory searchable). Empty when all is well; otherwise one line per
 * problem, meant for an assertion message. A checkout under a 0700 directory
 * needs `chmod o+rx` on each parent (CI clones under /tmp/tmp.XXXX are 0700).
 */
export async function jobUsersCannotUse(
  c: SlurmCluster,
  paths: string[],
  executables: string[] = [],
): Promise<string[]> {
  const problems: string[] = [];
  for (const user of c.users) {
    for (const p of [...paths, ...executables]) {
      const test = executables.includes(p) ? '-x' : '-r';
      const r = await runAsRoot(`runuser -u ${shellQuote(user)} -- test ${test} ${shellQuote(p)}`);
      if (r.code !== 0) problems.push(`${user} cannot ${test === '-x' ? 'execute' : 'read'} ${p}`);
    }
  }
  return problems;
}

/** Runs `argv` (no shell) as this process and returns what it printed; for the OpenSSH client in tests. */
export function runArgv(argv: string[], stdin = '', timeoutMs = 30_000): Promise<RootCommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0] as string, argv.slice(1), { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ stdout, stderr, code: child.exitCode });
    });
    child.stdin?.end(stdin);
  });
}
