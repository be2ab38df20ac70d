/**
 * Fixtures for the end-to-end tests of the Slurm back-end through the hub
 * (test/e2e/slurm-ssh*.test.ts): the back-end's config over the test
 * cluster's sshd, the job's files in a directory the job users can read, a
 * hub log the test can read, a sampler of every command line on the machine,
 * and the job id a server's row records.
 */
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { getServer } from '../../src/db/repos/servers.js';
import { getUser } from '../../src/db/repos/users.js';
import { TRIVIAL_SERVER, type TestHub } from './hub.js';
import { jobUsersCannotUse, runAsRoot, type SlurmCluster } from './slurm-cluster.js';

const LAUNCHER = fileURLToPath(new URL('../../bin/ganymede-singleuser', import.meta.url));

/**
 * A `kind: slurm` back-end reaching the test cluster over its sshd as the
 * service account, jobs run as the system user through `sudo -n -u`.
 * `extra` is merged over it.
 */
export function slurmOverSsh(c: SlurmCluster, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'slurm',
    ssh: { host: c.sshHost, port: c.sshPort, user: c.sshUser, key_file: c.keyFile, known_hosts: c.knownHostsFile },
    exec_prefix: 'sudo -n -u {username}',
    startup_poll_interval: 0.3,
    req_runtime: '00:15:00',
    ...extra,
  };
}

/** The files a job runs, copied where every job user can read them. */
export interface JobFiles {
  dir: string;
  /** A copy of bin/ganymede-singleuser. */
  launcher: string;
  /** A copy of test/fixtures/trivial-server.mjs. */
  trivialServer: string;
  remove(): void;
}

/**
 * Copies the launcher and the trivial server into a fresh 0755 directory
 * under the system's temp dir (the checkout may sit where the job users
 * cannot enter), and checks that each job user can use them.
 *
 * @throws Error listing what a job user cannot read or run.
 */
export async function jobFiles(c: SlurmCluster): Promise<JobFiles> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-e2e-job-'));
  chmodSync(dir, 0o755);
  const launcher = path.join(dir, 'ganymede-singleuser');
  const trivialServer = path.join(dir, 'trivial-server.mjs');
  copyFileSync(LAUNCHER, launcher);
  copyFileSync(TRIVIAL_SERVER, trivialServer);
  chmodSync(launcher, 0o755);
  chmodSync(trivialServer, 0o644);
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const problems = await jobUsersCannotUse(c, [trivialServer, process.execPath], [launcher, process.execPath]);
  if (problems.length > 0) {
    remove();
    throw new Error(`the job users cannot use the job's files:\n${problems.join('\n')}`);
  }
  return { dir, launcher, trivialServer, remove };
}

/** A hub logger whose lines the test reads (level debug); echoed to stderr when GANYMEDE_TEST_LOG is set. */
export function capturedLog(): { log: pino.Logger; text(): string; records(): Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const echo = process.env['GANYMEDE_TEST_LOG'] !== undefined;
  const log = pino(
    { level: 'debug' },
    {
      write(s: string) {
        lines.push(s);
        if (echo) process.stderr.write(s);
      },
    },
  );
  return {
    log,
    text: () => lines.join(''),
    records: () =>
      lines.flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
  };
}

/**
 * Samples `ps -eo user,args` every `everyMs` until stopped: every distinct
 * command line seen (to show that a secret was never on one).
 */
export function commandLineSampler(everyMs = 100): { stop(): Promise<string[]> } {
  const seen = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = await runAsRoot('ps -eo user:20,args --no-headers', { timeoutMs: 10_000 }).catch(() => undefined);
      for (const line of r?.stdout.split('\n') ?? []) if (line.trim()) seen.add(line.trim());
      await new Promise((res) => setTimeout(res, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return [...seen];
    },
  };
}

/** The saved spawner state of `user`'s server (`{}` when none). */
export async function serverState(t: TestHub, user: string, server = ''): Promise<Record<string, unknown>> {
  const u = await getUser(t.hub.db, user);
  if (!u) return {};
  const row = await getServer(t.hub.db, u.id, server);
  return row?.state ? (JSON.parse(row.state) as Record<string, unknown>) : {};
}

/** The job id `user`'s server records, or undefined before submission. */
export async function jobIdOf(t: TestHub, user: string, server = ''): Promise<string | undefined> {
  const id = (await serverState(t, user, server))['job_id'];
  return typeof id === 'string' ? id : undefined;
}

/** The environment of the first process of `user` whose command line contains `needle` (read as root from /proc), or undefined. */
export async function processEnvOf(user: string, needle: string): Promise<Record<string, string> | undefined> {
  const r = await runAsRoot(`for p in $(pgrep -u ${shellWord(user)}); do if tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -qF -- ${shellWord(needle)}; then tr '\\0' '\\n' < /proc/$p/environ; exit 0; fi; done; exit 1`);
  if (r.code !== 0) return undefined;
  const env: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

function shellWord(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
