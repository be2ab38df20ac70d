/**
 * The scheduler's own floor, the peer of the hub's figures in bench/slurm.ts:
 * what a job takes with no hub at all.
 *
 * - submit-to-callback: `ssh … sbatch --parsable` (a new OpenSSH connection)
 *   with a script that runs the same launcher and trivial server as the hub's
 *   jobs; the launcher posts `{"port": N}` to a listener of the benchmark
 *   (standing in for the hub's `POST /hub/api/batchspawner`). Timed from the
 *   start of ssh to the callback, and on to the server answering HTTP.
 * - cancel-to-gone: `ssh … scancel ID`, then `squeue -h -j ID` until it
 *   prints nothing.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { probe } from './http.js';
import { MARK, RUN_ID, sleep } from './procs.js';
import { JOB_NAME, jobGone, sshArgv, type SlurmEnv } from './slurm-env.js';

const run = promisify(execFile);

export interface FloorTiming {
  jobId: string;
  /** ms from the start of ssh until sbatch answered. */
  submitMs: number;
  /** ms from the start of ssh until the port report came. */
  callbackMs: number;
  /** ms from the start of ssh until the server answered HTTP 200. */
  readyMs: number;
}

/** A listener for port reports: resolves the port posted with a given token. */
export class PortListener {
  private readonly waiting = new Map<string, (port: number) => void>();
  private readonly server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      if (body.length < 1000) body += c;
    });
    req.on('end', () => {
      const token = /^token ([0-9a-f]+)$/.exec(req.headers.authorization ?? '')?.[1];
      let port = NaN;
      try {
        port = Number((JSON.parse(body) as { port?: unknown }).port);
      } catch {
        // not JSON: refused below
      }
      const done = token ? this.waiting.get(token) : undefined;
      if (!done || !Number.isInteger(port) || port < 1 || port > 65535) {
        res.writeHead(403).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      this.waiting.delete(token!);
      done(port);
    });
  });
  url = '';

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hub/api`;
  }

  /** A new token and the promise of its port (rejects after `timeoutMs`). */
  expect(timeoutMs: number): { token: string; port: Promise<number> } {
    const token = randomBytes(16).toString('hex');
    const port = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(token);
        reject(new Error(`no port report within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting.set(token, (p) => {
        clearTimeout(timer);
        resolve(p);
      });
    });
    port.catch(() => undefined);
    return { token, port };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The floor job's script: the hub's job minus the hub (same launcher, server, memory and CPUs). */
function floorScript(o: { dir: string; launcher: string; server: string; apiUrl: string; token: string }): string {
  return [
    '#!/bin/sh',
    `#SBATCH --job-name=${JOB_NAME.floor}`,
    `#SBATCH --output=${o.dir}/floor-%j.log`,
    `#SBATCH --chdir=${o.dir}`,
    '#SBATCH --mem=16M',
    '#SBATCH --cpus-per-task=1',
    '#SBATCH --time=00:30:00',
    `export JUPYTERHUB_API_URL='${o.apiUrl}'`,
    `export JUPYTERHUB_API_TOKEN='${o.token}'`,
    "export JUPYTERHUB_SERVICE_URL='http://127.0.0.1:0/user/floor/'",
    `export ${MARK}='${RUN_ID}'`,
    `exec /bin/sh '${o.launcher}' '${process.execPath}' '${o.server}'`,
    '',
  ].join('\n');
}

/** Runs `remote` over a new ssh connection, `stdin` on its standard input; resolves stdout. */
function sshOnce(env: SlurmEnv, remote: string, stdin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('ssh', sshArgv(env, remote), { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ssh ${remote}: ${err.message.split('\n')[0]} ${String(stderr).trim()}`));
      else resolve(String(stdout));
    });
    child.stdin?.end(stdin);
  });
}

/**
 * {@link sshOnce}, tried again (for at most 60 s) while slurmctld cannot be
 * reached: tests sharing the cluster stop and restart it.
 */
async function ssh(env: SlurmEnv, remote: string, stdin = ''): Promise<string> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    try {
      return await sshOnce(env, remote, stdin);
    } catch (err) {
      if (!/Unable to contact slurm controller|Socket timed out/i.test((err as Error).message) || performance.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

/** One floor job, submitted over ssh and waited for until its server answers. */
export async function floorSpawn(env: SlurmEnv, listener: PortListener, job: { dir: string; launcher: string; server: string }, timeoutMs = 120_000): Promise<FloorTiming> {
  const { token, port } = listener.expect(timeoutMs);
  const t0 = performance.now();
  const out = await ssh(env, 'sbatch --parsable', floorScript({ ...job, apiUrl: listener.url, token }));
  const submitMs = performance.now() - t0;
  const jobId = out.trim().split('\n').at(-1)?.split(';')[0] ?? '';
  if (!/^\d+$/.test(jobId)) throw new Error(`sbatch printed no job id: ${out.slice(0, 200)}`);
  const p = await port;
  const callbackMs = performance.now() - t0;
  for (;;) {
    if ((await probe(`http://127.0.0.1:${p}/user/floor/`, 1000)) === 200) break;
    if (performance.now() - t0 > timeoutMs) throw new Error(`floor job ${jobId}: the server did not answer within ${timeoutMs / 1000} s`);
    await sleep(10);
  }
  return { jobId, submitMs, callbackMs, readyMs: performance.now() - t0 };
}

/** ms from the start of `ssh … scancel ID` until `squeue -h -j ID` prints nothing. */
export async function floorCancel(env: SlurmEnv, jobId: string, timeoutMs = 60_000): Promise<number> {
  const t0 = performance.now();
  await ssh(env, `scancel ${jobId}`);
  return waitJobGone(jobId, t0, timeoutMs);
}

/** Waits until `squeue -h -j ID` prints nothing; resolves ms since `t0`. */
export async function waitJobGone(jobId: string, t0: number, timeoutMs = 60_000): Promise<number> {
  // squeue fails while slurmctld restarts (tests sharing the cluster do that): then ask again
  while (!(await jobGone(jobId).catch(() => false))) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`job ${jobId} still listed after ${timeoutMs / 1000} s`);
    await sleep(20);
  }
  return performance.now() - t0;
}

/** `python3 -c 'import batchspawner'` here: the reason JupyterHub's figure is absent. */
export async function batchspawnerImport(): Promise<string> {
  try {
    await run('python3', ['-c', 'import batchspawner'], { timeout: 30_000 });
    return 'importable';
  } catch (err) {
    const lines = String((err as { stderr?: unknown }).stderr ?? (err as Error).message).trim().split('\n');
    return lines.at(-1) ?? 'fails';
  }
}
