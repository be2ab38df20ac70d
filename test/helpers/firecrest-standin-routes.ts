/**
 * The routes of the FirecREST stand-in (firecrest-standin.ts), after the
 * token is checked: submit, job, cancel, metadata, userinfo, partitions of
 * one system. Each returns the answer; the server sends and records it.
 */
import type { IncomingMessage } from 'node:http';
import { specProblem } from './firecrest-standin-spec.js';
import { jobMetadata, sbatchAs, scancelAs, sinfoPartitions, squeueJob, unixIdentity, type StandinJob } from './firecrest-standin-slurm.js';
import type { StandinSubmission, StandinSystem } from './firecrest-standin.js';

/** An answer: status, JSON body (none for `undefined`), extra headers. */
export interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Who called: the Unix user, and whether the token's subject is a service account. */
export interface Caller {
  user: string;
  service: boolean;
}

/** What the routes share with the server. */
export interface RouteContext {
  systems: Record<string, StandinSystem>;
  submitted: StandinSubmission[];
  clientMistakes: string[];
}

const MAX_BODY = 1024 * 1024;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const JOB_ID = /^\d{1,12}$/;

const error = (status: number, message: string): Answer => ({ status, body: { errorType: 'error', message } });
const validation = (message: string): Answer => ({ status: 422, body: { errorType: 'validation', message } });

async function readJson(req: IncomingMessage): Promise<{ value: unknown } | { problem: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) return { problem: 'body: too large' };
    chunks.push(c as Buffer);
  }
  try {
    return { value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch {
    return { problem: 'body: JSON decode error' };
  }
}

/** `env` as an object (the spec also allows an array of `NAME=value`); a problem sentence when it is not usable. */
function envOf(raw: unknown): Record<string, string> | string {
  const out: Record<string, string> = {};
  const pairs: [string, string][] = Array.isArray(raw)
    ? (raw as string[]).map((s) => {
        const eq = s.indexOf('=');
        return eq < 0 ? [s, ''] : [s.slice(0, eq), s.slice(eq + 1)];
      })
    : Object.entries((raw ?? {}) as Record<string, string>);
  for (const [k, v] of pairs) {
    if (!ENV_NAME.test(k)) return `Environment variable name '${k.slice(0, 64)}' is not valid`;
    if (/['"]/.test(v)) return `Environment variable ${k} holds a quote, which is not allowed`;
    out[k] = v;
  }
  return out;
}

async function submit(ctx: RouteContext, system: string, sys: StandinSystem, req: IncomingMessage, caller: Caller): Promise<Answer> {
  const mistake = (m: string) => ctx.clientMistakes.push(`POST /compute/${system}/jobs: ${m}`);
  const body = await readJson(req);
  if ('problem' in body) {
    mistake(body.problem);
    return validation(body.problem);
  }
  const problem = specProblem('PostJobSubmitRequest', body.value);
  if (problem !== undefined) {
    mistake(problem);
    return validation(problem);
  }
  const job = (body.value as { job?: Record<string, unknown> } | null)?.job;
  if (typeof job !== 'object' || job === null || typeof job['workingDirectory'] !== 'string') {
    // only reached without the spec file: its one required field, checked by hand
    mistake('body.job.workingDirectory: Field required');
    return validation('body.job.workingDirectory: Field required');
  }
  if (typeof job['script'] !== 'string') return error(400, 'The stand-in runs inline scripts only (give "script")');
  const env = envOf(job['env']);
  if (typeof env === 'string') {
    mistake(env);
    return error(400, env);
  }
  const stored: StandinSubmission['job'] = { ...job };
  delete stored['env'];
  delete stored['script'];
  // readable by a test that asks, never printed with the submission (they may carry secrets)
  Object.defineProperty(stored, 'env', { value: env, enumerable: false });
  Object.defineProperty(stored, 'script', { value: job['script'], enumerable: false });
  const record: StandinSubmission = { system, user: caller.user, job: stored };
  ctx.submitted.push(record);

  const str = (k: string) => (typeof job[k] === 'string' ? (job[k] as string) : undefined);
  let account = str('account');
  if (sys.accounts !== undefined) {
    const mine = (Object.hasOwn(sys.accounts, caller.user) ? sys.accounts[caller.user] : undefined) ?? [];
    account ??= mine.find((a) => a.default)?.name;
    if (account !== undefined && !mine.some((a) => a.name === account)) {
      return error(400, `Job submission failed: Invalid account or account/partition combination specified (${caller.user} has no account ${account})`);
    }
  }
  let partition = str('partition');
  if (partition !== undefined) {
    const known = sys.partitions ?? (await sinfoPartitions()).map((p) => p.name);
    if (!known.includes(partition)) return error(400, `Job submission failed: invalid partition specified: ${partition}`);
    if (sys.partitions !== undefined && !(await sinfoPartitions()).some((p) => p.name === partition)) partition = undefined;
  }
  const r = await sbatchAs(caller.user, {
    script: job['script'],
    workingDirectory: job['workingDirectory'] as string,
    name: str('name'),
    account,
    partition,
    reservation: str('reservation'),
    constraints: str('constraints'),
    standardInput: str('standardInput'),
    standardOutput: str('standardOutput'),
    standardError: str('standardError'),
    env,
  });
  if ('error' in r) return error(400, `Job submission failed: ${r.error}`);
  record.jobId = r.jobId;
  return { status: 201, body: { jobId: r.jobId } };
}

/** The job if the caller may see it (own job, or any job for a service account), else a 404 answer. */
async function visibleJob(jobId: string, system: string, caller: Caller): Promise<StandinJob | Answer> {
  const notFound = error(404, `Job ${jobId} not found`);
  if (!JOB_ID.test(jobId)) return notFound;
  const job = await squeueJob(jobId, system);
  if (job === null || (job.owner !== caller.user && !caller.service)) return notFound;
  return job;
}

/** Answers one request of an authenticated caller; `op` names the spec operation for the response check. */
export async function route(ctx: RouteContext, req: IncomingMessage, method: string, path: string, caller: Caller, op: (o: string) => void): Promise<Answer> {
  const notFound = error(404, 'Not Found');
  let parts: string[];
  try {
    parts = path.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return notFound;
  }
  const [area, system = '', ...rest] = parts;
  const sys = Object.hasOwn(ctx.systems, system) ? ctx.systems[system] : undefined;
  if (area === 'compute' && rest[0] === 'jobs') {
    if (rest.length === 1 && method === 'POST') op('POST /compute/{system_name}/jobs');
    else if (rest.length === 2 && (method === 'GET' || method === 'DELETE')) op(`${method} /compute/{system_name}/jobs/{job_id}`);
    else if (rest.length === 3 && rest[2] === 'metadata' && method === 'GET') op('GET /compute/{system_name}/jobs/{job_id}/metadata');
    else return notFound;
  } else if (area === 'status' && rest.length === 1 && (rest[0] === 'userinfo' || rest[0] === 'partitions') && method === 'GET') {
    op(`GET /status/{system_name}/${rest[0]}`);
  } else {
    return notFound;
  }
  if (sys === undefined) return error(404, `System '${system.slice(0, 64)}' does not exist`);

  if (area === 'compute' && rest.length === 1) return submit(ctx, system, sys, req, caller);
  if (area === 'compute') {
    const job = await visibleJob(rest[1] as string, system, caller);
    if ('status' in job) return job;
    if (rest.length === 3) {
      const meta = await jobMetadata(rest[1] as string);
      if (meta === null) return error(404, `Job ${rest[1]} not found`);
      return { status: 200, body: { jobs: [{ jobId: rest[1], ...meta }] } };
    }
    if (method === 'GET') return { status: 200, body: { jobs: [job.model] } };
    if (job.owner !== caller.user) return error(403, `User ${caller.user} may not cancel job ${rest[1]}`);
    const failed = await scancelAs(caller.user, rest[1] as string);
    return failed === undefined ? { status: 204 } : error(400, `scancel failed: ${failed}`);
  }
  if (rest[0] === 'userinfo') {
    const id = await unixIdentity(caller.user);
    if (id === null) return error(404, `User ${caller.user} does not exist on ${system}`);
    const accounts = ((sys.accounts !== undefined && Object.hasOwn(sys.accounts, caller.user) ? sys.accounts[caller.user] : undefined) ?? []).map((a) => ({ name: a.name, default: a.default === true }));
    return { status: 200, body: { ...id, accounts } };
  }
  const partitions = sys.partitions !== undefined ? sys.partitions.map((name) => ({ name, partition: 'UP', cpus: null, totalNodes: null })) : await sinfoPartitions();
  return { status: 200, body: { partitions } };
}
