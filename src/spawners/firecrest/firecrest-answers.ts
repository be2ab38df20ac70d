/**
 * Checks of FirecREST v2's successful answers (decoded JSON, hostile until
 * checked) against the shapes of the official OpenAPI 2.5.6, keeping the
 * fields the spawner reads. Pure: each parser returns the checked value or
 * throws {@link BadAnswer} with a phrase naming the problem.
 */
import { jobIdProblem } from '../batch/batch-state.js';
import type { FirecrestJob, FirecrestJobMetadata, FirecrestPartition, FirecrestUserInfo } from './firecrest-api.js';
import { hasControl, outsideText } from '../../lib/outside-text.js';

/** An answer that does not have the shape the spec gives it; `message` completes "FirecREST ... gave an answer ...: ". */
export class BadAnswer extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadAnswer';
  }
}

/** Longest identifier-like string kept (names, states, partitions, users). */
const MAX_NAME = 256;
/** Longest path or host list kept. */
const MAX_PATH = 4096;
/** Most items of a list (groups, accounts, partitions, jobs). */
const MAX_ITEMS = 10000;

type Json = Record<string, unknown>;

function object(v: unknown, where: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadAnswer(`${where} is not a JSON object`);
  return v as Json;
}

function list(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new BadAnswer(`${where} is not a list`);
  if (v.length > MAX_ITEMS) throw new BadAnswer(`${where} has more than ${MAX_ITEMS} items`);
  return v;
}

/** A string that must be an identifier or a path: no control characters, at most `max` characters. */
function strict(v: unknown, where: string, max = MAX_NAME): string {
  if (typeof v !== 'string') throw new BadAnswer(`${where} is not a string`);
  if (v.length > max) throw new BadAnswer(`${where} is longer than ${max} characters`);
  if (hasControl(v)) throw new BadAnswer(`${where} holds control characters`);
  return v;
}

function optionalStrict(v: unknown, where: string, max = MAX_NAME): string | null | undefined {
  return v === undefined || v === null ? v : strict(v, where, max);
}

/** Free text (a reason, a job name): control characters removed and clipped. */
function freeText(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new BadAnswer(`${where} is not a string`);
  return outsideText(v);
}

function jobId(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new BadAnswer(`${where} is not a string`);
  const problem = jobIdProblem(v);
  if (problem) throw new BadAnswer(`${where}: ${problem}`);
  return v;
}

/** `PostJobSubmissionResponse` (`{"jobId": "20"}`) → the job id; a missing or null one is refused too. */
export function parseSubmitted(body: unknown): string {
  return jobId(object(body, 'the answer').jobId, 'its jobId');
}

function parseJob(v: unknown, where: string): FirecrestJob {
  const j = object(v, where);
  const status = object(j.status, `${where}: status`);
  const exitCode = status.exitCode;
  if (exitCode !== undefined && exitCode !== null && !Number.isInteger(exitCode)) throw new BadAnswer(`${where}: status.exitCode is not an integer`);
  const stateReason = status.stateReason === undefined || status.stateReason === null ? status.stateReason : freeText(status.stateReason, `${where}: status.stateReason`);
  return {
    jobId: jobId(j.jobId, `${where}: jobId`),
    name: freeText(j.name, `${where}: name`),
    status: {
      state: strict(status.state, `${where}: status.state`, 64),
      ...(stateReason !== undefined ? { stateReason } : {}),
      ...(exitCode !== undefined ? { exitCode: exitCode as number | null } : {}),
    },
    nodes: strict(j.nodes, `${where}: nodes`, MAX_PATH),
    partition: strict(j.partition, `${where}: partition`),
    user: j.user === null ? null : strict(j.user, `${where}: user`),
    workingDirectory: strict(j.workingDirectory, `${where}: workingDirectory`, MAX_PATH),
  };
}

/**
 * `GetJobResponse` (`{"jobs": [JobModel]}`) of `GET .../jobs/{id}` → the job
 * with id `id`, or undefined when the list is empty or null. A list holding
 * only other jobs is refused (guessing would let a wrong answer stop or keep
 * a server).
 */
export function parseJobAnswer(body: unknown, id: string): FirecrestJob | undefined {
  const jobs = object(body, 'the answer').jobs;
  if (jobs === null || jobs === undefined) return undefined;
  const all = list(jobs, 'its jobs').map((j, i) => parseJob(j, `job ${i + 1} of its list`));
  if (all.length === 0) return undefined;
  const mine = all.find((j) => j.jobId === id);
  if (!mine) throw new BadAnswer(`its list holds other jobs (${all.slice(0, 3).map((j) => j.jobId).join(', ')}), not job ${id}`);
  return mine;
}

/** `GetJobMetadataResponse` → the metadata of job `id`, or undefined when the list is empty or null. */
export function parseMetadataAnswer(body: unknown, id: string): FirecrestJobMetadata | undefined {
  const jobs = object(body, 'the answer').jobs;
  if (jobs === null || jobs === undefined) return undefined;
  const all = list(jobs, 'its jobs').map((v, i): FirecrestJobMetadata => {
    const where = `job ${i + 1} of its list`;
    const m = object(v, where);
    const out: FirecrestJobMetadata = { jobId: jobId(m.jobId, `${where}: jobId`) };
    const stdout = optionalStrict(m.standardOutput, `${where}: standardOutput`, MAX_PATH);
    const stderr = optionalStrict(m.standardError, `${where}: standardError`, MAX_PATH);
    if (stdout !== undefined) out.standardOutput = stdout;
    if (stderr !== undefined) out.standardError = stderr;
    if (typeof m.script === 'string') out.script = m.script;
    return out;
  });
  if (all.length === 0) return undefined;
  const mine = all.find((m) => m.jobId === id);
  if (!mine) throw new BadAnswer(`its list holds other jobs, not job ${id}`);
  return mine;
}

function posixIdentified(v: unknown, where: string): { id: string; name: string } {
  const o = object(v, where);
  return { id: strict(o.id, `${where}.id`), name: strict(o.name, `${where}.name`) };
}

/** `UserInfoResponse` → the user, primary group, groups and (when given) Slurm accounts. */
export function parseUserInfo(body: unknown): FirecrestUserInfo {
  const o = object(body, 'the answer');
  const info: FirecrestUserInfo = {
    user: posixIdentified(o.user, 'user'),
    group: posixIdentified(o.group, 'group'),
    groups: list(o.groups, 'groups').map((g, i) => posixIdentified(g, `groups[${i}]`)),
  };
  if (o.accounts === null) info.accounts = null;
  else if (o.accounts !== undefined) {
    info.accounts = list(o.accounts, 'accounts').map((a, i) => {
      const acc = object(a, `accounts[${i}]`);
      if (acc.default !== undefined && typeof acc.default !== 'boolean') throw new BadAnswer(`accounts[${i}].default is not true or false`);
      return { name: strict(acc.name, `accounts[${i}].name`), ...(acc.default === true ? { default: true } : {}) };
    });
  }
  return info;
}

/** `GetPartitionsResponse` → the partitions' names (and state when FirecREST gives one). */
export function parsePartitions(body: unknown): FirecrestPartition[] {
  return list(object(body, 'the answer').partitions, 'its partitions').map((p, i) => {
    const o = object(p, `partitions[${i}]`);
    const state = o.state;
    return { name: strict(o.name, `partitions[${i}].name`), ...(typeof state === 'string' ? { state: outsideText(state, 64) } : {}) };
  });
}
