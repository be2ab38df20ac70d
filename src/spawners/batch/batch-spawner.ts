/**
 * The batch spawner (`kind: slurm`): each server is a batch job, submitted,
 * watched and cancelled through a {@link Scheduler} (what the commands print
 * and mean) and a {@link Transport} (where they run: the hub's machine or a
 * login host over SSH). The job reports its port to the hub
 * (`POST /hub/api/batchspawner`), which `req.reportedPort()` reads.
 */
import type { Logger } from 'pino';
import { ConfigError, HubError, SpawnError } from '../../lib/errors.js';
import type { LogTailOptions, OptionsContext, PollResult, SpawnRequest, Spawner, SpawnerDeps, SpawnerState, StartResult } from '../spawner.js';
import type { SlurmSpawnerConfig } from './batch-config.js';
import { checkBatchOptions, MULTI_WORD_OPTION } from './batch-options.js';
import { OptionsForm } from '../options-form/options-form.js';
import type { SpawnUser } from '../spawner.js';
import { BATCH_STATE_VERSION, readBatchState, systemUserProblem, upgradeBatchState, type BatchState } from './batch-state.js';
import { rewriteHost } from './exechost.js';
import { describeOutput } from './command-output.js';
import { cancelAndWait } from './job-cancel.js';
import { JobCommands } from './job-commands.js';
import { batchJobEnv } from './job-env.js';
import { toPoll, type JobStatus } from './job-status.js';
import { watchJobStart } from './job-watch.js';
import { QueryBatcher } from './query-batcher.js';
import type { Scheduler } from './scheduler.js';
import { withEnvExports } from './script-env.js';
import { renderTemplate, TemplateError } from './script-template.js';
import { batchTemplateVars, checkHubNamesFor, REQ_NAMES, type ReqName } from './template-vars.js';
import type { Transport } from './transport.js';

/** What a {@link BatchSpawner} is built from. */
export interface BatchSpawnerOptions {
  /** The back-end's validated options (`kind: slurm`). */
  config: SlurmSpawnerConfig;
  scheduler: Scheduler;
  /** Where the commands run (transport-for.ts picks it). */
  transport: Transport;
  deps: SpawnerDeps;
  /** How long single queries gather before one `batch_query_all_cmd` answers them all (default 50 ms). */
  batchWindowMs?: number;
}

/** The log file of a job, as the default script's `--output` names it. */
export function jobLogPath(homedir: string, jobId: string): string {
  return `${homedir.replace(/\/+$/, '')}/jupyterhub_slurmspawner_${jobId}.log`;
}

/** Runs single-user servers as batch jobs. */
export class BatchSpawner implements Spawner {
  readonly kind: string;
  readonly resumable = true;
  /** The back-end's commands (tests count what runs through `commands.transport`). */
  readonly commands: JobCommands;
  /** Coalesces single queries in service-account mode; undefined without `batch_query_all_cmd`. */
  readonly batcher: QueryBatcher<JobStatus> | undefined;
  /**
   * Only in service-account mode (`batch_query_all_cmd` set): one command
   * answers every server of the back-end. Without it there is no pollMany,
   * so the hub polls the servers one by one, spread over the poll interval
   * (per-user wrappers: a thousand servers must not mean a burst of a
   * thousand commands at the start of each round, nor a round longer than
   * the interval).
   */
  readonly pollMany?: (states: SpawnerState[], opts: { log: Logger }) => Promise<PollResult[]>;
  private readonly cfg: SlurmSpawnerConfig;
  private readonly formFields: string[];
  private readonly form: OptionsForm;

  constructor(private readonly opts: BatchSpawnerOptions) {
    const c = (this.cfg = opts.config);
    this.kind = c.kind;
    this.commands = new JobCommands(opts.transport, opts.scheduler, {
      execPrefix: c.exec_prefix,
      submitCmd: c.batch_submit_cmd,
      queryCmd: c.batch_query_cmd,
      cancelCmd: c.batch_cancel_cmd,
      queryAllCmd: c.batch_query_all_cmd,
      timeoutMs: c.command_timeout * 1000,
    });
    this.batcher = this.commands.canQueryAll
      ? new QueryBatcher<JobStatus>((ids) => this.commands.queryAll(ids), () => ({ state: 'gone' }), opts.batchWindowMs ?? 50)
      : undefined;
    if (this.commands.canQueryAll) this.pollMany = (states, o) => this.pollAll(states, o);
    this.form = new OptionsForm(c.form_fields, `spawners.${opts.deps.name}.form_fields`);
    const spaced = spacedFormValue(c.form_fields);
    if (spaced) {
      throw new ConfigError(
        `spawners.${opts.deps.name}.form_fields${spaced}: holds a space; a user option of this back-end is one word in the batch script (only "options" may hold several), so this value could never be used`,
      );
    }
    this.formFields = c.form_fields.map((f) => f.name);
    if (c.hub_connect_url && !/^https?:\/\/[^/\s]+/.test(c.hub_connect_url)) {
      throw new ConfigError(`spawner ${JSON.stringify(opts.deps.name)}: hub_connect_url ${JSON.stringify(c.hub_connect_url)} is not an http(s) URL`);
    }
  }

  async close(): Promise<void> {
    await this.opts.transport.close();
  }

  upgradeState(state: SpawnerState): SpawnerState {
    return upgradeBatchState(state);
  }

  /**
   * Only the fields of `form_fields` may be set (by the form or the REST API
   * alike), each within its declared values; then every value is checked
   * for what a batch script line can hold.
   */
  checkOptions(options: Record<string, unknown>, ctx: OptionsContext): Record<string, unknown> {
    return checkBatchOptions(this.form.check(options, ctx), this.formFields, this.opts.deps.name);
  }

  optionsForm(user: SpawnUser, ctx?: { authState: Record<string, unknown> | null; previous: Record<string, unknown> }): string | undefined {
    return this.form.render({ user, authState: ctx?.authState ?? null, previous: ctx?.previous ?? {} });
  }

  optionsFromForm(posted: Record<string, string | string[]>, ctx?: OptionsContext): Record<string, unknown> {
    return this.form.fromForm(posted, ctx);
  }

  async start(req: SpawnRequest): Promise<StartResult> {
    if (req.resumeState) {
      const resumed = readBatchState(req.resumeState);
      if (!resumed) throw new SpawnError('There is no job to resume: the saved state names none', 'no-job');
      req.progress({ progress: 15, message: `Resuming the wait for job ${resumed.job_id} on ${resumed.where}` });
      return this.watch(req, resumed);
    }
    if (req.signal.aborted) throw new SpawnError('The spawn was cancelled before the job was submitted', 'cancelled');
    const systemUser = this.systemUser(req);
    let vars: Record<string, unknown>;
    let script: string;
    try {
      const env = batchJobEnv(req.env, this.cfg.hub_connect_url);
      vars = batchTemplateVars({
        req: reqValues(this.cfg),
        username: systemUser,
        hubUsername: req.user.name,
        serverName: req.serverName,
        env,
        cmd: this.cfg.cmd,
        userOptions: req.userOptions,
        authState: req.authState ?? null,
        formFields: this.formFields,
      });
      const template = this.cfg.batch_script || this.opts.scheduler.defaultScript;
      checkHubNamesFor(template, vars);
      script = withEnvExports(renderTemplate(template, vars, 'batch_script'), env);
    } catch (err) {
      if (err instanceof HubError && !(err instanceof SpawnError)) throw err;
      const what = err instanceof TemplateError ? err.message : `the job's environment cannot be written into the script: ${(err as Error).message}`;
      throw new SpawnError(`Cannot build the batch script: ${what}; nothing was submitted`, 'bad-template', { cause: err });
    }
    // not cancelled half-way: a job sbatch accepted must be known to be cancelled
    const jobId = await this.commands.submit(script, vars, AbortSignal.timeout(this.cfg.command_timeout * 1000 + 1000));
    const state: BatchState = { v: BATCH_STATE_VERSION, job_id: jobId, system_user: systemUser, where: this.opts.transport.where, log: jobLogPath(String(vars['homedir']), jobId) };
    await req.saveState(state);
    req.log.info({ jobId, systemUser, where: state.where }, 'submitted batch job');
    if (req.signal.aborted) {
      await this.stop(state, { log: req.log }).catch((err: Error) => req.log.warn({ err: err.message, jobId }, 'could not cancel a job submitted as its spawn was given up'));
      throw new SpawnError(`The spawn was cancelled; job ${jobId} was cancelled`, 'cancelled');
    }
    req.progress({ progress: 15, message: `Submitted job ${jobId} on ${state.where} as ${systemUser}` });
    return this.watch(req, state);
  }

  /** The account jobs run as: `system_user_name` rendered, checked as a POSIX name. */
  private systemUser(req: SpawnRequest): string {
    let name: string;
    try {
      name = renderTemplate(this.cfg.system_user_name, { ...req.userOptions, auth_state: req.authState ?? {}, username: req.user.name }, 'system_user_name').trim();
    } catch (err) {
      throw new SpawnError(`Cannot find the system account of ${JSON.stringify(req.user.name)}: ${(err as Error).message}`, 'bad-account-name', { status: 400, cause: err });
    }
    const problem = systemUserProblem(name);
    if (problem) {
      const shown = JSON.stringify(name.slice(0, 80));
      throw new SpawnError(`The system account ${shown} of ${JSON.stringify(req.user.name)} (from system_user_name) is not a valid account name: ${problem}`, 'bad-account-name', { status: 400 });
    }
    return name;
  }

  /** Where the job's log is: saved at submission; for an older state, `req_homedir` rendered for the system user. */
  private logPath(state: BatchState): string {
    return state.log ?? jobLogPath(renderTemplate(this.cfg.req_homedir, { username: state.system_user }, 'req_homedir'), state.job_id);
  }

  /** Waits for the job to run and its server to report a port (fresh or resumed start). */
  private watch(req: SpawnRequest, submitted: BatchState): Promise<StartResult> {
    return watchJobStart(req, submitted, {
      logPath: this.logPath(submitted),
      query: (state, signal) => this.queryJob(state, signal),
      hostOf: (status) => (status.state === 'running' && status.host ? rewriteHost(status.host, this.cfg.state_exechost_exp) : undefined),
      intervalMs: this.cfg.startup_poll_interval * 1000,
    });
  }


  /** One job's status: through the batcher in service-account mode, else its own query. Never rejects unless `signal` aborts. */
  private async queryJob(state: BatchState, signal?: AbortSignal): Promise<JobStatus> {
    if (!this.batcher) return this.commands.query(state.job_id, state.system_user, signal);
    const asked = this.batcher.query(state.job_id).catch((err: Error): JobStatus => ({ state: 'unknown', reason: err.message }));
    const status = await (signal ? untilAborted(asked, signal) : asked);
    return unlisted(status) ? this.confirmGone(state, signal) : status;
  }

  /**
   * A job `batch_query_all_cmd` did not list, asked on its own
   * (`batch_query_cmd` as its user) before it counts as gone: a listing that
   * cannot see every job (the service account under Slurm's
   * `PrivateData=jobs`, a filter in the command, another cluster) must not
   * clear running servers. Costs one query per job that vanished.
   */
  private async confirmGone(state: BatchState, signal?: AbortSignal): Promise<JobStatus> {
    const status = await this.commands.query(state.job_id, state.system_user, signal);
    if (status.state !== 'gone' && status.state !== 'unknown') {
      this.opts.deps.log.warn(
        { jobId: state.job_id, state: status.state },
        'batch_query_all_cmd did not list a job that batch_query_cmd still sees: the listing is incomplete (does the service account see every job?)',
      );
    }
    return status;
  }

  async poll(state: SpawnerState, opts: { log: Logger }): Promise<PollResult> {
    let s: BatchState | undefined;
    try {
      s = readBatchState(state);
    } catch (err) {
      opts.log.warn({ err: (err as Error).message }, 'cannot read the batch state to poll it');
      return { status: 'unknown', reason: (err as Error).message };
    }
    if (!s) return { status: 'stopped' };
    return toPoll(await this.queryJob(s));
  }

  /** {@link pollMany}: one `batch_query_all_cmd` for every state. */
  private async pollAll(states: SpawnerState[], _opts: { log: Logger }): Promise<PollResult[]> {
    const parsed = states.map((state): BatchState | undefined | Error => {
      try {
        return readBatchState(state);
      } catch (err) {
        return err as Error;
      }
    });
    const ids = parsed.filter((p): p is BatchState => p !== undefined && !(p instanceof Error)).map((p) => p.job_id);
    let answers: Map<string, JobStatus> | Error = new Map();
    if (ids.length > 0) answers = await this.commands.queryAll(ids).catch((err: Error) => err);
    const out: PollResult[] = [];
    for (const p of parsed) {
      if (p === undefined) out.push({ status: 'stopped' });
      else if (p instanceof Error) out.push({ status: 'unknown', reason: p.message });
      else if (answers instanceof Error) out.push({ status: 'unknown', reason: `could not run batch_query_all_cmd on ${this.opts.transport.where}: ${answers.message}` });
      else {
        const status = answers.get(p.job_id) ?? { state: 'gone' };
        out.push(toPoll(unlisted(status) ? await this.confirmGone(p) : status));
      }
    }
    return out;
  }

  /**
   * Cancels the job, then asks until the scheduler no longer has it (at
   * most `cancel_wait_timeout`). A job already gone is success. Throws when
   * the cancel could not be run, or the job is still there (or the scheduler
   * could not say) at the end of the wait.
   */
  async stop(state: SpawnerState, opts: { log: Logger }): Promise<void> {
    const s = readBatchState(state);
    if (s) await cancelAndWait(this.commands, s, this.cfg.cancel_wait_timeout, opts.log);
  }

  /** The end of the job's log, read with `exec_prefix tail` as the system user; undefined when that fails. */
  async logTail(state: SpawnerState, opts: LogTailOptions): Promise<string | undefined> {
    try {
      const s = readBatchState(state);
      if (!s) return undefined;
      const path = this.logPath(s);
      const line = this.commands.line('tail -c {bytes} -- {path}', 'log tail', { username: s.system_user, bytes: opts.maxBytes, path });
      const r = await this.opts.transport.run(line, { timeoutMs: 5000 });
      if (r.code !== 0) {
        // e.g. a sudoers rule that allows only the scheduler's commands: say so, or the page just lacks the log
        opts.log.info({ path, code: r.code, said: describeOutput(r.stderr.trim() || r.stdout.trim()) }, 'could not read the end of the job log (exec_prefix tail)');
        return undefined;
      }
      const text = r.stdout.length >= opts.maxBytes ? r.stdout.slice(r.stdout.indexOf('\n') + 1) : r.stdout;
      return text.replace(/\n+$/, '').split('\n').slice(-opts.lines).join('\n') || undefined;
    } catch (err) {
      opts.log.debug({ err: (err as Error).message }, 'no job log to show');
      return undefined;
    }
  }
}

/** The `req_*` options by short name, as the template variables take them. */
function reqValues(c: SlurmSpawnerConfig): Partial<Record<ReqName, string | number>> {
  const out: Partial<Record<ReqName, string | number>> = {};
  for (const name of REQ_NAMES) out[name] = c[`req_${name}`];
  return out;
}

/** Where a form field's choice or default holds white space (`[i].choices[j].value`), except for `options`; undefined when none does. */
function spacedFormValue(fields: SlurmSpawnerConfig['form_fields']): string | undefined {
  for (const [i, f] of fields.entries()) {
    if (f.name === MULTI_WORD_OPTION) continue;
    if (typeof f.default === 'string' && /\s/.test(f.default)) return `[${i}].default`;
    const j = (f.choices ?? []).findIndex((choice) => /\s/.test(choice.value));
    if (j >= 0) return `[${i}].choices[${j}].value`;
  }
  return undefined;
}

/** A `gone` without a final state: what a query-all answers for a job it did not list. */
function unlisted(status: JobStatus): boolean {
  return status.state === 'gone' && status.final === undefined;
}

/** `work`, or a rejection with the signal's reason as soon as `signal` aborts (the work goes on, its answer unused). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
