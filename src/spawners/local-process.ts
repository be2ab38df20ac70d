import { spawn } from 'node:child_process';
import { isZombie, startTicks } from '../lib/proc-stat.js';
import { signalGroup } from '../lib/signal-group.js';
import { constants as fsConstants, openSync, closeSync, statSync } from 'node:fs';
import os from 'node:os';
import { lstat, open, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { SpawnError } from '../lib/errors.js';
import { freePort } from '../lib/free-port.js';
import { sleep } from '../lib/time.js';
import type { LogTailOptions, PollResult, SpawnRequest, Spawner, SpawnerState, StartResult } from './spawner.js';
import { createAccount, lookupAccount, systemAccountName, type SystemAccount } from './system-account.js';

/** Which account servers run as (`spawner.run_as`); see local-process-config.ts. */
export type RunAs = 'auto' | 'user' | 'hub';

export interface LocalProcessOptions {
  cmd: string[];
  args: string[];
  allowRoot: 'auto' | boolean;
  ip: string;
  notebookDir?: string | undefined;
  /** Default `auto`: `user` when the hub runs as root, `hub` otherwise. */
  runAs?: RunAs | undefined;
  /** Template of the system account name; default `{username}`. */
  systemUserName?: string | undefined;
  /** Create missing accounts with useradd; default false. */
  createSystemUsers?: boolean | undefined;
  /** Lowest uid a server may run as with run_as user; default 1000. */
  minUid?: number | undefined;
  /** Where the warnings at construction go (running users' code as root). */
  log?: Logger | undefined;
  /** The hub's uid (default `process.getuid()`); tests pass another. */
  hubUid?: number | undefined;
}

/** What `run_as` means for a hub running as `hubUid`. */
export function effectiveRunAs(runAs: RunAs, hubUid: number): 'user' | 'hub' {
  return runAs === 'auto' ? (hubUid === 0 ? 'user' : 'hub') : runAs;
}

/** The kernel's overflow uid (`nobody`). */
const NOBODY = 65534;

/** State of a local server: enough to find the process again after a hub restart. */
interface LocalState extends SpawnerState {
  v: 1;
  pid: number;
  /** Process start time (from /proc), so a reused pid is not mistaken for our server. */
  startTicks: string | null;
  ip: string;
  port: number;
  logFile: string;
  /** The system account the server runs as (absent: the hub's own). */
  account?: string;
  uid?: number;
}

/**
 * Runs each single-user server as a child process of the hub's machine, in its
 * own process group so it outlives a hub restart. With `run_as: user` (the
 * default when the hub is root) each server runs as its user's system account:
 * that account's uid and gid (libuv drops every supplementary group when it
 * sets them), HOME, USER, LOGNAME and SHELL, in its home. The log file is
 * opened by the hub in its data dir and handed over as stdout and stderr.
 */
export class LocalProcessSpawner implements Spawner {
  readonly kind = 'local-process';
  private readonly hubUid: number;
  private readonly mode: 'user' | 'hub';

  constructor(private readonly opts: LocalProcessOptions) {
    this.hubUid = opts.hubUid ?? (typeof process.getuid === 'function' ? process.getuid() : -1);
    this.mode = effectiveRunAs(opts.runAs ?? 'auto', this.hubUid);
    if (this.mode === 'hub' && this.hubUid === 0) {
      opts.log?.warn(
        { run_as: opts.runAs },
        "spawner.run_as is 'hub' and the hub runs as root: every user's server and code runs as root, with the hub's power over the whole machine (see docs/security.md)",
      );
    } else if (this.mode === 'user' && this.hubUid !== 0) {
      opts.log?.warn({ uid: this.hubUid }, "spawner.run_as is 'user' but the hub does not run as root: spawns will fail unless the hub may change uid");
    }
  }

  async start(req: SpawnRequest): Promise<StartResult> {
    const account = this.mode === 'user' ? await this.account(req) : undefined;
    const home = account ? account.home : os.userInfo().homedir;
    const port = await freePort(this.opts.ip);
    const prefix = req.env['JUPYTERHUB_SERVICE_PREFIX'] ?? '/';
    const env: Record<string, string> = { ...req.env, JUPYTERHUB_SERVICE_URL: `http://${this.opts.ip}:${port}${prefix}` };
    if (account) Object.assign(env, { HOME: account.home, USER: account.name, LOGNAME: account.name, SHELL: account.shell || '/bin/sh' });
    const args = [...this.opts.cmd.slice(1), ...this.opts.args];
    const asRoot = account ? account.uid === 0 : this.hubUid === 0;
    if (asRoot && this.opts.allowRoot !== false && !args.includes('--allow-root')) args.push('--allow-root');
    const cwd = this.workingDir(req.user.name, home);
    const who = account ? ` as ${account.name} (uid ${account.uid})` : '';
    const logFile = path.join(req.workDir, 'server.log');
    if (req.signal.aborted) throw new SpawnError('Spawn was cancelled before the server process started', 'cancelled');
    const fd = openSync(logFile, 'a', 0o600);
    let pid: number;
    try {
      const ids = account ? { uid: account.uid, gid: account.gid } : {};
      const child = spawn(this.opts.cmd[0]!, args, { env, cwd, detached: true, stdio: ['ignore', fd, fd], ...ids });
      pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid!));
        child.once('error', (err: NodeJS.ErrnoException) => {
          const hint = err.code === 'EPERM' && account ? ': run_as user needs the hub to run as root' : '';
          reject(new SpawnError(`Cannot run ${this.opts.cmd[0]}${who} in ${cwd}: ${err.message}${hint}`, 'exec-failed'));
        });
      });
      child.unref();
    } finally {
      closeSync(fd);
    }
    const state: LocalState = { v: 1, pid, startTicks: startTicks(pid), ip: this.opts.ip, port, logFile, ...(account ? { account: account.name, uid: account.uid } : {}) };
    await req.saveState(state);
    req.log.info({ pid, port, logFile, account: account?.name, uid: account?.uid }, 'started local server process');
    req.progress({ progress: 30, message: `Server process ${pid} started${who} on port ${port}` });
    return { url: `http://${this.opts.ip}:${port}`, state };
  }

  /** The system account of the server's user: looked up, created when allowed, never root. */
  private async account(req: SpawnRequest): Promise<SystemAccount> {
    const template = this.opts.systemUserName ?? '{username}';
    const name = systemAccountName(template, req.user.name);
    let account = await lookupAccount(name);
    if (!account) {
      if (!this.opts.createSystemUsers) {
        throw new SpawnError(
          `No system account ${JSON.stringify(name)} for user ${JSON.stringify(req.user.name)}: create it (useradd --create-home ${name}) or set spawner.create_system_users`,
          'no-account',
        );
      }
      req.progress({ progress: 15, message: `Creating system account ${name}` });
      account = await createAccount(name, req.log);
    }
    const refuse = (why: string) =>
      new SpawnError(`Refusing to run the server of ${JSON.stringify(req.user.name)} as ${JSON.stringify(name)}: ${why}`, 'forbidden-account');
    if (account.uid === 0 || account.gid === 0) {
      throw refuse(`that account is root (uid ${account.uid}, gid ${account.gid}); a user's code never runs as root with run_as: user`);
    }
    const minUid = this.opts.minUid ?? 1000;
    if (account.uid < minUid) throw refuse(`uid ${account.uid} is a system account's (below spawner.system_user_min_uid ${minUid})`);
    if (account.uid === NOBODY) throw refuse(`uid ${NOBODY} is the overflow account (nobody), which owns what no one else does`);
    return account;
  }

  /** `notebook_dir` with `{username}` and a leading `~` expanded, else the account's home; must exist. */
  private workingDir(username: string, home: string): string {
    let dir = home;
    if (this.opts.notebookDir) {
      dir = this.opts.notebookDir.replaceAll('{username}', username);
      if (dir === '~' || dir.startsWith('~/')) dir = home + dir.slice(1);
      dir = path.resolve(home, dir);
    }
    if (!isDirectory(dir)) throw new SpawnError(`The working directory ${dir} of ${JSON.stringify(username)}'s server does not exist or is not a directory (spawner.notebook_dir)`, 'no-working-dir');
    return dir;
  }

  async poll(state: SpawnerState): Promise<PollResult> {
    const s = state as LocalState;
    if (!s.pid) return { status: 'stopped' };
    return isOurProcess(s) ? { status: 'running' } : { status: 'stopped' };
  }

  /** The end of the server's log file (its stdout and stderr). */
  async logTail(state: SpawnerState, opts: LogTailOptions): Promise<string | undefined> {
    const file = (state as Partial<LocalState>).logFile;
    if (typeof file !== 'string' || !file) return undefined;
    return readTail(file, opts.lines, opts.maxBytes).catch((err: Error) => {
      opts.log.debug({ err: err.message, logFile: file }, 'no server log to show');
      return undefined;
    });
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

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The last `lines` lines within the last `maxBytes` bytes of `file` (a line
 * cut by the byte limit is dropped). The file may sit where the server's own
 * user can write, so only a plain file with one name, neither it nor its
 * directory a symbolic link, is read: never a link to one of the hub's
 * secrets or to another server's log, nor a FIFO.
 */
async function readTail(file: string, lines: number, maxBytes: number): Promise<string> {
  const wanted = path.resolve(file);
  const fh = await open(wanted, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.nlink !== 1) throw new Error('not a plain file');
    // the file and its own directory (the server's) must not be links; what holds them (e.g. the data dir) may be
    const dir = path.dirname(wanted);
    const expected = path.join(await realpath(path.dirname(dir)), path.basename(dir), path.basename(wanted));
    const real = await realpath(wanted);
    const again = await lstat(real);
    if (real !== expected || again.ino !== st.ino || again.dev !== st.dev) throw new Error('reached through a symbolic link');
    const start = Math.max(0, st.size - maxBytes);
    const buf = Buffer.alloc(st.size - start);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    let text = buf.subarray(0, bytesRead).toString('utf8');
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    return text.replace(/\n+$/, '').split('\n').slice(-lines).join('\n');
  } finally {
    await fh.close();
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
