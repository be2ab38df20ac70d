/**
 * A second sshd of the Slurm test environment, owned by one test: the same
 * config, host key and users as the environment's sshd (slurm-cluster.ts),
 * but on its own free port, with its own pid and log file, so a test can
 * count its connections, restart it or cut its connections without
 * disturbing anything else on the machine.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/lib/free-port.js';
import { runAsRoot, shellQuote, type SlurmCluster } from './slurm-cluster.js';

export interface PrivateSshd {
  port: number;
  /** A known_hosts file listing this sshd (`[127.0.0.1]:<port> …`). */
  knownHostsFile: string;
  logFile: string;
  /** How many logins (accepted keys) the log shows so far. */
  acceptedLogins(): number;
  /** Stops the listener and every connection it serves (their sshd processes), by pid. */
  stop(): Promise<void>;
  /** Starts it again on the same port (nothing when it runs). */
  start(): Promise<void>;
  /** stop(), start(), and removes the temp dir at the end. */
  dispose(): Promise<void>;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Starts the private sshd; `maxSessions` overrides the server's MaxSessions. */
export async function startPrivateSshd(c: SlurmCluster, opts: { maxSessions?: number } = {}): Promise<PrivateSshd> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-sshd-'));
  const port = await freePort('127.0.0.1');
  const pidFile = path.join(dir, 'sshd.pid');
  const logFile = path.join(dir, 'sshd.log');
  const knownHostsFile = path.join(dir, 'known_hosts');
  const hostPub = readFileSync(`${c.hostKeyFile}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostPub}\n`);
  let pid = 0;

  const start = async () => {
    if (pid && alive(pid)) return;
    const overrides = [`Port=${port}`, `PidFile=${pidFile}`, ...(opts.maxSessions ? [`MaxSessions=${opts.maxSessions}`] : [])];
    const args = overrides.map((o) => `-o ${shellQuote(o)}`).join(' ');
    const r = await runAsRoot(`rm -f ${shellQuote(pidFile)}; /usr/sbin/sshd -f ${shellQuote(c.sshdConfigFile)} ${args} -E ${shellQuote(logFile)}`);
    if (r.code !== 0) throw new Error(`private sshd did not start: ${r.stderr}`);
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        pid = Number(readFileSync(pidFile, 'utf8').trim());
        if (pid > 0 && alive(pid)) return;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) throw new Error(`private sshd wrote no pid file; log: ${readFileSync(logFile, 'utf8')}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  };

  const stop = async () => {
    if (!pid) return;
    const victims = [pid];
    for (let i = 0; i < victims.length; i++) victims.push(...childrenOf(victims[i] as number));
    for (const v of victims) {
      try {
        process.kill(v, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    const deadline = Date.now() + 5000;
    while (victims.some(alive) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    for (const v of victims.filter(alive)) process.kill(v, 'SIGKILL');
    pid = 0;
  };

  await start();
  return {
    port,
    knownHostsFile,
    logFile,
    acceptedLogins: () => (readFileSync(logFile, 'utf8').match(/Accepted publickey for /g) ?? []).length,
    stop,
    start,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
