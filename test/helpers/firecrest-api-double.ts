/**
 * An in-memory FirecREST for the spawner's unit tests: records every call
 * with the token it carried, accepts only the tokens a test allows (else
 * 401), answers job states from a script, and can be taken down (status 0)
 * or made to fail (5xx). The real-HTTP stand-in is test/helpers/firecrest-standin.ts.
 */
import type { Logger } from 'pino';
import { FirecrestError, type FirecrestApi, type FirecrestJob, type FirecrestJobDescription, type FirecrestJobMetadata, type FirecrestPartition, type FirecrestUserInfo } from '../../src/spawners/firecrest/firecrest-api.js';
import type { UserAccessToken, UserTokens } from '../../src/spawners/spawner.js';

/** One recorded call. */
export interface ApiCall {
  op: 'submit' | 'job' | 'cancel' | 'metadata' | 'userinfo' | 'partitions';
  token: string;
  jobId?: string;
  body?: FirecrestJobDescription;
}

/** A job's scripted life: the states `job()` answers one after the other (the last one repeats). */
export interface ScriptedJob {
  states: { state: string; reason?: string; nodes?: string }[];
  asked: number;
  cancelled: boolean;
}

/** The in-memory FirecREST (see the module comment). */
export class FirecrestApiDouble implements FirecrestApi {
  readonly calls: ApiCall[] = [];
  readonly jobs = new Map<string, ScriptedJob>();
  /** Tokens FirecREST accepts; any other gets 401. */
  readonly accepted = new Set<string>();
  /** Set: every call fails with this status (0 = unreachable, 503 ...). */
  down: number | undefined;
  /** The states a newly submitted job goes through. */
  nextStates: ScriptedJob['states'] = [{ state: 'PENDING', reason: 'Priority' }, { state: 'RUNNING', nodes: 'nid[001-002]' }];
  /** The states a cancelled job answers (the last repeats); empty: it is gone at once. */
  afterCancel: ScriptedJob['states'] = [];
  userinfoAnswer: FirecrestUserInfo = {
    user: { id: '1000', name: 'alice' },
    group: { id: '1000', name: 'alice' },
    groups: [{ id: '1000', name: 'alice' }],
    accounts: [{ name: 'proj1', default: false }, { name: 'proj2', default: true }],
  };
  /** False: FirecREST does not know this system (a misconfigured `system`): job calls answer 404 (undefined), status calls fail with 404. */
  systemKnown = true;
  /** True: `job()` never answers (until its signal aborts). */
  hangJobs = false;
  /** True: `userinfo()` and `partitions()` never answer. */
  hangStatus = false;
  private lastId = 100;

  constructor(readonly system = 'daint') {}

  private check(op: ApiCall['op'], token: string, extra: Partial<ApiCall> = {}): void {
    this.calls.push({ op, token, ...extra });
    if (this.down !== undefined) throw new FirecrestError(`FirecREST (system ${this.system}) cannot be reached`, this.down);
    if (!this.accepted.has(token)) throw new FirecrestError(`FirecREST (system ${this.system}): Access token is invalid.`, 401, 'error');
  }

  private async checkSystem(signal?: AbortSignal): Promise<void> {
    if (this.hangStatus) {
      await new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new FirecrestError(`FirecREST (system ${this.system}) was not waited for`, 0)), { once: true }));
    }
    if (!this.systemKnown) throw new FirecrestError(`FirecREST (system ${this.system}) answered HTTP 404: System '${this.system}' does not exist`, 404, 'error');
  }

  /** The calls of one kind. */
  of(op: ApiCall['op']): ApiCall[] {
    return this.calls.filter((c) => c.op === op);
  }

  submit(token: string, job: FirecrestJobDescription): Promise<string> {
    try {
      this.check('submit', token, { body: job });
    } catch (err) {
      return Promise.reject(err);
    }
    const id = String(++this.lastId);
    this.jobs.set(id, { states: [...this.nextStates], asked: 0, cancelled: false });
    return Promise.resolve(id);
  }

  async job(token: string, jobId: string, signal?: AbortSignal): Promise<FirecrestJob | undefined> {
    signal?.throwIfAborted();
    this.check('job', token, { jobId });
    if (this.hangJobs) {
      await new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new FirecrestError(`FirecREST (system ${this.system}) was not waited for`, 0)), { once: true }));
    }
    if (!this.systemKnown) return undefined;
    const j = this.jobs.get(jobId);
    if (!j) return undefined;
    const list = j.cancelled ? this.afterCancel : j.states;
    if (list.length === 0) return undefined;
    const s = list[Math.min(j.asked++, list.length - 1)]!;
    return {
      jobId,
      name: 'jupyterhub',
      status: { state: s.state, stateReason: s.reason ?? null },
      nodes: s.nodes ?? '',
      partition: 'normal',
      user: 'alice',
      workingDirectory: '/home/alice',
    };
  }

  async cancel(token: string, jobId: string): Promise<void> {
    this.check('cancel', token, { jobId });
    if (!this.systemKnown) return;
    const j = this.jobs.get(jobId);
    if (j && !j.cancelled) {
      j.cancelled = true;
      j.asked = 0;
    }
  }

  async metadata(token: string, jobId: string): Promise<FirecrestJobMetadata | undefined> {
    this.check('metadata', token, { jobId });
    return this.jobs.has(jobId) ? { jobId, standardOutput: `/home/alice/jupyterhub-firecrest-${jobId}.log` } : undefined;
  }

  async userinfo(token: string): Promise<FirecrestUserInfo> {
    this.check('userinfo', token);
    await this.checkSystem();
    return this.userinfoAnswer;
  }

  async partitions(token: string, signal?: AbortSignal): Promise<FirecrestPartition[]> {
    this.check('partitions', token);
    await this.checkSystem(signal);
    return [{ name: 'normal', state: 'UP' }, { name: 'debug', state: 'UP' }];
  }
}

/**
 * The hub's user tokens, faked: each user has a current token
 * (`<user>-t<n>`); a refresh hands out the next one; a user in `expired`
 * must log in again. Records every request.
 */
export class FakeUserTokens implements UserTokens {
  readonly asked: { user: string; refresh: boolean }[] = [];
  readonly expired = new Set<string>();
  /** Users whose refresh fails (loginAgain) though their current token is handed out. */
  readonly refreshFails = new Set<string>();
  private readonly generation = new Map<string, number>();

  constructor(private readonly api?: FirecrestApiDouble) {}

  /** The current token of `user` (and, with an api double, accepted by it). */
  current(user: string): string {
    const token = `${user}-t${this.generation.get(user) ?? 1}`;
    return token;
  }

  /** Makes `user`'s next token acceptable to FirecREST (a refresh will mint it). */
  acceptNext(user: string): string {
    const token = `${user}-t${(this.generation.get(user) ?? 1) + 1}`;
    this.api?.accepted.add(token);
    return token;
  }

  accessToken(user: string, opts: { refresh?: boolean; log: Logger }): Promise<UserAccessToken> {
    this.asked.push({ user, refresh: opts.refresh === true });
    if (this.expired.has(user)) return Promise.resolve({ loginAgain: 'Your session has ended; please log in again.' });
    if (opts.refresh) {
      if (this.refreshFails.has(user)) return Promise.resolve({ loginAgain: 'Your login could not be renewed; please log in again.' });
      this.generation.set(user, (this.generation.get(user) ?? 1) + 1);
    }
    return Promise.resolve({ token: this.current(user), expiresAt: Math.floor(Date.now() / 1000) + 300 });
  }
}
