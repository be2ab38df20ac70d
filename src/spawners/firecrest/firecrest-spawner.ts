/**
 * The FirecREST spawner (`kind: firecrest`): each server is a Slurm job
 * submitted, watched and cancelled through FirecREST v2 with the user's own
 * access token (firecrest-user-calls.ts). The job's launcher reports its
 * port to the hub (`POST /hub/api/firecrestspawner`), which
 * `req.reportedPort()` reads; the host is the job's first node, through
 * `node_name_template`.
 */
import type { Logger } from 'pino';
import { ConfigError, HubError, SpawnError } from '../../lib/errors.js';
import { answerWithin, sleep } from '../../lib/time.js';
import { plausibleHost } from '../batch/exechost.js';
import { jobIdProblem } from '../batch/batch-state.js';
import { batchJobEnv } from '../batch/job-env.js';
import { toPoll, type JobStatus } from '../batch/job-status.js';
import { watchJobStart } from '../batch/job-watch.js';
import { renderTemplate, TemplateError } from '../batch/script-template.js';
import { NO_USER_TOKENS, type LogTailOptions, type OptionsContext, type PollResult, type SpawnRequest, type Spawner, type SpawnerDeps, type SpawnerState, type SpawnUser, type StartResult } from '../spawner.js';
import { FirecrestError, type FirecrestApi, type FirecrestJob, type FirecrestJobDescription, type FirecrestUserInfo } from './firecrest-api.js';
import { FirecrestClient } from './firecrest-client.js';
import type { FirecrestSpawnerConfig } from './firecrest-config.js';
import { FirecrestForm, jobChoices, type FirecrestChoices, type FirecrestFormSources } from './firecrest-form.js';
import { splitJobEnv, withEncodedEnv } from './firecrest-job-env.js';
import { firecrestJobStatus } from './firecrest-job-status.js';
import { checkOneLineValues, commandLine, DEFAULT_FIRECREST_SCRIPT, jobLogPattern, jobName, workdirProblem } from './firecrest-script.js';
import { FIRECREST_STATE_VERSION, readFirecrestState, upgradeFirecrestState, type FirecrestState } from './firecrest-state.js';
import { FirecrestLoginError, FirecrestUserCalls, type ServiceTokenSource } from './firecrest-user-calls.js';
import { ServiceAccountTokens } from './service-account.js';

/** Longest one question about a job may take (its retries and the confirmation of a vanished job included): below the hub's 60 s poll limit. */
const POLL_QUESTION_MS = 55_000;

/** Runs single-user servers as FirecREST jobs. */
export class FirecrestSpawner implements Spawner {
  readonly kind = 'firecrest';
  readonly resumable = true;
  /** Calls as the job's owner (refresh and retry on 401; service account for polls only). */
  private readonly calls: FirecrestUserCalls;
  private readonly form: FirecrestForm;

  /**
   * @param api the FirecREST calls of `config.system` (the HTTP client, or a test double)
   * @param service the service account's tokens, for polls of users whose login expired (none: such polls answer `unknown`)
   */
  constructor(
    readonly config: FirecrestSpawnerConfig,
    readonly deps: SpawnerDeps,
    readonly api: FirecrestApi,
    service?: ServiceTokenSource,
  ) {
    this.calls = new FirecrestUserCalls(deps.userTokens ?? NO_USER_TOKENS, config.system, service);
    this.form = new FirecrestForm(config, deps.name);
  }

  upgradeState(state: SpawnerState): SpawnerState {
    return upgradeFirecrestState(state);
  }

  optionsForm(user: SpawnUser, ctx?: { authState: Record<string, unknown> | null; previous: Record<string, unknown> }): Promise<string | undefined> {
    return this.withinFormTime(this.form.render(this.sources(user.name), ctx?.previous ?? {}));
  }

  optionsFromForm(posted: Record<string, string | string[]>): Record<string, unknown> {
    return this.form.fromForm(posted);
  }

  async checkOptions(options: Record<string, unknown>, ctx: OptionsContext): Promise<Record<string, unknown>> {
    return { ...(await this.withinFormTime(this.form.check(options, this.sources(ctx.user.name)))) };
  }

  /**
   * `work` (the form's FirecREST questions) within `request_timeout` + 5 s:
   * a FirecREST that does not answer gives the user a 503 in bounded time
   * rather than a page that never comes (its calls' retries would take
   * `request_timeout` × (`request_retries` + 1) and more).
   */
  private async withinFormTime<T>(work: Promise<T>): Promise<T> {
    const ms = this.config.request_timeout * 1000 + 5000;
    try {
      return await answerWithin(work, ms, 'FirecREST');
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('FirecREST gave no answer within')) {
        throw new HubError(503, `FirecREST (system ${this.config.system}) did not answer within ${Math.round(ms / 100) / 10} s: the form cannot be drawn or checked now. Try again later.`);
      }
      throw err;
    }
  }

  /** The form's FirecREST answers for `user`, with their token; errors as HubError 401/503/502 in plain words. The userinfo is asked once per sources. */
  private sources(user: string): FirecrestFormSources {
    const log = this.deps.log;
    let info: Promise<FirecrestUserInfo> | undefined;
    return {
      userinfo: () => (info ??= this.userCall(user, log, (t) => this.api.userinfo(t))),
      partitions: () => this.userCall(user, log, (t) => this.api.partitions(t)),
    };
  }

  /** A call as `user`, errors turned into HubErrors for the user (see {@link hubErrorOf}). */
  private async userCall<T>(user: string, log: Logger, call: (token: string) => Promise<T>): Promise<T> {
    try {
      return await this.calls.asUser(user, log, call);
    } catch (err) {
      throw hubErrorOf(err, this.config.system);
    }
  }

  async start(req: SpawnRequest): Promise<StartResult> {
    if (req.resumeState) {
      const resumed = readFirecrestState(req.resumeState);
      if (!resumed) throw new SpawnError('There is no job to resume: the saved state names none', 'no-job');
      req.progress({ progress: 15, message: `Resuming the wait for job ${resumed.job_id} on ${resumed.system}` });
      return this.watch(req, resumed);
    }
    if (req.signal.aborted) throw new SpawnError('The spawn was cancelled before the job was submitted', 'cancelled');
    const user = req.user.name;
    const info = await this.spawnCall(user, req.log, (t) => this.api.userinfo(t));
    const { job, log } = this.jobDescription(req, info);
    // not cancelled half-way: a job FirecREST accepted must be known, to be cancelled
    const jobId = await this.spawnCall(user, req.log, (t) => this.api.submit(t, job));
    const problem = jobIdProblem(jobId);
    if (problem) throw new SpawnError(`FirecREST (system ${this.config.system}) answered the job submission with a bad job id: ${problem}`, 'bad-job-id', { status: 502 });
    const state: FirecrestState = { v: FIRECREST_STATE_VERSION, job_id: jobId, system: this.config.system, user, log: log.replaceAll('%j', jobId) };
    await req.saveState(state);
    req.log.info({ jobId, system: state.system }, 'submitted FirecREST job');
    if (req.signal.aborted) {
      await this.stop(state, { log: req.log }).catch((err: Error) => req.log.warn({ err: err.message, jobId }, 'could not cancel a job submitted as its spawn was given up'));
      throw new SpawnError(`The spawn was cancelled; job ${jobId} was cancelled`, 'cancelled');
    }
    req.progress({ progress: 15, message: `Submitted job ${jobId} on ${state.system}` });
    return this.watch(req, state);
  }

  /** The job description (script with the environment, workdir, name, log files) for `req`; SpawnError 400/500 when it cannot be built. */
  private jobDescription(req: SpawnRequest, info: FirecrestUserInfo): { job: FirecrestJobDescription; log: string } {
    const c = this.config;
    try {
      const choices = jobChoices(c, req.userOptions as Partial<FirecrestChoices>, info);
      const username = info.user.name;
      const hubVars = { username, hub_username: req.user.name, server_name: req.serverName };
      checkOneLineValues(hubVars, []);
      const workdir = renderTemplate(c.workdir, hubVars, 'workdir').trim();
      const bad = workdirProblem(workdir);
      if (bad) throw new Error(`the rendered workdir ${bad}`);
      const vars: Record<string, unknown> = {
        ...choices,
        constraint: choices.constraint ?? (c.req_constraint || undefined),
        ...hubVars,
        workdir,
        cmd: commandLine(c.cmd),
        srun: c.req_srun,
        prologue: c.req_prologue,
        epilogue: c.req_epilogue,
      };
      checkOneLineValues(vars, ['prologue', 'epilogue']);
      const env = splitJobEnv(batchJobEnv(req.env, c.hub_connect_url));
      const script = withEncodedEnv(renderTemplate(c.batch_script || DEFAULT_FIRECREST_SCRIPT, vars, 'batch_script'), env.encoded);
      const log = jobLogPattern(workdir);
      const job: FirecrestJobDescription = { script, workingDirectory: workdir, name: jobName(req.user.name, req.serverName), env: env.plain, standardOutput: log, standardError: log };
      if (choices.account) job.account = choices.account;
      if (choices.partition) job.partition = choices.partition;
      if (choices.reservation) job.reservation = choices.reservation;
      const constraint = vars['constraint'];
      if (typeof constraint === 'string' && constraint) job.constraints = constraint;
      return { job, log };
    } catch (err) {
      if (err instanceof HubError) throw err;
      const what = err instanceof TemplateError ? err.message : (err as Error).message;
      throw new SpawnError(`Cannot build the FirecREST job: ${what}; nothing was submitted`, 'bad-template', { cause: err });
    }
  }

  /** A call as the user during a spawn: errors as SpawnError (401 log in again, 503 unavailable, 502 refused). */
  private async spawnCall<T>(user: string, log: Logger, call: (token: string) => Promise<T>): Promise<T> {
    try {
      return await this.calls.asUser(user, log, call);
    } catch (err) {
      const hub = hubErrorOf(err, this.config.system);
      if (hub instanceof SpawnError || !(hub instanceof HubError)) throw hub;
      throw new SpawnError(hub.message, hub.status === 401 ? 'login-again' : 'firecrest', { status: hub.status, cause: err });
    }
  }

  /** Waits for the job to run and its server to report a port (fresh or resumed start). */
  private watch(req: SpawnRequest, submitted: FirecrestState): Promise<StartResult> {
    return watchJobStart(req, submitted, {
      logPath: submitted.log ?? `the working directory of job ${submitted.job_id}`,
      query: (state, signal) => this.queryJob(state, req.log, signal),
      hostOf: (status) => (status.state === 'running' && status.host ? this.hostOf(status.host) : undefined),
      intervalMs: this.config.startup_poll_interval * 1000,
    });
  }

  /** The host to connect to for node `node`: `node_name_template` with `{}` replaced; throws when that is no host name. */
  private hostOf(node: string): string {
    const host = this.config.node_name_template.replaceAll('{}', node);
    if (!plausibleHost(host)) throw new Error(`the node ${JSON.stringify(node.slice(0, 80))} of the job, through node_name_template, gives ${JSON.stringify(host.slice(0, 120))}, which is not a host name`);
    return host;
  }

  /**
   * One question about the job: the user's token, the service account when
   * the user's login is gone and one is configured. Never rejects (a login
   * error or FirecREST's trouble is `unknown`) unless `signal` aborts.
   */
  private async queryJob(s: FirecrestState, log: Logger, signal?: AbortSignal): Promise<JobStatus> {
    if (s.system !== this.config.system) return { state: 'unknown', reason: `the job runs on system ${s.system}, not on this back-end's ${this.config.system}` };
    // the question and its confirmation end before the hub gives up on the poll (POLL_TIMEOUT_MS, 60 s), whatever the retries
    const bound = AbortSignal.timeout(Math.min(this.config.request_timeout * 1000 * (this.config.request_retries + 1) + 5000, POLL_QUESTION_MS));
    const both = signal ? AbortSignal.any([signal, bound]) : bound;
    try {
      const job = await this.calls.forPoll(s.user, `${s.system}/${s.job_id}`, log, (t) => this.confirmedJob(t, s.job_id, both));
      return firecrestJobStatus(job);
    } catch (err) {
      signal?.throwIfAborted();
      if (err instanceof FirecrestLoginError) return { state: 'unknown', reason: `${err.message} (the server is kept)` };
      return { state: 'unknown', reason: (err as Error).message };
    }
  }

  /**
   * `GET` the job as `token`. A job FirecREST does not have (404, empty list)
   * is only taken as gone once the system is confirmed with the same token
   * (its partitions): FirecREST answers 404 for a system it does not know
   * too, and a misconfigured `system` must not declare every server stopped.
   * @throws FirecrestError (404 naming the system) when the system is unknown, or the confirmation's own error.
   */
  private async confirmedJob(token: string, jobId: string, signal?: AbortSignal): Promise<FirecrestJob | undefined> {
    const job = await this.api.job(token, jobId, signal);
    if (job !== undefined) return job;
    signal?.throwIfAborted();
    try {
      await this.api.partitions(token, signal);
    } catch (err) {
      if (!(err instanceof FirecrestError) || err.status !== 404) throw err;
      throw new FirecrestError(`FirecREST does not know system ${this.config.system} (check the system option of spawner ${this.deps.name}): job ${jobId} is not taken as gone (${err.message})`, 404, err.errorType, err.detail);
    }
    return undefined;
  }

  async poll(state: SpawnerState, opts: { log: Logger }): Promise<PollResult> {
    let s: FirecrestState | undefined;
    try {
      s = readFirecrestState(state);
    } catch (err) {
      opts.log.warn({ err: (err as Error).message }, 'cannot read the FirecREST state to poll it');
      return { status: 'unknown', reason: (err as Error).message };
    }
    if (!s) return { status: 'stopped' };
    return toPoll(await this.queryJob(s, opts.log));
  }

  /**
   * Cancels the job with its owner's token (401: refresh and retry once,
   * then an error saying to log in again; the hub keeps the server), then
   * asks until FirecREST no longer has it, at most `cancel_wait_timeout`.
   * A job already gone is success.
   */
  async stop(state: SpawnerState, opts: { log: Logger }): Promise<void> {
    const s = readFirecrestState(state);
    if (!s) return;
    if (s.system !== this.config.system) throw new Error(`Job ${s.job_id} runs on system ${s.system}, which this back-end (system ${this.config.system}) cannot cancel`);
    await this.calls.asUser(s.user, opts.log, (t) => this.api.cancel(t, s.job_id)).catch((err: unknown) => {
      if (err instanceof FirecrestLoginError) throw err;
      throw new Error(`Cannot cancel job ${s.job_id} on ${s.system}: ${(err as Error).message}`, { cause: err });
    });
    const end = Date.now() + this.config.cancel_wait_timeout * 1000;
    for (let wait = 100; ; wait = Math.min(wait * 2, 1000)) {
      let status: JobStatus;
      // each question within what is left of cancel_wait_timeout (at least 1 s): a FirecREST that does not answer cannot stretch the stop
      const left = AbortSignal.timeout(Math.max(1000, end - Date.now()));
      try {
        status = firecrestJobStatus(await this.calls.asUser(s.user, opts.log, (t) => this.confirmedJob(t, s.job_id, left)));
      } catch (err) {
        status = { state: 'unknown', reason: (err as Error).message };
      }
      if (status.state === 'gone') return;
      if (Date.now() + wait > end) {
        const now = status.state === 'unknown' ? `FirecREST could not say whether it is gone (${status.reason})` : `it is still ${status.state}`;
        throw new Error(`Job ${s.job_id} on ${s.system} was cancelled but ${now} after ${this.config.cancel_wait_timeout} s`);
      }
      opts.log.debug({ jobId: s.job_id, state: status.state }, 'waiting for the cancelled job to go');
      await sleep(wait);
    }
  }

  /** Why `user` cannot stop the server now: their login expired (stopping needs their own token). Never throws. */
  async stopBlocker(_state: SpawnerState, ctx: { user: string; log: Logger }): Promise<string | undefined> {
    try {
      const t = await (this.deps.userTokens ?? NO_USER_TOKENS).accessToken(ctx.user, { log: ctx.log });
      return 'loginAgain' in t ? 'Your login has expired: log in again to stop this server (it keeps running).' : undefined;
    } catch {
      return undefined;
    }
  }

  /** Where the job's log is (FirecREST's metadata, else the saved path): the hub shows it on a failed spawn. Never throws. */
  async logTail(state: SpawnerState, opts: LogTailOptions): Promise<string | undefined> {
    try {
      const s = readFirecrestState(state);
      if (!s) return undefined;
      let path = s.log;
      try {
        const meta = await this.calls.asUser(s.user, opts.log, (t) => this.api.metadata(t, s.job_id));
        const out = meta?.standardOutput;
        if (typeof out === 'string' && workdirProblem(out) === undefined) path = out;
      } catch (err) {
        opts.log.debug({ err: (err as Error).message }, 'no FirecREST metadata for the job log');
      }
      return path ? `The job's output is in ${path} on ${s.system} (FirecREST does not show it here).` : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * `err` of a FirecREST call as the user sees it: a login error as it is
 * (401), FirecREST unreachable or failing as 503, any other refusal as 502
 * with FirecREST's sentence; other errors unchanged.
 */
export function hubErrorOf(err: unknown, system: string): unknown {
  if (err instanceof HubError) return err;
  if (!(err instanceof FirecrestError)) return err;
  if (err.unavailable) return new HubError(503, `FirecREST (system ${system}) is not available right now: ${err.message}. Try again later.`, { cause: err });
  return new HubError(502, err.message, { cause: err });
}

/**
 * The FirecREST spawner for one back-end's options; `api` replaces the HTTP
 * client (tests). Builds the client and, when `service_account` is set, its
 * token source.
 *
 * @throws ConfigError when `firecrest_url` or `hub_connect_url` is not an
 *   http(s) URL, or a service account has neither secret nor secret file.
 */
export function createFirecrestSpawner(config: FirecrestSpawnerConfig, deps: SpawnerDeps, api?: FirecrestApi): FirecrestSpawner {
  const where = `spawner ${JSON.stringify(deps.name)}`;
  if (!isHttpUrl(config.firecrest_url)) throw new ConfigError(`${where}: firecrest_url ${JSON.stringify(config.firecrest_url)} is not an http(s) URL`);
  if (config.hub_connect_url && !isHttpUrl(config.hub_connect_url)) throw new ConfigError(`${where}: hub_connect_url ${JSON.stringify(config.hub_connect_url)} is not an http(s) URL`);
  const sa = config.service_account;
  let service: ServiceAccountTokens | undefined;
  if (sa) {
    if (!sa.client_secret && !sa.client_secret_file) throw new ConfigError(`${where}: service_account needs client_secret or client_secret_file`);
    if (!isHttpUrl(sa.token_url)) throw new ConfigError(`${where}: service_account.token_url ${JSON.stringify(sa.token_url)} is not an http(s) URL`);
    service = new ServiceAccountTokens({
      clientId: sa.client_id,
      ...(sa.client_secret ? { clientSecret: sa.client_secret } : {}),
      ...(sa.client_secret_file ? { clientSecretFile: sa.client_secret_file } : {}),
      tokenUrl: sa.token_url,
      ...(sa.scope ? { scope: sa.scope } : {}),
      fetch: deps.fetch,
      timeoutMs: config.request_timeout * 1000,
      log: deps.log,
    });
  }
  let client = api;
  try {
    client ??= new FirecrestClient({
      baseUrl: config.firecrest_url,
      system: config.system,
      fetch: deps.fetch,
      timeoutMs: config.request_timeout * 1000,
      retries: config.request_retries,
      log: deps.log,
    });
  } catch (err) {
    // the client's own checks of the URL and the system (credentials, query, a dot-only name) are configuration mistakes
    throw new ConfigError(`${where}: ${(err as Error).message}`);
  }
  return new FirecrestSpawner(config, deps, client, service);
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}
