/**
 * What the batch spawner needs to know about one batch scheduler (Slurm;
 * later Torque, PBS, LSF): its default script, its commands, and how to read
 * their output. Types only; a scheduler is written as data
 * ({@link SchedulerSpec}, e.g. slurm.ts) and turned into a {@link Scheduler}
 * by scheduler-from-spec.ts.
 */
import type { JobStatus } from './job-status.js';
import type { CommandResult } from './transport.js';

/** One batch scheduler: defaults for its config options and pure parsers of its output. */
export interface Scheduler {
  /** e.g. `slurm`, for messages. */
  readonly name: string;
  /** The default `batch_script`: a Jinja template (see template-vars.ts for its variables). */
  readonly defaultScript: string;
  /** The default `batch_submit_cmd` (script on standard input). */
  readonly submitCmd: string;
  /** The default `batch_query_cmd` (`{job_id}` is the job). */
  readonly queryCmd: string;
  /** The default `batch_cancel_cmd` (`{job_id}` is the job). */
  readonly cancelCmd: string;
  /** A `batch_query_all_cmd` whose output {@link Scheduler.classifyAll} reads (not a default: that option is empty unless set). */
  readonly queryAllExample: string;
  /**
   * The job id in the submit command's standard output.
   * @throws Error with a message quoting the (clipped, escaped) output when
   *   it holds no job id, or reports an error.
   */
  parseJobId(stdout: string): string;
  /** One job's status from what `batch_query_cmd` printed and its exit status. Never throws. */
  classify(result: CommandResult): JobStatus;
  /**
   * The status of each of `jobIds` from what `batch_query_all_cmd` printed
   * (one line per job: `<id> <state> <host> <reason…>`). Every id asked for
   * is in the map. Never throws.
   */
  classifyAll(result: CommandResult, jobIds: string[]): Map<string, JobStatus>;
}

/**
 * A scheduler written as data. Regular expressions are matched against the
 * command's output as described on each field.
 */
export interface SchedulerSpec {
  name: string;
  defaultScript: string;
  submitCmd: string;
  queryCmd: string;
  cancelCmd: string;
  queryAllExample: string;
  /**
   * Matched against the query's whole standard output (trimmed). Named
   * groups: `state` (required), `host` and `reason` (optional). No match
   * means the output is not understood (`unknown`).
   */
  queryOutput: RegExp;
  /** Matched against each non-blank line of the query-all output: groups `id`, `state`, and optionally `host` and `reason`. */
  queryAllLine: RegExp;
  /** State words of a queued job (matched against the whole `state` group). */
  pendingStates: RegExp;
  /** State words of a started job. */
  runningStates: RegExp;
  /** State words of a job that has ended for good (it is `gone`, with `final` = the word). */
  finalStates: RegExp;
  /** Host values meaning "no host yet" (besides what fails the plausible-host check), e.g. Slurm's `n/a`. */
  noHost: RegExp;
  /** Reason values meaning "no reason", e.g. Slurm's `None`. */
  noReason: RegExp;
  /** Whether an empty query output with exit status 0 means the job is gone (Slurm's `squeue -j` hides ended jobs). */
  emptyMeansGone: boolean;
  /** In stdout or stderr, whatever the exit status: the scheduler does not know the job (`gone`). */
  notFound: RegExp;
  /** In stdout or stderr, whatever the exit status: the scheduler could not be asked (`unknown`); checked before `notFound`. */
  unreachable: RegExp;
  /** A job id as the submit command prints it, after `jobIdSuffix` and what follows it is cut off. */
  jobId: RegExp;
  /** Cuts a suffix off the job id line (Slurm: `;cluster`). */
  jobIdSuffix: string;
  /** A line of the submit output that reports a failure (its text is quoted in the error). */
  submitError: RegExp;
}
