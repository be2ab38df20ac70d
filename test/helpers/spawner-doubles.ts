/**
 * Spawner doubles for tests of the hub's own behaviour, named by behaviour as
 * JupyterHub's tests/mocking.py names its spawners:
 *
 * - {@link neverSpawner}: `start` never resolves; it rejects only when aborted.
 * - {@link badSpawner}: `start` rejects with a SpawnError.
 * - {@link slowSpawner}: waits, then runs a real trivial server.
 * - {@link dyingSpawner}: runs a real trivial server that dies after N ms or on demand.
 * - {@link muteSpawner}: runs a real process that accepts connections and never answers HTTP.
 * - {@link reportingSpawner}: a batch spawner's way: waits for the server to report its port
 *   (`POST /hub/api/batchspawner`), then returns that address.
 * - {@link queuedSpawner}: a batch-scheduler-like back-end: `start` submits a job to a {@link JobQueue}
 *   the test holds, saves `{v: 1, job}` at once and waits while the job is pending; resumable.
 * - {@link unreachableSchedulerSpawner}: a trivial server whose `poll` answers `unknown` (or any answer) on demand.
 * - {@link optionsCheckingSpawner}: `checkOptions` accepts only `size` (small|large, normalised) and `note`.
 * - {@link versionedStateSpawner}: saves state `v: 1`; `upgradeState` lifts it to `v: 2` and refuses others.
 * - {@link pollManySpawner}: has `pollMany` and counts its calls.
 * - {@link countingSpawner} (counting-spawner.ts): no process per server (one shared in-process listener), a delay,
 *   and the most starts in progress at once: for crowds of spawns (the spawn queue).
 * - {@link loginBoundSpawner}: acts as the user (as FirecREST does): while {@link LoginBoundSpawner.loginExpired}
 *   is set, `stopBlocker` gives a reason, `stop` throws a 401-status error and `start` a SpawnError of status 401.
 *
 * Every double records what the hub asked of it (`calls`), so tests can check
 * what reached the spawner (user_options, env, the abort signal). The servers
 * are real processes (test/fixtures/trivial-server.mjs) bound to 127.0.0.1 on
 * a port picked for them; `stop` and {@link TrivialSpawner.killAll} end them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { HubError, SpawnError } from '../../src/lib/errors.js';
import { SpawnerBackends, type Backend } from '../../src/spawners/backends.js';
import { freePort } from '../../src/lib/free-port.js';
import type { PollResult, SpawnRequest, Spawner, SpawnerState, StartResult } from '../../src/spawners/spawner.js';
import { TRIVIAL_SERVER } from './hub.js';

export { countingSpawner, CountingSpawner } from './counting-spawner.js';

/** State of a double's server: the process and where it listens. */
export interface DoubleState extends SpawnerState {
  v: 1;
  pid: number;
  port: number;
}

/** What a double saw of one `start` call. */
export interface StartCall {
  request: SpawnRequest;
  /** Set when the request's signal fired while `start` was running. */
  aborted: boolean;
  /** How `start` ended: 'pending' while running. */
  outcome: 'pending' | 'resolved' | 'rejected';
}

/** A script a double may run instead of the trivial server: listens, holds every connection, never answers. */
const MUTE_SERVER = `
const net = require('node:net');
const url = new URL(process.env.JUPYTERHUB_SERVICE_URL);
const held = [];
net.createServer((s) => { held.push(s); s.on('error', () => {}); }).listen(Number(url.port), url.hostname);
process.on('SIGTERM', () => process.exit(0));
`;

/** Options shared by the doubles that run a process. */
export interface TrivialOptions {
  /** Run a server that accepts connections but never answers HTTP. */
  mute?: boolean;
  /** The trivial server binds its port only this long after its process started (as a real server takes seconds). */
  answerAfterMs?: number;
  /** Extra form HTML: makes the double offer an options form (see `optionsForm` in spawner.ts). */
  optionsForm?: string;
  /** Turns posted form fields into user_options (default: the fields as posted, minus `_xsrf`). */
  optionsFromForm?: (form: Record<string, string | string[]>) => Record<string, unknown>;
}

/**
 * The base double: starts a real trivial server (or a mute one) as a child
 * process, saves its state before resolving, polls and stops it by pid. A
 * fresh instance can poll and stop a server another instance started.
 */
export class TrivialSpawner implements Spawner {
  readonly kind: string = 'trivial-double';
  /** Every `start` call, in order. */
  readonly calls: StartCall[] = [];
  /** The state of every process this instance started, in order (live or not). */
  readonly started: DoubleState[] = [];
  /** Every poll (`poll` or one entry of `pollMany`) this instance answered: when, and the state it got. */
  readonly polls: { at: number; state: SpawnerState }[] = [];
  /** Every state `stop` got, in order. */
  readonly stops: SpawnerState[] = [];
  /** Children started by this instance, by pid. */
  protected readonly children = new Map<number, ChildProcess>();
  optionsForm?: Spawner['optionsForm'];
  optionsFromForm?: Spawner['optionsFromForm'];

  constructor(protected readonly opts: TrivialOptions = {}) {
    if (opts.optionsForm !== undefined) {
      const form = opts.optionsForm;
      this.optionsForm = () => form;
    }
    if (opts.optionsFromForm) this.optionsFromForm = opts.optionsFromForm;
  }

  async start(req: SpawnRequest): Promise<StartResult> {
    const call: StartCall = { request: req, aborted: false, outcome: 'pending' };
    this.calls.push(call);
    const onAbort = () => {
      call.aborted = true;
    };
    req.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await this.startServer(req);
      call.outcome = 'resolved';
      return result;
    } catch (err) {
      call.outcome = 'rejected';
      throw err;
    } finally {
      req.signal.removeEventListener('abort', onAbort);
    }
  }

  /** What `start` does; subclasses add their behaviour around it. */
  protected async startServer(req: SpawnRequest): Promise<StartResult> {
    const state = await this.launch(req);
    return { url: `http://127.0.0.1:${state.port}`, state };
  }

  /** Starts the process, saves its state, and reports progress. */
  protected async launch(req: SpawnRequest): Promise<DoubleState> {
    req.signal.throwIfAborted();
    const port = await freePort('127.0.0.1');
    const prefix = req.env['JUPYTERHUB_SERVICE_PREFIX'] ?? '/';
    const env = { ...req.env, JUPYTERHUB_SERVICE_URL: `http://127.0.0.1:${port}${prefix}` };
    const args = this.opts.mute
      ? ['-e', MUTE_SERVER]
      : this.opts.answerAfterMs
        ? ['-e', `setTimeout(() => import(${JSON.stringify(pathToFileURL(TRIVIAL_SERVER).href)}), ${Number(this.opts.answerAfterMs)})`]
        : [TRIVIAL_SERVER];
    const child = spawn(process.execPath, args, { env, stdio: 'ignore' });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', (err) => reject(new SpawnError(`double could not run node: ${err.message}`, 'exec-failed')));
    });
    child.unref();
    this.children.set(pid, child);
    child.once('exit', () => this.children.delete(pid));
    const state: DoubleState = { v: 1, pid, port };
    this.started.push(state);
    await req.saveState(state);
    req.progress({ progress: 30, message: `double started process ${pid} on port ${port}` });
    return state;
  }

  async poll(state: SpawnerState): Promise<PollResult> {
    this.polls.push({ at: Date.now(), state });
    return this.pollProcess(state);
  }

  /** Whether the state's process runs (what `poll` answers without overrides). */
  protected pollProcess(state: SpawnerState): PollResult {
    const s = state as Partial<DoubleState>;
    if (!s.pid) return { status: 'stopped' };
    return alive(s.pid, this.children.get(s.pid)) ? { status: 'running' } : { status: 'stopped' };
  }

  async stop(state: SpawnerState, _opts: { log: Logger }): Promise<void> {
    this.stops.push(state);
    const s = state as Partial<DoubleState>;
    if (!s.pid) return;
    await endProcess(s.pid, this.children.get(s.pid), 'SIGTERM');
  }

  /** Kills a server process at once (a crash), by state or every child of this instance. */
  async kill(state?: SpawnerState): Promise<void> {
    const pids = state ? [(state as Partial<DoubleState>).pid ?? 0] : [...this.children.keys()];
    for (const pid of pids) if (pid) await endProcess(pid, this.children.get(pid), 'SIGKILL');
  }

  /** Ends every process this instance started (test clean-up). */
  async killAll(): Promise<void> {
    await this.kill();
  }
}

/** `start` never resolves; it rejects with a SpawnError('cancelled') once its signal aborts. */
export class NeverSpawner extends TrivialSpawner {
  override readonly kind = 'never-double';
  protected override startServer(req: SpawnRequest): Promise<StartResult> {
    return new Promise((_, reject) => {
      const fail = () => reject(new SpawnError('never-double was aborted', 'cancelled'));
      if (req.signal.aborted) fail();
      else req.signal.addEventListener('abort', fail, { once: true });
    });
  }
}

/** `start` rejects with a SpawnError carrying `message`, after `delayMs` (default at once). */
export class BadSpawner extends TrivialSpawner {
  override readonly kind = 'bad-double';
  /** `status`: the HTTP status the SpawnError carries (e.g. 503 for a scheduler that cannot be reached); default the SpawnError's 500. */
  constructor(private readonly bad: TrivialOptions & { message?: string; delayMs?: number; afterLaunch?: boolean; status?: number } = {}) {
    super(bad);
  }
  protected override async startServer(req: SpawnRequest): Promise<StartResult> {
    if (this.bad.afterLaunch) await this.launch(req);
    if (this.bad.delayMs) await delay(this.bad.delayMs, req.signal);
    throw new SpawnError(this.bad.message ?? 'bad-double refuses to start', 'double-failed', this.bad.status === undefined ? {} : { status: this.bad.status });
  }
}

/**
 * Waits `delayMs` (abortable), then starts a trivial server. With
 * `launchFirst`, starts the process (and saves its state) first and waits
 * after, so a cancelled or timed-out spawn leaves a live process to clean up.
 * With `ignoreAbort`, a misbehaving backend: it neither wakes nor stops when
 * its signal aborts, and starts its server anyway.
 */
export class SlowSpawner extends TrivialSpawner {
  override readonly kind = 'slow-double';
  constructor(private readonly slow: TrivialOptions & { delayMs: number; launchFirst?: boolean; ignoreAbort?: boolean }) {
    super(slow);
  }
  protected override async startServer(req: SpawnRequest): Promise<StartResult> {
    const signal = this.slow.ignoreAbort ? undefined : req.signal;
    const deaf: SpawnRequest = this.slow.ignoreAbort ? { ...req, signal: new AbortController().signal } : req;
    if (this.slow.launchFirst) {
      const state = await this.launch(deaf);
      await delay(this.slow.delayMs, signal);
      return { url: `http://127.0.0.1:${state.port}`, state };
    }
    await delay(this.slow.delayMs, signal);
    return super.startServer(deaf);
  }
}

/** Starts a trivial server whose process dies `dieAfterMs` after it started (when set), or on `kill()`. */
export class DyingSpawner extends TrivialSpawner {
  override readonly kind = 'dying-double';
  constructor(private readonly dying: TrivialOptions & { dieAfterMs?: number } = {}) {
    super(dying);
  }
  protected override async startServer(req: SpawnRequest): Promise<StartResult> {
    const result = await super.startServer(req);
    if (this.dying.dieAfterMs !== undefined) {
      const timer = setTimeout(() => void this.kill(result.state), this.dying.dieAfterMs);
      timer.unref();
    }
    return result;
  }
}

/** Options of {@link ReportingSpawner}. */
export interface ReportingOptions extends TrivialOptions {
  /**
   * A command to run at start (argv; the env is the hub's, with
   * `JUPYTERHUB_SERVICE_URL` on port 0, as a batch job gets it): it must report
   * its port and serve there (bin/ganymede-singleuser wrapping a server). Without
   * it the double runs nothing until a port is reported, then starts the trivial
   * server on that port.
   */
  command?: string[];
  /** How often `start` reads `req.reportedPort()` (default 50 ms). */
  pollMs?: number;
}

/**
 * A spawner that learns where its server listens from the server itself, as
 * a batch spawner does: `start` reads `req.reportedPort()` until a port
 * arrives, then returns `http://127.0.0.1:<port>`. With `command`, it first
 * runs that command (which reports and serves); without, it runs the trivial
 * server on the reported port once the report arrived. `reportedPorts` records
 * what each start read; `stderr` what the command wrote.
 */
export class ReportingSpawner extends TrivialSpawner {
  override readonly kind: string = 'reporting-double';
  readonly reportedPorts: number[] = [];
  /** What the command of the latest start wrote on stderr. */
  stderr = '';
  /** The command each start runs (a test may change it between spawns). */
  command: string[] | undefined;
  constructor(private readonly reporting: ReportingOptions = {}) {
    super(reporting);
    this.command = reporting.command;
  }
  protected override async startServer(req: SpawnRequest): Promise<StartResult> {
    const prefix = req.env['JUPYTERHUB_SERVICE_PREFIX'] ?? '/';
    let exited: string | undefined;
    let state: DoubleState | undefined;
    if (this.command) {
      const [cmd, ...args] = this.command;
      this.stderr = '';
      const child = spawn(cmd!, args, { env: { ...req.env, JUPYTERHUB_SERVICE_URL: `http://127.0.0.1:0${prefix}` }, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (d: Buffer) => {
        this.stderr += d.toString();
      });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid!));
        child.once('error', (err) => reject(new SpawnError(`reporting-double could not run ${cmd}: ${err.message}`, 'exec-failed')));
      });
      this.children.set(pid, child);
      child.once('exit', (code, signal) => {
        this.children.delete(pid);
        exited = `exited with ${signal ?? code}: ${this.stderr.trim().slice(-500)}`;
      });
      state = { v: 1, pid, port: 0 };
      this.started.push(state);
      await req.saveState(state);
    }
    let port: number | undefined;
    while ((port = await req.reportedPort()) === undefined) {
      if (exited) throw new SpawnError(`the server ${exited}`, 'double-failed');
      await delay(this.reporting.pollMs ?? 50, req.signal);
    }
    this.reportedPorts.push(port);
    if (state) {
      state.port = port;
      await req.saveState(state);
      return { url: `http://127.0.0.1:${port}`, state };
    }
    const env = { ...req.env, JUPYTERHUB_SERVICE_URL: `http://127.0.0.1:${port}${prefix}` };
    const child = spawn(process.execPath, [TRIVIAL_SERVER], { env, stdio: 'ignore' });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', (err) => reject(new SpawnError(`reporting-double could not run node: ${err.message}`, 'exec-failed')));
    });
    this.children.set(pid, child);
    child.once('exit', () => this.children.delete(pid));
    const served: DoubleState = { v: 1, pid, port };
    this.started.push(served);
    await req.saveState(served);
    return { url: `http://127.0.0.1:${port}`, state: served };
  }
}

/** A spawner whose `start` never resolves until aborted (start_timeout, cancel, concurrent_spawn_limit). */
export const neverSpawner = (opts?: TrivialOptions): NeverSpawner => new NeverSpawner(opts);
/** A spawner whose `start` rejects with a SpawnError (`message`, optionally after `delayMs` or after launching a process). */
export const badSpawner = (opts?: ConstructorParameters<typeof BadSpawner>[0]): BadSpawner => new BadSpawner(opts);
/** A spawner that waits `delayMs` before (or, with `launchFirst`, after) starting a real trivial server. */
export const slowSpawner = (opts: ConstructorParameters<typeof SlowSpawner>[0]): SlowSpawner => new SlowSpawner(opts);
/** A spawner whose real server process dies after `dieAfterMs`, or when the test calls `kill()`. */
export const dyingSpawner = (opts?: ConstructorParameters<typeof DyingSpawner>[0]): DyingSpawner => new DyingSpawner(opts);
/** A real process that listens and never answers HTTP: for `http_timeout`. */
export const muteSpawner = (opts?: TrivialOptions): TrivialSpawner => new TrivialSpawner({ ...opts, mute: true });
/** A spawner that waits for its server's port report (`req.reportedPort()`), as a batch spawner does. */
export const reportingSpawner = (opts?: ReportingOptions): ReportingSpawner => new ReportingSpawner(opts);
/** A spawner that just works (a trivial server at once), recording its calls. */
export const trivialSpawner = (opts?: TrivialOptions): TrivialSpawner => new TrivialSpawner(opts);

/** Whether `pid` is a live process (a child we know, or any process not a zombie). */
function alive(pid: number, child: ChildProcess | undefined): boolean {
  if (child) return child.exitCode === null && child.signalCode === null;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // a zombie (dead, not yet reaped) is not alive
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Signals a process and waits (up to 5 s) until it is gone; the wait keeps the event loop alive. */
async function endProcess(pid: number, child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!alive(pid, child)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  for (let i = 0; i < 250 && alive(pid, child); i++) await new Promise((r) => setTimeout(r, 20));
}

/** An abortable wait on an unref'd timer (a double's wait never keeps a test process alive). */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new SpawnError('aborted while waiting', 'cancelled'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new SpawnError('aborted while waiting', 'cancelled'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A job of a {@link JobQueue}. */
export type JobStatus = 'pending' | 'released' | 'cancelled';

/**
 * A scheduler's queue the test controls, shared by the spawner instances of
 * several hub processes (as a real Slurm outlives a hub restart): jobs wait
 * `pending` until {@link release}d; `cancel` ends them.
 */
export class JobQueue {
  readonly jobs = new Map<string, JobStatus>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private next = 1;

  submit(): string {
    const job = `job-${this.next++}`;
    this.jobs.set(job, 'pending');
    return job;
  }

  release(job: string): void {
    if (this.jobs.get(job) !== 'pending') return;
    this.jobs.set(job, 'released');
    this.wake(job);
  }

  cancel(job: string): void {
    if (!this.jobs.has(job) || this.jobs.get(job) === 'cancelled') return;
    this.jobs.set(job, 'cancelled');
    this.wake(job);
  }

  /** Resolves when the job is released; rejects when it is cancelled (or unknown) or the signal aborts. */
  async waitRun(job: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      const status = this.jobs.get(job);
      if (status === 'released') return;
      if (status !== 'pending') throw new SpawnError(`job ${job} is gone (${status ?? 'unknown to the queue'})`, 'double-failed');
      signal.throwIfAborted();
      await new Promise<void>((resolve) => {
        const set = this.waiters.get(job) ?? new Set();
        this.waiters.set(job, set);
        const done = () => {
          set.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        set.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
      if (signal.aborted) throw new SpawnError(`gave up waiting for job ${job}`, 'cancelled');
    }
  }

  private wake(job: string): void {
    for (const w of [...(this.waiters.get(job) ?? [])]) w();
  }
}

/** State of a {@link QueuedSpawner}'s server: the job, then (once it runs) its process. */
export interface QueuedState extends SpawnerState {
  v: 1;
  job: string;
  pid?: number;
  port?: number;
}

/**
 * A batch-scheduler-like double: `start` submits a job to `queue`, saves
 * `{v: 1, job}` at once, reports the job pending and waits until the test
 * releases it, then runs a trivial server. Resumable: given `req.resumeState`
 * it waits for that job instead of submitting another. `poll` answers
 * `pending` while the job waits; `stop` cancels the job and ends its process.
 */
export class QueuedSpawner extends TrivialSpawner {
  override readonly kind: string = 'queued-double';
  readonly resumable: boolean = true;
  /** The job of every `start` call, in order, and whether it resumed one. */
  readonly jobs: { job: string; resumed: boolean }[] = [];
  constructor(readonly queue: JobQueue, opts: TrivialOptions = {}) {
    super(opts);
  }
  protected override async startServer(req: SpawnRequest): Promise<StartResult> {
    const resumed = req.resumeState as Partial<QueuedState> | undefined;
    const job = typeof resumed?.job === 'string' ? resumed.job : this.queue.submit();
    this.jobs.push({ job, resumed: !!resumed });
    if (!resumed) await req.saveState({ v: 1, job });
    req.progress({ progress: 20, message: `job ${job} is pending` });
    await this.queue.waitRun(job, req.signal);
    const launched = await this.launch({ ...req, saveState: (s) => req.saveState({ ...s, job }) });
    const state: QueuedState = { ...launched, job };
    return { url: `http://127.0.0.1:${launched.port}`, state };
  }
  override async poll(state: SpawnerState): Promise<PollResult> {
    this.polls.push({ at: Date.now(), state });
    const s = state as Partial<QueuedState>;
    if (s.pid) return this.pollProcess(state);
    const status = s.job ? this.queue.jobs.get(s.job) : undefined;
    return status === 'pending' || status === 'released' ? { status: 'pending', reason: 'Resources' } : { status: 'stopped' };
  }
  override async stop(state: SpawnerState, opts: { log: Logger }): Promise<void> {
    const s = state as Partial<QueuedState>;
    if (s.job) this.queue.cancel(s.job);
    await super.stop(state, opts);
  }
}

/** {@link QueuedSpawner} without the resume: a restarted hub must clean its pending spawns up. */
export class UnresumableQueuedSpawner extends QueuedSpawner {
  override readonly kind = 'unresumable-queued-double';
  override readonly resumable: boolean = false;
}

/**
 * A trivial server whose scheduler can be made unreachable: while
 * {@link answer} is set, `poll` (and re-attach) get that answer instead of
 * the truth, e.g. `{status: 'unknown', reason: 'controller down'}`.
 */
export class UnreachableSchedulerSpawner extends TrivialSpawner {
  override readonly kind: string = 'unreachable-scheduler-double';
  answer: PollResult | undefined;
  /** `poll` answers `unknown` from now on. */
  schedulerDown(reason = 'scheduler unreachable (double)'): void {
    this.answer = { status: 'unknown', reason };
  }
  /** `poll` tells the truth again. */
  schedulerUp(): void {
    this.answer = undefined;
  }
  override async poll(state: SpawnerState): Promise<PollResult> {
    this.polls.push({ at: Date.now(), state });
    return this.answer ?? this.pollProcess(state);
  }
  /** While set, `stop` fails with this message and leaves the server running (a cancel the scheduler never got). */
  stopFailure: string | undefined;
  override async stop(state: SpawnerState, opts: { log: Logger }): Promise<void> {
    if (this.stopFailure !== undefined) throw new Error(this.stopFailure);
    return super.stop(state, opts);
  }
}

/** The sentence {@link LoginBoundSpawner} gives while the user's login has expired. */
export const LOGIN_BOUND_REASON = 'Your login has expired: the cluster no longer accepts it. Please log in again.';

/**
 * A back-end that acts as the user with their own token (as FirecREST does):
 * while {@link loginExpired} is set, `stopBlocker` answers
 * {@link LOGIN_BOUND_REASON}, `stop` throws an error carrying HTTP status 401
 * (and leaves the server running), and `start` rejects with a SpawnError of
 * status 401. `blockerDelayMs` makes `stopBlocker` slow, `blockerThrows` makes it fail.
 */
export class LoginBoundSpawner extends TrivialSpawner {
  override readonly kind: string = 'login-bound-double';
  loginExpired = false;
  blockerDelayMs = 0;
  blockerThrows = false;
  /** Every state `stopBlocker` was asked about, with the user. */
  readonly blockerCalls: { user: string; state: SpawnerState }[] = [];
  async stopBlocker(state: SpawnerState, ctx: { user: string; log: Logger }): Promise<string | undefined> {
    this.blockerCalls.push({ user: ctx.user, state });
    if (this.blockerDelayMs) await delay(this.blockerDelayMs);
    if (this.blockerThrows) throw new Error('login-bound-double cannot tell');
    return this.loginExpired ? LOGIN_BOUND_REASON : undefined;
  }
  override async stop(state: SpawnerState, opts: { log: Logger }): Promise<void> {
    if (this.loginExpired) throw Object.assign(new Error(LOGIN_BOUND_REASON), { status: 401 });
    return super.stop(state, opts);
  }
  protected override async startServer(req: SpawnRequest): Promise<StartResult> {
    if (this.loginExpired) throw new SpawnError(LOGIN_BOUND_REASON, 'login-expired', { status: 401 });
    return super.startServer(req);
  }
}

/** The sizes {@link OptionsCheckingSpawner} accepts. */
export const DOUBLE_SIZES = ['small', 'large'] as const;

/**
 * A trivial server whose `checkOptions` accepts only `size` (small or large,
 * any case and surrounding blanks: normalised to lower case; default small)
 * and an optional string `note`; anything else is a HubError(400) naming the
 * field. Its form offers `size`, preselecting the previous one. Records every
 * check (`checks`).
 */
export class OptionsCheckingSpawner extends TrivialSpawner {
  override readonly kind = 'options-checking-double';
  readonly checks: Record<string, unknown>[] = [];
  constructor(private readonly formField = 'size', opts: TrivialOptions = {}) {
    super(opts);
    this.optionsForm = (_user, ctx) => {
      const prev = ctx?.previous['size'];
      return `<label>Size <select name="${this.formField}">${DOUBLE_SIZES.map((s) => `<option value="${s}"${prev === s ? ' selected' : ''}>${s}</option>`).join('')}</select></label>`;
    };
    this.optionsFromForm = (form) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(form)) out[k === this.formField ? 'size' : k] = v;
      return out;
    };
  }
  checkOptions(options: Record<string, unknown>): Record<string, unknown> {
    this.checks.push(options);
    for (const key of Object.keys(options)) if (key !== 'size' && key !== 'note') throw new HubError(400, `Unknown option '${key}'`);
    const raw = options['size'] ?? 'small';
    const size = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
    if (typeof size !== 'string' || !(DOUBLE_SIZES as readonly string[]).includes(size)) throw new HubError(400, `The option 'size' must be one of ${DOUBLE_SIZES.join(', ')}`);
    if (options['note'] !== undefined && typeof options['note'] !== 'string') throw new HubError(400, `The option 'note' must be a string`);
    return { ...options, size };
  }
}

/** State `v: 2` of {@link VersionedStateSpawner}: v1's fields under new names. */
export interface StateV2 extends SpawnerState {
  v: 2;
  process: { pid: number; port: number };
}

/**
 * Saves state `v: 1` (the base double's) and works only on `v: 2`:
 * `upgradeState` lifts v1 to v2 and throws for any other version, so a test
 * sees whether the hub upgraded what it read before `poll`/`stop`/`start`.
 * Records each upgrade (`upgrades`).
 */
export class VersionedStateSpawner extends TrivialSpawner {
  override readonly kind = 'versioned-state-double';
  readonly upgrades: SpawnerState[] = [];
  upgradeState(state: SpawnerState): SpawnerState {
    this.upgrades.push(state);
    if (state.v === 2) return state;
    if (state.v !== 1) throw new Error(`state version ${state.v} is not one this double reads`);
    const { pid, port } = state as DoubleState;
    return { v: 2, process: { pid, port } } satisfies StateV2;
  }
  override async poll(state: SpawnerState): Promise<PollResult> {
    this.polls.push({ at: Date.now(), state });
    if (state.v !== 2) throw new Error(`poll got state v${state.v}, not upgraded`);
    const { pid, port } = (state as StateV2).process;
    return this.pollProcess({ v: 1, pid, port });
  }
  override async stop(state: SpawnerState, opts: { log: Logger }): Promise<void> {
    this.stops.push(state);
    if (state.v !== 2) throw new Error(`stop got state v${state.v}, not upgraded`);
    const { pid, port } = (state as StateV2).process;
    await super.stop({ v: 1, pid, port }, opts);
    this.stops.pop();
  }
}

/** A trivial server whose back-end has `pollMany`; counts its calls (`pollManyCalls`: the number of states of each). */
export class PollManySpawner extends UnreachableSchedulerSpawner {
  override readonly kind = 'poll-many-double';
  readonly pollManyCalls: number[] = [];
  /** How many times the one-server `poll` was called. */
  singlePolls = 0;
  /** Set to make `pollMany` throw (against its contract) with this message. */
  failWith: string | undefined;
  override async poll(state: SpawnerState): Promise<PollResult> {
    this.singlePolls++;
    return super.poll(state);
  }
  /** Per-pid answers overriding the truth (e.g. one server reported stopped). */
  readonly answers = new Map<number, PollResult>();
  async pollMany(states: SpawnerState[]): Promise<PollResult[]> {
    this.pollManyCalls.push(states.length);
    if (this.failWith) throw new Error(this.failWith);
    return states.map((state) => {
      this.polls.push({ at: Date.now(), state });
      return this.answers.get((state as DoubleState).pid) ?? this.answer ?? this.pollProcess(state);
    });
  }
}

/** A batch-scheduler-like spawner on `queue` (shared by the hubs of a restart test): resumable. */
export const queuedSpawner = (queue: JobQueue, opts?: TrivialOptions): QueuedSpawner => new QueuedSpawner(queue, opts);
/** The same without `resumable`: a restarted hub cleans its pending spawns up. */
export const unresumableQueuedSpawner = (queue: JobQueue, opts?: TrivialOptions): UnresumableQueuedSpawner => new UnresumableQueuedSpawner(queue, opts);
/** A trivial server whose `poll` answers `unknown` (or anything) on demand. */
export const unreachableSchedulerSpawner = (opts?: TrivialOptions): UnreachableSchedulerSpawner => new UnreachableSchedulerSpawner(opts);
/** A trivial server whose `checkOptions` refuses anything but `size` (small|large) and `note`; its form field is `formField` (default `size`). */
export const optionsCheckingSpawner = (formField?: string, opts?: TrivialOptions): OptionsCheckingSpawner => new OptionsCheckingSpawner(formField, opts);
/** A trivial server whose state is upgraded from v1 to v2 (`upgradeState`), refusing other versions. */
export const versionedStateSpawner = (opts?: TrivialOptions): VersionedStateSpawner => new VersionedStateSpawner(opts);
/** A trivial server with `pollMany`, counting its calls. */
export const loginBoundSpawner = (opts?: TrivialOptions): LoginBoundSpawner => new LoginBoundSpawner(opts);

export const pollManySpawner = (opts?: TrivialOptions): PollManySpawner => new PollManySpawner(opts);

/**
 * Several named back-ends from doubles, in order (the first is the default):
 * `{name: spawner}` or `{name: {spawner, allowedGroups, displayName, description}}`.
 */
export function namedBackends(entries: Record<string, Spawner | { spawner: Spawner; allowedGroups?: string[]; displayName?: string; description?: string }>): SpawnerBackends {
  return new SpawnerBackends(
    Object.entries(entries).map(([name, e]): Backend => {
      const full = 'spawner' in e && typeof (e as { start?: unknown }).start !== 'function' ? (e as { spawner: Spawner; allowedGroups?: string[]; displayName?: string; description?: string }) : { spawner: e as Spawner };
      return { name, spawner: full.spawner, displayName: full.displayName ?? name, description: full.description ?? '', allowedGroups: full.allowedGroups ?? [] };
    }),
  );
}
