import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { SpawnError } from '../lib/errors.js';
import { sleep } from '../lib/time.js';
import type { PollResult, SpawnRequest, Spawner, SpawnerState, StartResult } from './spawner.js';

export interface LocalProcessOptions {
  cmd: string[];
  args: string[];
  allowRoot: 'auto' | boolean;
  ip: string;
  notebookDir?: string | undefined;
}

/** State of a local server: enough to find the process again after a hub restart. */
interface LocalState extends SpawnerState {
  v: 1;
  pid: number;
  /** Process start time (from /proc), so a reused pid is not mistaken for our server. */
  startTicks: string | null;
  ip: string;
  port: number;
  logFile: string;
}

/**
 * Runs each single-user server as a child process of the hub's machine, in its
 * own process group so it outlives a hub restart. One log file per server.
 */
export class LocalProcessSpawner implements Spawner {
  readonly kind = 'local-process';

  constructor(private readonly opts: LocalProcessOptions) {}

  async start(req: SpawnRequest): Promise<StartResult> {
    const port = await freePort(this.opts.ip);
    const prefix = req.env['JUPYTERHUB_SERVICE_PREFIX'] ?? '/';
    const env = { ...req.env, JUPYTERHUB_SERVICE_URL: `http://${this.opts.ip}:${port}${prefix}` };
    const args = [...this.opts.cmd.slice(1), ...this.opts.args];
    const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    if ((this.opts.allowRoot === true || (this.opts.allowRoot === 'auto' && asRoot)) && !args.includes('--allow-root')) args.push('--allow-root');
    const cwd = this.opts.notebookDir ? this.opts.notebookDir.replaceAll('{username}', req.user.name) : req.workDir;
    const logFile = path.join(req.workDir, 'server.log');
    if (req.signal.aborted) throw new SpawnError('Spawn was cancelled before the server process started', 'cancelled');
    const fd = openSync(logFile, 'a');
    let pid: number;
    try {
      const child = spawn(this.opts.cmd[0]!, args, { env, cwd, detached: true, stdio: ['ignore', fd, fd] });
      pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid!));
        child.once('error', (err) => reject(new SpawnError(`Cannot run ${this.opts.cmd[0]}: ${err.message}`, 'exec-failed')));
      });
      child.unref();
    } finally {
      closeSync(fd);
    }
    const state: LocalState = { v: 1, pid, startTicks: startTicks(pid), ip: this.opts.ip, port, logFile };
    await req.saveState(state);
    req.log.info({ pid, port, logFile }, 'started local server process');
    req.progress({ progress: 30, message: `Server process ${pid} started on port ${port}` });
    return { url: `http://${this.opts.ip}:${port}`, state };
  }

  async poll(state: SpawnerState): Promise<PollResult> {
    const s = state as LocalState;
    if (!s.pid) return { status: 'stopped' };
    return isOurProcess(s) ? { status: 'running' } : { status: 'stopped' };
  }

  async stop(state: SpawnerState, opts: { log: Logger }): Promise<void> {
    const s = state as LocalState;
    if (!s.pid || !isOurProcess(s)) return;
    signalGroup(s.pid, 'SIGTERM');
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      if (!isOurProcess(s)) return;
    }
    opts.log.warn({ pid: s.pid }, 'server did not stop within 5 s of SIGTERM; sending SIGKILL');
    signalGroup(s.pid, 'SIGKILL');
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function isOurProcess(s: LocalState): boolean {
  try {
    process.kill(s.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const ticks = startTicks(s.pid);
  if (ticks === null) return s.startTicks === null;
  if (isZombie(s.pid)) return false;
  return s.startTicks === null || ticks === s.startTicks;
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
function startTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** A port free on `ip` right now (the OS picks it). */
export function freePort(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, ip, () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}
