/**
 * Runs scheduler commands on a login host over SSH: one connection per
 * transport (opened on first use, shared by concurrent runs, one `exec`
 * channel per command, at most `max_sessions` at once, the rest queued),
 * key login, host key checked against known_hosts (ssh-connect.ts).
 * After the connection drops the next run reconnects; failed attempts back
 * off exponentially (bounded, jittered), and a run during the backoff fails
 * at once with the last attempt's reason.
 */
import type { Client, ClientChannel } from 'ssh2';
import { connectSsh, sshWhere, type SshConnectTarget } from './ssh-connect.js';
import type { SshOptions } from './ssh-config.js';
import { TransportError, type CommandResult, type RunOptions, type Transport } from './transport.js';

/** What the transport may log (a pino logger fits). */
export interface SshTransportLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Tuning beyond the config (tests shorten the backoff). */
export interface SshTransportExtras {
  log?: SshTransportLog;
  /** Reconnect backoff: first delay and cap, in ms (default 500 ms, 30 s). */
  backoff?: { baseMs: number; maxMs: number };
  /** SSH keepalive interval in ms (default 15 s; 0: none). */
  keepaliveIntervalMs?: number;
}

/** An environment variable name that may be put on a command line. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Each of stdout and stderr is kept up to this many bytes. */
const MAX_OUTPUT = 4 * 1024 * 1024;

/** Single-quotes a word for a POSIX shell. */
export function shellSingleQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command line with `env` as single-quoted, exported assignments in front
 * of it (`export A='1' B='x y'; cmd`), so that every command of the line
 * sees them (e.g. `sudo`, whose env_keep passes them on) and the line itself
 * may expand them (`squeue -j "$SLURMSPAWNER_JOB_ID"`). The remote login
 * shell must be a POSIX shell. Throws on a bad name.
 */
export function withEnvAssignments(command: string, env: Record<string, string> | undefined): string {
  const names = Object.keys(env ?? {});
  if (names.length === 0) return command;
  const parts = names.map((name) => {
    if (!ENV_NAME.test(name)) throw new TypeError(`not a valid environment variable name: ${JSON.stringify(name)}`);
    return `${name}=${shellSingleQuote((env as Record<string, string>)[name] as string)}`;
  });
  return `export ${parts.join(' ')}; ${command}`;
}

/** The delay before reconnect attempt `failures` (1 = after the first failure): exponential, capped, jittered by up to -50 %. */
export function backoffDelay(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  if (failures <= 0) return 0;
  const full = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(full * (0.5 + random() * 0.5));
}

/** Runs commands on one login host over one pooled SSH connection. */
export class SshTransport implements Transport {
  readonly where: string;
  private readonly target: SshConnectTarget;
  private readonly commandTimeoutMs: number;
  private readonly maxSessions: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private readonly log: SshTransportLog | undefined;
  private client: Promise<Client> | undefined;
  private failures = 0;
  /** Until when connecting is not tried again (reconnect backoff after `failures` failed attempts). */
  private retryAt = 0;
  /** Why the last attempt to connect failed (repeated to the runs that come during the backoff). */
  private lastFailure: TransportError | undefined;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** Connections that closed (a channel that failed to open on one ran nothing). */
  private readonly closed = new WeakSet<Client>();
  /** Counts connection attempts; close() moves it on so a late attempt is dropped. */
  private generation = 0;

  /** `options` is the `ssh:` block of the back-end config (times in seconds). Nothing connects until the first run. */
  constructor(options: SshOptions, extras: SshTransportExtras = {}) {
    this.target = {
      host: options.host,
      port: options.port,
      user: options.user,
      keyFile: options.key_file,
      knownHostsFile: options.known_hosts,
      connectTimeoutMs: options.connect_timeout * 1000,
      keepaliveIntervalMs: extras.keepaliveIntervalMs ?? 15_000,
    };
    this.where = sshWhere(this.target);
    this.commandTimeoutMs = options.command_timeout * 1000;
    this.maxSessions = options.max_sessions;
    this.backoff = extras.backoff ?? { baseMs: 500, maxMs: 30_000 };
    this.log = extras.log;
  }

  /**
   * Runs `command` in an `exec` channel. The time limit is the smaller of
   * `opts.timeoutMs` and `command_timeout`, and covers waiting for the
   * connection and for a free session too.
   */
  async run(command: string, opts: RunOptions): Promise<CommandResult> {
    const line = withEnvAssignments(command, opts.env);
    const timeoutMs = Math.min(opts.timeoutMs, this.commandTimeoutMs);
    const ctl = new AbortController();
    let failure: TransportError | undefined;
    const stop = (err: TransportError) => {
      failure ??= err;
      ctl.abort();
    };
    const timer = setTimeout(
      () => stop(new TransportError('timeout', `The command on ${this.where} did not finish within ${timeoutMs / 1000} s and was stopped`)),
      timeoutMs,
    );
    const onAbort = () => stop(new TransportError('aborted', `The command on ${this.where} was cancelled`));
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.acquireSession(ctl.signal);
      try {
        // A channel that could not even be opened on a connection that just
        // dropped ran nothing: retry once on a fresh connection.
        // A channel the server refused to open ran nothing, so it is safe to
        // try again: on a fresh connection if this one just dropped (once),
        // or a moment later if the server is at its session limit (it may
        // free a session slightly after the client saw the channel close).
        let reconnected = false;
        for (let attempt = 1; ; attempt++) {
          const client = await raceSignal(this.connection(), ctl.signal);
          const channel = await this.openChannel(client, line, ctl.signal).catch((err: unknown) => {
            if (ctl.signal.aborted) throw err;
            if (this.closed.has(client) && !reconnected) {
              reconnected = true;
              return undefined;
            }
            if (!this.closed.has(client) && /open failed|prohibited/i.test((err as Error).message) && attempt <= 20) return undefined;
            throw err;
          });
          if (channel) return await this.collect(channel, opts.stdin, ctl.signal);
          if (!this.closed.has(client)) await raceSignal(new Promise((r) => setTimeout(r, 20 * attempt)), ctl.signal);
        }
      } finally {
        this.releaseSession();
      }
    } catch (err) {
      if (failure) throw failure;
      throw err;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Closes the connection; a later run opens a new one. */
  async close(): Promise<void> {
    const pending = this.client;
    this.client = undefined;
    this.generation++;
    if (!pending) return;
    const client = await pending.catch(() => undefined);
    client?.end();
  }

  /**
   * The shared connection, opened when there is none. Shared by every run
   * waiting for it, so it is not tied to one run's signal: the connect
   * timeout bounds it, and each run stops waiting on its own signal.
   */
  private connection(): Promise<Client> {
    if (this.client) return this.client;
    // During the backoff no attempt is made: the run fails at once with the last
    // attempt's reason, instead of a user's spawn waiting out the delay (up to
    // the backoff's cap) to learn that the host is still unreachable.
    const wait = this.retryAt - Date.now();
    if (wait > 0 && this.lastFailure) {
      const { failure, message } = this.lastFailure;
      return Promise.reject(new TransportError(failure, `${message} (the hub tries again in ${Math.ceil(wait / 1000)} s)`, { cause: this.lastFailure }));
    }
    const generation = ++this.generation;
    const p = this.connect(generation);
    this.client = p;
    return p;
  }

  private async connect(generation: number): Promise<Client> {
    const current = () => this.generation === generation;
    try {
      const client = await connectSsh(this.target);
      if (this.failures > 0) this.log?.info({ where: this.where }, 'SSH connection to the login host re-established');
      this.failures = 0;
      this.lastFailure = undefined;
      client.on('error', (err: Error) => this.log?.warn({ where: this.where, err: err.message }, 'SSH connection error'));
      client.on('close', () => {
        this.closed.add(client);
        if (current()) this.client = undefined;
        this.log?.info({ where: this.where }, 'SSH connection to the login host closed');
      });
      if (!current()) client.end(); // close() was called meanwhile
      return client;
    } catch (err) {
      if (current()) this.client = undefined;
      this.failures++;
      this.retryAt = Date.now() + backoffDelay(this.failures, this.backoff.baseMs, this.backoff.maxMs);
      this.lastFailure = err instanceof TransportError ? err : new TransportError('unreachable', `Could not reach ${this.where} over SSH: ${(err as Error).message}`, { cause: err });
      throw err;
    }
  }

  private openChannel(client: Client, line: string, signal: AbortSignal): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Error('aborted'));
      try {
        client.exec(line, (err, channel) => {
          if (err) {
            reject(new TransportError('unreachable', `Could not run a command on ${this.where}: ${err.message}`, { cause: err }));
          } else if (signal.aborted) {
            // timed out or cancelled while the channel was being opened
            killChannel(channel);
            reject(new Error('aborted'));
          } else {
            resolve(channel);
          }
        });
      } catch (err) {
        reject(new TransportError('unreachable', `Could not run a command on ${this.where}: ${(err as Error).message}`, { cause: err }));
      }
      return undefined;
    });
  }

  private collect(channel: ClientChannel, stdin: string | undefined, signal: AbortSignal): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      let code: number | null | undefined;
      channel.on('data', (d: Buffer) => {
        if (outBytes < MAX_OUTPUT) out.push(d);
        outBytes += d.length;
      });
      channel.stderr.on('data', (d: Buffer) => {
        if (errBytes < MAX_OUTPUT) err.push(d);
        errBytes += d.length;
      });
      channel.on('exit', (c: number | null) => {
        code = typeof c === 'number' ? c : null;
      });
      const onAbort = () => {
        killChannel(channel);
        reject(new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      channel.on('close', () => {
        signal.removeEventListener('abort', onAbort);
        if (code === undefined) {
          reject(new TransportError('unreachable', `The connection to ${this.where} was lost while a command ran`));
          return;
        }
        resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code });
      });
      channel.on('error', () => undefined);
      channel.end(stdin ?? '');
    });
  }

  private acquireSession(signal: AbortSignal): Promise<void> {
    if (this.active < this.maxSessions) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        this.active++;
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  private releaseSession(): void {
    this.active--;
    this.waiting.shift()?.();
  }
}

/** The ssh2 internals killChannel needs (not in its public types). */
interface ChannelInternals {
  outgoing?: { id?: number; state?: string };
  _client?: { _protocol?: { signal(id: number, name: string): void } };
}

/**
 * Asks the server to SIGKILL the command (OpenSSH honours `signal` requests;
 * a command run through `sudo` is out of reach of the signal), then closes
 * the channel. ssh2's `channel.signal()` silently does nothing once our side
 * sent EOF (which we do right after writing stdin), although the protocol
 * allows the request then: so the request is sent through its protocol object.
 */
function killChannel(channel: ClientChannel): void {
  channel.on('error', () => undefined);
  const ch = channel as unknown as ChannelInternals;
  try {
    if ((ch.outgoing?.state === 'open' || ch.outgoing?.state === 'eof') && typeof ch.outgoing.id === 'number') ch._client?._protocol?.signal(ch.outgoing.id, 'KILL');
  } catch {
    /* the connection is gone */
  }
  channel.close();
}

/** `p`, or a rejection as soon as `signal` aborts (p itself goes on). */
function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
