/**
 * Test helpers for the batch spawner against the real Slurm of the machine
 * (the dev cluster of /work/shared/recipes/slurm-ssh-up.sh, or CI's): whether
 * it answers, a launcher that reports its port the way batchspawner-singleuser
 * does (to a callback server of the test instead of the hub), and clean-up.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TRIVIAL_SERVER } from './hub.js';

/** Why the real Slurm cannot be used here (not installed, controller down, not root), or undefined. */
export function slurmUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the batch spawner tests run as root (sudo -u alice)';
  try {
    execFileSync('sinfo', ['-h', '-o', '%T'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (err) {
    return `no Slurm here (sinfo failed: ${(err as Error).message.split('\n')[0]}); bring it up with slurm-ssh-up.sh`;
  }
  try {
    execFileSync('id', ['alice'], { stdio: 'ignore' });
  } catch {
    return 'no system account alice (slurm-ssh-up.sh creates it)';
  }
  return undefined;
}

/**
 * The job's command in a directory every account can read: a launcher that
 * picks a free port on 127.0.0.1, starts the trivial server there, then posts
 * `{"port": N}` with the server's API token to `$TEST_REPORT_URL` (as
 * batchspawner-singleuser posts to the hub), then the trivial server.
 */
export function jobCommandDir(): { dir: string; cmd: string[] } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-batch-job-'));
  chmodSync(dir, 0o755);
  const server = path.join(dir, 'trivial-server.mjs');
  copyFileSync(TRIVIAL_SERVER, server);
  const launcher = path.join(dir, 'report-port.mjs');
  writeFileSync(
    launcher,
    `import net from 'node:net';
const probe = net.createServer();
await new Promise((r) => probe.listen(0, '127.0.0.1', r));
const port = probe.address().port;
await new Promise((r) => probe.close(r));
const url = new URL(process.env.JUPYTERHUB_SERVICE_URL);
url.hostname = '127.0.0.1';
url.port = String(port);
process.env.JUPYTERHUB_SERVICE_URL = url.href;
await import(process.argv[2]);
await fetch(process.env.TEST_REPORT_URL, { method: 'POST', headers: { authorization: 'token ' + process.env.JUPYTERHUB_API_TOKEN }, body: JSON.stringify({ port }) });
`,
  );
  for (const f of [server, launcher]) chmodSync(f, 0o644);
  return { dir, cmd: [process.execPath, launcher, server] };
}

/** A callback server standing in for the hub's `POST /hub/api/batchspawner`: ports by API token. */
export async function portReports(): Promise<{ url: string; portOf(token: string): number | undefined; close(): Promise<void> }> {
  const ports = new Map<string, number>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const token = /^token (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const port = Number((JSON.parse(body || '{}') as { port?: unknown }).port);
      if (token && Number.isInteger(port)) ports.set(token, port);
      res.writeHead(token ? 200 : 403).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/report`,
    portOf: (token) => ports.get(token),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The state and reason of a job as root sees it (`squeue -t all`), or '' when Slurm no longer knows it. */
export function jobState(jobId: string): string {
  try {
    return execFileSync('squeue', ['-h', '-t', 'all', '-j', jobId, '-o', '%T %r'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return '';
  }
}

/** Whether Slurm still holds the job as live (queued or running). */
export function jobLive(jobId: string): boolean {
  return /^(PENDING|CONFIGURING|RUNNING|COMPLETING|SUSPENDED|REQUEUED)/.test(jobState(jobId));
}

/** Cancels jobs (as root) and forgets errors: clean-up after a test. */
export function cancelJobs(jobIds: Iterable<string>): void {
  const ids = [...jobIds];
  if (ids.length === 0) return;
  try {
    execFileSync('scancel', ids, { stdio: 'ignore', timeout: 10_000 });
  } catch {
    // gone already
  }
}

/** Removes the logs the default script left in alice's home for these jobs. */
export function removeJobLogs(jobIds: Iterable<string>, home = '/home/alice'): void {
  for (const id of jobIds) rmSync(path.join(home, `jupyterhub_slurmspawner_${id}.log`), { force: true });
}

/** Removes a directory made by {@link jobCommandDir}. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
