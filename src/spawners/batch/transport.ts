/**
 * How the batch spawner runs scheduler commands (`sbatch`, `squeue`,
 * `scancel` or a site's wrappers): on the hub's machine
 * (local-transport.ts) or on a login host over SSH (ssh-transport.ts).
 * Types only.
 */

/** What a command that ran printed, and how it ended. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  /** The exit status; null when it ended by a signal. */
  code: number | null;
  /**
   * True when stdout or stderr was longer than the transport keeps and was
   * cut: the output is incomplete, so no reader may take a job missing from
   * it for a job that is gone.
   */
  truncated?: boolean;
}

/** How to run one command. */
export interface RunOptions {
  /** Written to the command's standard input, which is then closed (a batch script). */
  stdin?: string;
  /**
   * Variables the command sees. Over SSH they are written as quoted
   * assignments in front of the command line (SSH does not pass the
   * environment), so they must never hold secrets: secrets travel in `stdin`.
   */
  env?: Record<string, string>;
  /** The command is killed (and the run rejects with a `timeout` TransportError) after this long. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Why a command could not be run at all (as opposed to a command that ran and failed). */
export type TransportFailure = 'unreachable' | 'host-key' | 'auth' | 'timeout' | 'aborted';

/** A command could not be run; `message` says what and where in plain words. */
export class TransportError extends Error {
  constructor(
    readonly failure: TransportFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransportError';
  }
}

/** Runs shell command lines somewhere. */
export interface Transport {
  /** Where commands run, for messages and logs, e.g. `jupyterspawner@login1:22` or `the hub's machine`. */
  readonly where: string;
  /**
   * Runs one command line with `/bin/sh -c` semantics (over SSH: the login
   * shell of the remote account). Resolves with what it printed and its exit
   * status, also when that status is not 0; rejects with a TransportError
   * when it could not be run (host unreachable, host key refused, timeout).
   */
  run(command: string, opts: RunOptions): Promise<CommandResult>;
  /** Releases connections; further runs may reconnect. */
  close(): Promise<void>;
}
