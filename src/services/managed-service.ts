import { spawn, type ChildProcess } from 'node:child_process';
import { signalGroup } from '../lib/signal-group.js';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { removePidFile, writePidFile } from './service-pid-file.js';

/** How one managed service runs: the command, its whole environment, where its output goes. */
export interface ManagedSpec {
  name: string;
  command: string[];
  env: Record<string, string>;
  cwd?: string | undefined;
  /** Its stdout and stderr are appended here (0600). */
  logFile: string;
  /** Where its pid is kept while it runs (see service-pid-file.ts). */
  pidFile?: string | undefined;
}

/** Restart and stop timings (tests shorten them). */
export interface ManagedTimings {
  /** First wait before a restart; doubled after each quick exit. */
  restartMinMs: number;
  /** Longest wait before a restart. */
  restartMaxMs: number;
  /** A process that ran this long resets the wait to `restartMinMs`. */
  healthyAfterMs: number;
  /** Wait after SIGTERM before SIGKILL. */
  stopTimeoutMs: number;
}

export const DEFAULT_TIMINGS: ManagedTimings = { restartMinMs: 1000, restartMaxMs: 60_000, healthyAfterMs: 60_000, stopTimeoutMs: 10_000 };

/**
 * One service process the hub runs (JupyterHub's managed service): started
 * in its own process group, restarted with a bounded, doubling wait when it
 * exits, stopped with SIGTERM to the group and SIGKILL after a bounded wait.
 * Its environment holds its token: it is never logged.
 */
export class ManagedService {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private delayMs: number;
  /** How many times it was started (the first start counts). */
  starts = 0;

  constructor(
    readonly spec: ManagedSpec,
    private readonly log: Logger,
    private readonly timings: ManagedTimings = DEFAULT_TIMINGS,
  ) {
    this.delayMs = timings.restartMinMs;
  }

  /** The pid of the running process, or 0 (JupyterHub's model says 0 when none). */
  get pid(): number {
    return this.child?.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : 0;
  }

  start(): void {
    if (this.stopping || this.child) return;
    const { spec } = this;
    mkdirSync(path.dirname(spec.logFile), { recursive: true, mode: 0o700 });
    const fd = openSync(spec.logFile, 'a', 0o600);
    const startedAt = Date.now();
    let child: ChildProcess;
    try {
      child = spawn(spec.command[0]!, spec.command.slice(1), { env: spec.env, cwd: spec.cwd, stdio: ['ignore', fd, fd], detached: true });
    } finally {
      closeSync(fd);
    }
    this.starts += 1;
    this.child = child;
    this.exited = new Promise<void>((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null, err?: Error) => {
        if (done) return;
        done = true;
        this.child = undefined;
        if (spec.pidFile) removePidFile(spec.pidFile);
        resolve();
        if (this.stopping) return;
        const ranMs = Date.now() - startedAt;
        if (ranMs >= this.timings.healthyAfterMs) this.delayMs = this.timings.restartMinMs;
        const wait = this.delayMs;
        this.delayMs = Math.min(this.delayMs * 2, this.timings.restartMaxMs);
        this.log.error(
          { service: spec.name, code, signal, ...(err ? { err: err.message } : {}), restartInMs: wait, log: spec.logFile },
          err ? 'managed service could not be started; retrying' : 'managed service exited; restarting it',
        );
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.start();
        }, wait);
        this.timer.unref();
      };
      child.once('error', (err) => finish(null, null, err));
      child.once('exit', (code, signal) => finish(code, signal));
    });
    if (child.pid !== undefined && spec.pidFile) writePidFile(spec.pidFile, child.pid);
    if (child.pid !== undefined) this.log.info({ service: spec.name, servicePid: child.pid, program: spec.command[0], log: spec.logFile }, 'managed service started');
  }

  /** Stops the process (and does not restart it): SIGTERM to its group, SIGKILL after `stopTimeoutMs`. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const child = this.child;
    if (!child || child.pid === undefined) return;
    const exited = this.exited!;
    signalGroup(child.pid, 'SIGTERM');
    let timeout: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timeout = setTimeout(() => r(false), this.timings.stopTimeoutMs)))]);
    clearTimeout(timeout);
    if (!inTime) {
      this.log.warn({ service: this.spec.name, servicePid: child.pid, waitedMs: this.timings.stopTimeoutMs }, 'managed service did not stop on SIGTERM; killing it');
      signalGroup(child.pid, 'SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    }
    this.log.info({ service: this.spec.name }, 'managed service stopped');
  }
}

