/**
 * The one implementation of the Scheduler interface: it reads a scheduler's
 * output by the regular expressions of its {@link SchedulerSpec}, so adding
 * a scheduler means writing data (see slurm.ts), not code.
 */
import { describeOutput } from './command-output.js';
import { plausibleHost } from './exechost.js';
import type { JobStatus } from './job-status.js';
import type { Scheduler, SchedulerSpec } from './scheduler.js';
import type { CommandResult } from './transport.js';

/** How much of a pending reason a status keeps. */
const REASON_MAX = 200;

/** A Scheduler reading output as `spec` describes; see {@link classifyQuery} for the classification rules. */
export function schedulerFromSpec(spec: SchedulerSpec): Scheduler {
  return {
    name: spec.name,
    defaultScript: spec.defaultScript,
    submitCmd: spec.submitCmd,
    queryCmd: spec.queryCmd,
    cancelCmd: spec.cancelCmd,
    queryAllExample: spec.queryAllExample,
    parseJobId: (stdout) => parseJobId(spec, stdout),
    classify: (result) => classifyQuery(spec, result),
    classifyAll: (result, jobIds) => classifyQueryAll(spec, result, jobIds),
  };
}

/**
 * The job id in a submit command's output: the last non-blank line, cut at
 * `spec.jobIdSuffix` (Slurm's `;cluster`), which must match `spec.jobId`.
 *
 * @throws Error quoting the first line matching `spec.submitError` (e.g.
 *   `sbatch: error: Batch job submission failed: …`), or saying the output
 *   was empty, or quoting the (clipped, escaped) output that holds no job id.
 */
export function parseJobId(spec: SchedulerSpec, stdout: string): string {
  const lines = stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const error = lines.find((line) => spec.submitError.test(line));
  if (error !== undefined) throw new Error(`${spec.name} refused the job: ${describeOutput(error)}`);
  const last = lines.at(-1);
  if (last === undefined) throw new Error('the submit command printed nothing where a job id was expected');
  const id = (spec.jobIdSuffix === '' ? last : last.split(spec.jobIdSuffix)[0]!).trim();
  if (!spec.jobId.test(id)) {
    throw new Error(`the submit command printed "${describeOutput(stdout)}" where a job id was expected`);
  }
  return id;
}

/**
 * One job's status from its query's output, by these rules, in order
 * ("output" = stdout and stderr together):
 * 0. the transport cut the output at its size limit (`truncated`) → `unknown`;
 * 1. output matches `spec.unreachable` → `unknown` (the scheduler could not be asked);
 * 2. output matches `spec.notFound` → `gone` (the scheduler does not know the job);
 * 3. killed by a signal, or any other non-zero exit status → `unknown`, quoting stderr;
 * 4. empty stdout → `gone` if `spec.emptyMeansGone`, else `unknown`;
 * 5. stdout not matching `spec.queryOutput` (e.g. two lines) → `unknown`;
 * 6. the state word: pending → `pending` (with the reason, if any and not
 *    `spec.noReason`), running → `running` (with the host if it is a
 *    plausible one), final → `gone` with `final`, anything else → `unknown`.
 * On doubt the answer is `unknown`, never `gone`.
 */
export function classifyQuery(spec: SchedulerSpec, result: CommandResult): JobStatus {
  if (result.truncated) return truncatedStatus();
  const unreachable = unreachableStatus(spec, result);
  if (unreachable) return unreachable;
  if (spec.notFound.test(`${result.stdout}\n${result.stderr}`)) return { state: 'gone' };
  const failed = exitStatusFailure(result);
  if (failed) return failed;
  const out = result.stdout.trim();
  if (out === '') {
    return spec.emptyMeansGone ? { state: 'gone' } : { state: 'unknown', reason: 'the query printed nothing' };
  }
  const m = spec.queryOutput.exec(out);
  if (!m?.groups?.['state']) {
    return { state: 'unknown', reason: `the query printed "${describeOutput(out)}", which is not a job state` };
  }
  return statusOf(spec, m.groups);
}

/**
 * The status of each of `jobIds` from a query-all output. If the scheduler
 * could not be asked or the command failed (rules 1 and 3 of
 * {@link classifyQuery}), every job is `unknown`. When the transport cut the
 * output at its size limit (a big site's listing), the complete lines are
 * read and the cut last line is dropped. Then each job listed
 * on a line matching `spec.queryAllLine` is classified by its state word
 * (rule 6; the first line wins when an id is listed twice); a job not listed
 * is `gone` (without `final`: the batch spawner asks about it on its own
 * before believing it), except when some lines could not be read, then it
 * is `unknown`.
 */
export function classifyQueryAll(spec: SchedulerSpec, result: CommandResult, jobIds: string[]): Map<string, JobStatus> {
  const statuses = new Map<string, JobStatus>();
  const failed = unreachableStatus(spec, result) ?? exitStatusFailure(result);
  if (failed) {
    for (const id of jobIds) statuses.set(id, failed);
    return statuses;
  }
  const listed = new Map<string, Record<string, string | undefined>>();
  let unread = 0;
  let firstUnread = '';
  const stdout = result.truncated ? result.stdout.slice(0, result.stdout.lastIndexOf('\n') + 1) : result.stdout;
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = spec.queryAllLine.exec(line);
    if (!m?.groups?.['id'] || !m.groups['state']) {
      if (unread++ === 0) firstUnread = line;
      continue;
    }
    if (!listed.has(m.groups['id'])) listed.set(m.groups['id'], m.groups);
  }
  for (const id of jobIds) {
    const groups = listed.get(id);
    if (groups) statuses.set(id, statusOf(spec, groups));
    else if (unread > 0) {
      statuses.set(id, {
        state: 'unknown',
        reason: `the job is not listed, and ${unread} line(s) of the query could not be read, e.g. "${describeOutput(firstUnread, 100)}"`,
      });
    } else statuses.set(id, { state: 'gone' });
  }
  return statuses;
}

/** Rule 0: the `unknown` status of an output the transport cut short. */
function truncatedStatus(): JobStatus {
  return { state: 'unknown', reason: 'the query printed more than the hub keeps of a command\'s output, so its answer is incomplete' };
}

/** Rule 1: the `unknown` status of a query that could not reach the scheduler, or undefined. */
function unreachableStatus(spec: SchedulerSpec, result: CommandResult): JobStatus | undefined {
  const output = `${result.stdout}\n${result.stderr}`;
  const line = output.split('\n').find((l) => spec.unreachable.test(l));
  return line === undefined ? undefined : { state: 'unknown', reason: `${spec.name} could not be asked: ${describeOutput(line)}` };
}

/** Rule 3: the `unknown` status of a query that was killed or exited non-zero, or undefined. */
function exitStatusFailure(result: CommandResult): JobStatus | undefined {
  if (result.code === 0) return undefined;
  const said = describeOutput(result.stderr) || describeOutput(result.stdout) || 'it printed nothing';
  const how = result.code === null ? 'was killed by a signal' : `exited with status ${result.code}`;
  return { state: 'unknown', reason: `the query ${how}: ${said}` };
}

/** Rule 6. */
function statusOf(spec: SchedulerSpec, groups: Record<string, string | undefined>): JobStatus {
  const state = groups['state'] ?? '';
  if (spec.pendingStates.test(state)) {
    const reason = reasonOf(spec, groups['reason']);
    return reason === undefined ? { state: 'pending' } : { state: 'pending', reason };
  }
  if (spec.runningStates.test(state)) {
    const host = groups['host'];
    return host !== undefined && !spec.noHost.test(host) && plausibleHost(host) ? { state: 'running', host } : { state: 'running' };
  }
  if (spec.finalStates.test(state)) return { state: 'gone', final: state };
  return {
    state: 'unknown',
    reason: `${spec.name} reports the state "${describeOutput(state, 40)}", which is not known as pending, running or ended`,
  };
}

/** The reason without surrounding parentheses, clipped and escaped; undefined when empty or `spec.noReason`. */
function reasonOf(spec: SchedulerSpec, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let reason = raw.trim();
  if (reason.startsWith('(') && reason.endsWith(')')) reason = reason.slice(1, -1).trim();
  if (reason === '' || spec.noReason.test(reason)) return undefined;
  return describeOutput(reason, REASON_MAX);
}
