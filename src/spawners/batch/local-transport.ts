/**
 * The {@link Transport} that runs scheduler commands on the hub's own machine
 * (`ssh:` absent from a `kind: slurm` back-end): `/bin/sh -c <command>` as a
 * child process in its own process group, with a small environment.
 */
import { spawn } from 'node:child_process';
import { TransportError, type CommandResult, type RunOptions, type Transport } from './transport.js';

/**
 * The variables of the hub's own environment a command keeps (where `sbatch`
 * is, which Slurm configuration, the locale); everything else, the hub's
 * secrets included, is left out.
 */
export const LOCAL_ENV_KEEP = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'SLURM_CONF'];

/** Most bytes kept of a command's stdout and of its stderr (a `squeue` over every job of a big site fits). */
export const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Options of {@link LocalTransport}; tests pass another shell or environment. */
export interface LocalTransportOptions {
  /** The shell (default `/bin/sh`). */
  shell?: string;
  /** The environment the kept variables come from (default `process.env`). */
  hostEnv?: NodeJS.ProcessEnv;
  /** Most bytes kept of stdout and of stderr (default {@link MAX_OUTPUT_BYTES}); beyond it the result is `truncated`. */
  maxOutputBytes?: number;
}

/** Runs command lines with `/bin/sh -c` on the hub's machine. */
export class LocalTransport implements Transport {
  readonly where = "the hub's machine";
  private readonly shell: string;
  private readonly baseEnv: Record<string, string>;
  private readonly maxOutputBytes: number;

  constructor(opts: LocalTransportOptions = {}) {
    this.shell = opts.shell ?? '/bin/sh';
    this.maxOutputBytes = opts.maxOutputBytes ?? MAX_OUTPUT_BYTES;
    const hostEnv = opts.hostEnv ?? process.env;
    this.baseEnv = {};
    for (const key of LOCAL_ENV_KEEP) {
      const v = hostEnv[key];
      if (v !== undefined) this.baseEnv[key] = v;
    }
  }

  /**
   * Runs `command`; resolves with its output and exit status (also when not
   * 0). Rejects with a TransportError `timeout` or `aborted` after killing the
   * command's whole process group, or `unreachable` when the shell cannot be
   * started.
   */
  run(command: string, opts: RunOptions): Promise<CommandResult> {
    if (opts.signal?.aborted) return Promise.reject(new TransportError('aborted', `Not running ${describe(command)}: the request was cancelled`));
    return new Promise<CommandResult>((resolve, reject) => {
      const child = spawn(this.shell, ['-c', command], {
        detached: true,
        env: { ...this.baseEnv, ...opts.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out = new Capture(this.maxOutputBytes);
      const err = new Capture(this.maxOutputBytes);
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const killGroup = () => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      const timer = setTimeout(() => {
        killGroup();
        finish(() => reject(new TransportError('timeout', `${describe(command)} on ${this.where} did not finish within ${opts.timeoutMs} ms and was killed`)));
      }, opts.timeoutMs);
      const onAbort = () => {
        killGroup();
        finish(() => reject(new TransportError('aborted', `${describe(command)} on ${this.where} was cancelled`)));
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (b: Buffer) => out.add(b));
      child.stderr.on('data', (b: Buffer) => err.add(b));
      child.once('error', (e) => finish(() => reject(new TransportError('unreachable', `Cannot run ${this.shell} on ${this.where}: ${e.message}`, { cause: e }))));
      child.once('close', (code) =>
        finish(() => resolve({ stdout: out.text(), stderr: err.text(), code, ...(out.truncated || err.truncated ? { truncated: true } : {}) })),
      );
      // a command that does not read its input closes the pipe early: that is its business
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.stdin ?? '');
    });
  }

  /** Nothing to release. */
  async close(): Promise<void> {}
}

/** Collects a stream's bytes up to `max`, noting when it had more. */
class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  /** Whether bytes beyond `max` were dropped. */
  truncated = false;
  constructor(private readonly max: number) {}
  add(b: Buffer): void {
    if (this.size + b.length > this.max) this.truncated = true;
    if (this.size >= this.max) return;
    const part = b.subarray(0, this.max - this.size);
    this.chunks.push(part);
    this.size += part.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** A command line for messages, shortened (command lines hold no secrets: those travel on stdin). */
function describe(command: string): string {
  const c = command.trim();
  return `the command ${JSON.stringify(c.length > 100 ? `${c.slice(0, 100)}…` : c)}`;
}
