/**
 * The batch spawner's four scheduler commands (submit, query, cancel, query
 * all) as command lines run through a {@link Transport}: templates rendered
 * with every value shell-quoted, `exec_prefix` in front (except for the
 * query of all jobs), the job id also in `SLURMSPAWNER_JOB_ID`, each bounded
 * by a timeout.
 */
import { SpawnError } from '../../lib/errors.js';
import { describeOutput } from './command-output.js';
import type { JobStatus } from './job-status.js';
import type { Scheduler } from './scheduler.js';
import { renderCommand, TemplateError } from './script-template.js';
import { TransportError, type CommandResult, type Transport } from './transport.js';

/** The command templates and limits of one back-end. */
export interface JobCommandsConfig {
  /** `exec_prefix`, `{username}` = the system user. */
  execPrefix: string;
  submitCmd: string;
  queryCmd: string;
  cancelCmd: string;
  /** Empty: no query of all jobs. */
  queryAllCmd: string;
  timeoutMs: number;
}

/** The variable that carries the job id to query and cancel commands (BriCS's wrappers read it). */
export const JOB_ID_VAR = 'SLURMSPAWNER_JOB_ID';

/** Runs one back-end's scheduler commands. */
export class JobCommands {
  constructor(
    readonly transport: Transport,
    private readonly scheduler: Scheduler,
    private readonly cfg: JobCommandsConfig,
  ) {}

  /** The command line `exec_prefix + template`, both rendered with quoted values. */
  line(template: string, what: string, vars: Record<string, unknown>): string {
    const prefix = this.cfg.execPrefix.trim() ? renderCommand(this.cfg.execPrefix, { username: vars['username'] }, 'exec_prefix') : '';
    const cmd = renderCommand(template, vars, what);
    return prefix ? `${prefix} ${cmd}` : cmd;
  }

  /**
   * Submits `script` (on stdin) as `systemUser`; the job id. Throws
   * SpawnError quoting the scheduler when it refuses, or when its output
   * holds no job id; a TemplateError or TransportError becomes a SpawnError.
   */
  async submit(script: string, vars: Record<string, unknown>, signal: AbortSignal): Promise<string> {
    let result: CommandResult;
    try {
      const line = this.line(this.cfg.submitCmd, 'batch_submit_cmd', scalars(vars));
      result = await this.transport.run(line, { stdin: script, timeoutMs: this.cfg.timeoutMs, signal });
    } catch (err) {
      if (err instanceof TemplateError) throw new SpawnError(`Cannot submit the job: ${err.message}`, 'bad-template', { cause: err });
      if (err instanceof TransportError && err.failure === 'aborted') throw err;
      throw new SpawnError(`Cannot submit the job on ${this.transport.where}: ${(err as Error).message}`, 'submit-failed', { cause: err });
    }
    const said = describeOutput(result.stderr.trim() || result.stdout.trim());
    if (result.truncated) {
      throw new SpawnError(
        `The submit command printed more than the hub keeps of a command's output, so its job id cannot be read safely; check for a job left behind on ${this.transport.where}: ${said}`,
        'submit-refused',
      );
    }
    if (result.code !== 0) {
      throw new SpawnError(`The scheduler refused the job (exit status ${result.code ?? 'killed'}): ${said || 'it printed nothing'}`, 'submit-refused');
    }
    let id: string | undefined;
    try {
      id = this.scheduler.parseJobId(result.stdout);
    } catch {
      id = undefined;
    }
    if (!id) throw new SpawnError(`The submit command printed no job id: ${said || 'it printed nothing'}`, 'submit-refused');
    return id;
  }

  /** The status of one job (its `batch_query_cmd` as `systemUser`); `unknown` when the command could not be run. Rejects only when aborted. */
  async query(jobId: string, systemUser: string, signal?: AbortSignal): Promise<JobStatus> {
    try {
      const result = await this.runFor(this.cfg.queryCmd, 'batch_query_cmd', jobId, systemUser, signal);
      return this.scheduler.classify(result);
    } catch (err) {
      if (err instanceof TransportError && err.failure === 'aborted') throw err;
      return { state: 'unknown', reason: `could not run the query on ${this.transport.where}: ${(err as Error).message}` };
    }
  }

  /** Whether `batch_query_all_cmd` is set (service-account mode). */
  get canQueryAll(): boolean {
    return this.cfg.queryAllCmd.trim() !== '';
  }

  /** The status of every job in `jobIds` from one `batch_query_all_cmd` (no `exec_prefix`). Throws when it could not be run. */
  async queryAll(jobIds: string[]): Promise<Map<string, JobStatus>> {
    const line = renderCommand(this.cfg.queryAllCmd, {}, 'batch_query_all_cmd');
    const result = await this.transport.run(line, { timeoutMs: this.cfg.timeoutMs });
    return this.scheduler.classifyAll(result, jobIds);
  }

  /** Runs `batch_cancel_cmd` for the job; what it printed. Throws TransportError when it could not be run. */
  cancel(jobId: string, systemUser: string): Promise<CommandResult> {
    return this.runFor(this.cfg.cancelCmd, 'batch_cancel_cmd', jobId, systemUser);
  }

  private runFor(template: string, what: string, jobId: string, systemUser: string, signal?: AbortSignal): Promise<CommandResult> {
    const line = this.line(template, what, { job_id: jobId, username: systemUser });
    return this.transport.run(line, { env: { [JOB_ID_VAR]: jobId }, timeoutMs: this.cfg.timeoutMs, ...(signal ? { signal } : {}) });
  }
}

/** The variables a command template may use: strings and numbers only (a command template refuses objects). */
function scalars(vars: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(vars)) if (typeof v === 'string' || typeof v === 'number') out[k] = v;
  return out;
}
