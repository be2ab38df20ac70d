/**
 * FirecREST v2 as the FirecREST spawner uses it: the bodies of the calls it
 * makes (camelCase, as the official OpenAPI 2.5.6 names them) and the client
 * interface. Types only, plus the error the client throws.
 */

/** `JobDescriptionModel`: what `POST /compute/{system}/jobs` submits (only the fields the spawner sets). */
export interface FirecrestJobDescription {
  /** The whole batch script, inline. */
  script: string;
  workingDirectory: string;
  name?: string;
  account?: string;
  partition?: string;
  reservation?: string;
  constraints?: string;
  /** Only values FirecREST accepts (see job-env encoding); secrets never go here. */
  env?: Record<string, string>;
  standardOutput?: string;
  standardError?: string;
}

/** One job of `GET /compute/{system}/jobs/{id}` (`JobModel`, the fields the spawner reads). */
export interface FirecrestJob {
  jobId: string;
  name: string;
  status: { state: string; stateReason?: string | null; exitCode?: number | null };
  /** Slurm's host list (`nid[001-002]`), or empty / `None assigned` while pending. */
  nodes: string;
  partition: string;
  user: string | null;
  workingDirectory: string;
}

/** `JobMetadataModel` of `GET /compute/{system}/jobs/{id}/metadata`. */
export interface FirecrestJobMetadata {
  jobId: string;
  script?: string | null;
  standardOutput?: string | null;
  standardError?: string | null;
}

/** `UserInfoResponse` of `GET /status/{system}/userinfo`. */
export interface FirecrestUserInfo {
  user: { id: string; name: string };
  group: { id: string; name: string };
  groups: { id: string; name: string }[];
  /** The Slurm accounts the user may charge; `default` marks the default one. */
  accounts?: { name: string; default?: boolean }[] | null;
}

/** One partition of `GET /status/{system}/partitions` (`PartitionModel`, the fields the form uses). */
export interface FirecrestPartition {
  name: string;
  /** e.g. `UP`, `DOWN`. */
  state?: string | null;
}

/**
 * A FirecREST call that did not succeed: `status` is the HTTP status (0 when
 * FirecREST could not be reached or did not answer in time), `errorType` and
 * `detail` come from its `ApiResponseError` body when it sent one; `message`
 * is a sentence for the user ("FirecREST (system daint) refused the job:
 * ..."), never holding a token or a request body.
 */
export class FirecrestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errorType?: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'FirecrestError';
  }

  /** The access token was missing, expired or refused (401). */
  get unauthorized(): boolean {
    return this.status === 401;
  }

  /** FirecREST could not be reached, timed out, or answered 5xx. */
  get unavailable(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

/**
 * The FirecREST v2 calls of one system (`firecrest_url` + `system`), each
 * with the bearer token given. Every call has a time limit; the idempotent
 * ones (GET, DELETE) are retried a bounded number of times on a network
 * error, a timeout or a 5xx (never on 4xx); submit is never retried. URLs
 * have no trailing slash. Errors are {@link FirecrestError}.
 */
export interface FirecrestApi {
  /** `POST /compute/{system}/jobs` → the job id. */
  submit(token: string, job: FirecrestJobDescription, signal?: AbortSignal): Promise<string>;
  /** `GET /compute/{system}/jobs/{id}`: the job, or undefined when FirecREST does not know it (404, or an empty list). */
  job(token: string, jobId: string, signal?: AbortSignal): Promise<FirecrestJob | undefined>;
  /** `DELETE /compute/{system}/jobs/{id}` (204); a job FirecREST no longer knows (404) counts as cancelled. */
  cancel(token: string, jobId: string): Promise<void>;
  /** `GET /compute/{system}/jobs/{id}/metadata`. */
  metadata(token: string, jobId: string): Promise<FirecrestJobMetadata | undefined>;
  /** `GET /status/{system}/userinfo`. */
  userinfo(token: string): Promise<FirecrestUserInfo>;
  /** `GET /status/{system}/partitions`; `signal` ends the call early (a poll's bound). */
  partitions(token: string, signal?: AbortSignal): Promise<FirecrestPartition[]>;
  /** The system's name, for messages. */
  readonly system: string;
}
