/**
 * The FirecREST v2 client of the hub: the calls the FirecREST spawner makes
 * for one system, over HTTP with the caller's bearer token. The shared rules
 * (URL, time limit, retries, no redirects, size limit, error sentences) live
 * in firecrest-http.ts; the checks of the answers in firecrest-answers.ts.
 */
import type { Logger } from 'pino';
import { jobIdProblem } from '../batch/batch-state.js';
import { FirecrestError, type FirecrestApi, type FirecrestJob, type FirecrestJobDescription, type FirecrestJobMetadata, type FirecrestPartition, type FirecrestUserInfo } from './firecrest-api.js';
import { BadAnswer, parseJobAnswer, parseMetadataAnswer, parsePartitions, parseSubmitted, parseUserInfo } from './firecrest-answers.js';
import { FirecrestHttp, type FirecrestCall } from './firecrest-http.js';
import { outsideText } from '../../lib/outside-text.js';

/** What a {@link FirecrestClient} needs: the system's API root and name, and how to call it. */
export interface FirecrestClientOptions {
  /** `firecrest_url`, the API root (e.g. `https://api.cscs.ch/hpc/firecrest/v2`); a trailing slash is dropped. */
  baseUrl: string;
  /** `system`, the cluster's name in FirecREST's paths. */
  system: string;
  fetch: typeof fetch;
  /** The limit of one attempt of one call, in ms (`request_timeout` × 1000). */
  timeoutMs: number;
  /** Retries of GET and DELETE after a network error, timeout or 5xx (`request_retries`). */
  retries: number;
  log: Logger;
}

/**
 * {@link FirecrestApi} over HTTP for one system. Every method throws
 * {@link FirecrestError} with a sentence for the user (never a token or a
 * request body); answers that do not have the spec's shape are refused as
 * status 502.
 */
export class FirecrestClient implements FirecrestApi {
  readonly system: string;
  private readonly http: FirecrestHttp;

  /** @throws Error when `baseUrl` is not an http(s) URL or `system` cannot be a path segment (a configuration mistake). */
  constructor(opts: FirecrestClientOptions) {
    this.system = opts.system;
    this.http = new FirecrestHttp({ ...opts, log: opts.log.child({ firecrest: opts.system }) });
  }

  async submit(token: string, job: FirecrestJobDescription, signal?: AbortSignal): Promise<string> {
    const call = { method: 'POST', segments: ['compute', this.system, 'jobs'], token, body: { job: submittedJob(job) }, refused: 'the job', doing: 'submitting the job', ...(signal ? { signal } : {}) } satisfies FirecrestCall;
    const answer = await this.http.call(call);
    return this.parse(call, () => parseSubmitted(answer?.body));
  }

  async job(token: string, jobId: string, signal?: AbortSignal): Promise<FirecrestJob | undefined> {
    const call = { method: 'GET', segments: ['compute', this.system, 'jobs', this.checkedId(jobId)], token, refused: `to show job ${jobId}`, doing: `asking for job ${jobId}`, notFoundIsAnswer: true, ...(signal ? { signal } : {}) } satisfies FirecrestCall;
    const answer = await this.http.call(call);
    return answer && this.parse(call, () => parseJobAnswer(answer.body, jobId));
  }

  async cancel(token: string, jobId: string): Promise<void> {
    await this.http.call({ method: 'DELETE', segments: ['compute', this.system, 'jobs', this.checkedId(jobId)], token, refused: `to cancel job ${jobId}`, doing: `cancelling job ${jobId}`, notFoundIsAnswer: true });
  }

  async metadata(token: string, jobId: string): Promise<FirecrestJobMetadata | undefined> {
    const call = { method: 'GET', segments: ['compute', this.system, 'jobs', this.checkedId(jobId), 'metadata'], token, refused: `to show the metadata of job ${jobId}`, doing: `asking for the metadata of job ${jobId}`, notFoundIsAnswer: true } satisfies FirecrestCall;
    const answer = await this.http.call(call);
    return answer && this.parse(call, () => parseMetadataAnswer(answer.body, jobId));
  }

  async userinfo(token: string): Promise<FirecrestUserInfo> {
    const call = { method: 'GET', segments: ['status', this.system, 'userinfo'], token, refused: 'to show your user information', doing: 'asking for your user information', aboutSystem: true } satisfies FirecrestCall;
    const answer = await this.http.call(call);
    return this.parse(call, () => parseUserInfo(answer?.body));
  }

  async partitions(token: string, signal?: AbortSignal): Promise<FirecrestPartition[]> {
    const call = { method: 'GET', segments: ['status', this.system, 'partitions'], token, refused: 'to list the partitions', doing: 'listing the partitions', aboutSystem: true, ...(signal ? { signal } : {}) } satisfies FirecrestCall;
    const answer = await this.http.call(call);
    return this.parse(call, () => parsePartitions(answer?.body));
  }

  /** `jobId` when it is a job id; otherwise a 400 before any request (it came from saved state or a caller, not FirecREST). */
  private checkedId(jobId: string): string {
    const problem = typeof jobId === 'string' ? jobIdProblem(jobId) : 'the job id is not a string';
    if (problem) throw new FirecrestError(`FirecREST (system ${outsideText(this.system, 64)}) was not called: ${outsideText(problem)}`, 400);
    return jobId;
  }

  private parse<T>(call: FirecrestCall, parse: () => T): T {
    try {
      return parse();
    } catch (err) {
      if (err instanceof BadAnswer) throw this.http.bad(err.message, call);
      throw err;
    }
  }
}

/** The job description as sent: only the fields set, in the spec's camelCase names (`JobDescriptionModel`). */
function submittedJob(job: FirecrestJobDescription): FirecrestJobDescription {
  const out: FirecrestJobDescription = { script: job.script, workingDirectory: job.workingDirectory };
  for (const key of ['name', 'account', 'partition', 'reservation', 'constraints', 'standardOutput', 'standardError'] as const) {
    const value = job[key];
    if (value !== undefined && value !== '') out[key] = value;
  }
  if (job.env !== undefined) out.env = job.env;
  return out;
}
