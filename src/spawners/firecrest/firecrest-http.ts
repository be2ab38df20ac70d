/**
 * One FirecREST v2 call over HTTP, with the rules every call shares: the URL
 * built from encoded path segments (never a trailing slash), the bearer
 * token, a time limit per attempt, bounded retries of idempotent calls, no
 * redirect followed, answers read with a size limit, and every failure a
 * {@link FirecrestError} with a sentence for the user.
 */
import type { Logger } from 'pino';
import { discardBody, readCappedText } from '../../lib/capped-body.js';
import { sleep } from '../../lib/time.js';
import { FirecrestError } from './firecrest-api.js';
import { refusalDetail } from './firecrest-refusal.js';
import { outsideText } from '../../lib/outside-text.js';
import { plausibleBearerToken, urlForMessage, withoutSecret } from './firecrest-text.js';

/** Largest successful answer read (a job list, a partition list): 1 MiB. */
export const MAX_ANSWER_BYTES = 1024 * 1024;
/** Largest error body read for its message. */
const MAX_ERROR_BYTES = 64 * 1024;
/** First pause before a retry; it doubles each time, up to {@link MAX_BACKOFF_MS}. */
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 2000;
/** Errors about an answer's content (502 though FirecREST said 2xx): asking again would not help. */
const NOT_RETRIED = new WeakSet<FirecrestError>();

/** How the FirecREST client reaches one system. */
export interface FirecrestHttpOptions {
  /** The API root, e.g. `https://api.example.org/firecrest/v2` (a trailing slash is dropped). */
  baseUrl: string;
  /** The system name (`{system_name}` of the paths), also named in messages. */
  system: string;
  fetch: typeof fetch;
  /** Limit of one attempt (connect, answer and body), in ms. */
  timeoutMs: number;
  /** Retries of an idempotent call after a network error, a timeout or a 5xx. */
  retries: number;
  log: Logger;
}

/** One call: the path as segments (each encoded here), and phrases naming it in messages. */
export interface FirecrestCall {
  method: 'GET' | 'POST' | 'DELETE';
  segments: string[];
  token: string;
  /** A JSON body (POST). Never logged. */
  body?: unknown;
  /** Completes "FirecREST (system x) refused …", e.g. `the job`, `to cancel job 12`. */
  refused: string;
  /** Completes "… while …", e.g. `submitting the job`. */
  doing: string;
  /** A 404 is an answer (undefined) rather than an error. */
  notFoundIsAnswer?: boolean;
  /** A call about the system itself (`/status/{system}/...`): its 404 message asks whether the `system` option is right. */
  aboutSystem?: boolean;
  signal?: AbortSignal;
}

/** A successful answer: its status and decoded JSON body (undefined when empty). */
export interface FirecrestAnswer {
  status: number;
  body: unknown;
}

/** The API root of `baseUrl`, checked: http(s), no credentials, query or fragment, no trailing slash. */
export function firecrestBase(baseUrl: string): string {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new Error(`firecrest_url ${JSON.stringify(outsideText(baseUrl, 100))} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`firecrest_url must be an http or https URL, not ${u.protocol}`);
  if (u.username || u.password || u.search || u.hash) throw new Error('firecrest_url must have no user, password, query or fragment');
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
}

/** One path segment, percent-encoded; an empty or dot-only segment is refused (URL parsing would drop or resolve it). */
export function pathSegment(segment: string): string {
  if (segment === '' || /^\.+$/.test(segment)) throw new Error(`${JSON.stringify(segment)} cannot be a URL path segment`);
  return encodeURIComponent(segment);
}

/** The HTTP side of one FirecREST system: {@link call} is every request the client makes. */
export class FirecrestHttp {
  readonly base: string;
  private readonly who: string;

  constructor(private readonly opts: FirecrestHttpOptions) {
    this.base = firecrestBase(opts.baseUrl);
    pathSegment(opts.system);
    this.who = `FirecREST (system ${outsideText(opts.system, 64)})`;
  }

  /**
   * Makes `call`; retries GET and DELETE (at most `retries` times, after a
   * short growing pause) on a network error, a timeout or a 5xx, never on a
   * 4xx or after the caller's signal aborted; POST is made once.
   * @returns the answer, or undefined for a 404 when `notFoundIsAnswer`.
   * @throws FirecrestError with a sentence naming the system and the problem.
   */
  async call(call: FirecrestCall): Promise<FirecrestAnswer | undefined> {
    if (!plausibleBearerToken(call.token)) throw new FirecrestError(`${this.who} was not called: the access token is empty or not a bearer token`, 401);
    const path = call.segments.map(pathSegment).join('/');
    const url = `${this.base}/${path}`;
    const retries = call.method === 'POST' ? 0 : Math.max(0, Math.floor(this.opts.retries));
    for (let attempt = 0; ; attempt++) {
      const started = Date.now();
      try {
        const answer = await this.once(call, url);
        this.opts.log.debug({ system: this.opts.system, method: call.method, path: `/${path}`, status: answer?.status ?? 404, ms: Date.now() - started }, 'FirecREST answered');
        return answer;
      } catch (err) {
        const e = err instanceof FirecrestError ? err : this.unexpected(err, call);
        const retryable = e.status === 0 || e.status >= 500;
        if (!retryable || NOT_RETRIED.has(e) || attempt >= retries || call.signal?.aborted) {
          this.opts.log.warn({ system: this.opts.system, method: call.method, path: `/${path}`, status: e.status, attempts: attempt + 1, err: e.message }, 'FirecREST call failed');
          throw e;
        }
        const pause = Math.min(FIRST_BACKOFF_MS * 2 ** attempt, MAX_BACKOFF_MS);
        this.opts.log.info({ system: this.opts.system, method: call.method, path: `/${path}`, status: e.status, attempt: attempt + 1, retryInMs: pause, err: e.message }, 'FirecREST call failed; retrying');
        try {
          await sleep(pause, call.signal);
        } catch {
          throw this.abandoned(call);
        }
      }
    }
  }

  /** One attempt, within `timeoutMs` (and the caller's signal). */
  private async once(call: FirecrestCall, url: string): Promise<FirecrestAnswer | undefined> {
    if (call.signal?.aborted) throw this.abandoned(call);
    const attempt = deadline(this.opts.timeoutMs, call.signal);
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${call.token}` };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const res = await this.opts.fetch(url, {
        method: call.method,
        headers,
        ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
        redirect: 'manual',
        signal: attempt.signal,
      });
      return await this.answer(res, call);
    } catch (err) {
      if (err instanceof FirecrestError) throw err;
      if (call.signal?.aborted) throw this.abandoned(call);
      if (attempt.timedOut()) throw new FirecrestError(`${this.who} did not answer within ${seconds(this.opts.timeoutMs)}`, 0);
      throw new FirecrestError(withoutSecret(`${this.who} could not be reached: ${networkCause(err)}`, call.token), 0);
    } finally {
      attempt.done();
    }
  }

  private async answer(res: Response, call: FirecrestCall): Promise<FirecrestAnswer | undefined> {
    const status = res.status;
    if (status >= 200 && status < 300) {
      const text = await readCappedText(res, MAX_ANSWER_BYTES);
      if (text === undefined) throw this.bad(`its answer is larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB`, call);
      if (text.trim() === '') return { status, body: undefined };
      try {
        return { status, body: JSON.parse(text) as unknown };
      } catch {
        throw this.bad('its answer is not JSON', call);
      }
    }
    if (status === 404 && call.notFoundIsAnswer) {
      await discardBody(res);
      return undefined;
    }
    if (status >= 300 && status < 400) {
      await discardBody(res);
      const location = res.headers.get('location');
      const to = location ? ` to ${urlForMessage(resolved(location, this.base))}` : '';
      const hint = status === 307 || status === 308 ? '; a 307 or 308 usually means a trailing slash too many or missing in firecrest_url or the path' : '';
      throw new FirecrestError(`${this.who} answered ${call.doing} with a redirect (HTTP ${status}${to}), which is not followed${hint}`, status);
    }
    const { detail, errorType } = refusalDetail(await readCappedText(res, MAX_ERROR_BYTES).catch(() => undefined));
    const said = withoutSecret(detail ?? `HTTP ${status} without an explanation`, call.token);
    let message: string;
    if (status === 401) message = `${this.who} did not accept the access token (${said})`;
    else if (status >= 500) message = `${this.who} failed while ${call.doing} (HTTP ${status}): ${said}`;
    else if (status === 404 && call.aboutSystem) message = `${this.who} refused ${call.refused}: ${said}; is ${outsideText(this.opts.system, 64)} a system this FirecREST knows? Check the system option of the spawner`;
    else if (status >= 400) message = `${this.who} refused ${call.refused}: ${said}`;
    else message = `${this.who} gave an unexpected HTTP ${status} while ${call.doing}`;
    throw new FirecrestError(message, status >= 400 ? status : 502, errorType, detail && withoutSecret(detail, call.token));
  }

  /** An answer that cannot be used (502): `problem` says why. Never retried. */
  bad(problem: string, call: Pick<FirecrestCall, 'doing'>): FirecrestError {
    const e = new FirecrestError(`${this.who} gave a bad answer while ${call.doing}: ${problem}`, 502);
    NOT_RETRIED.add(e);
    return e;
  }

  private abandoned(call: FirecrestCall): FirecrestError {
    return new FirecrestError(`${this.who} was not waited for: ${call.doing} was abandoned`, 0);
  }

  private unexpected(err: unknown, call: FirecrestCall): FirecrestError {
    return new FirecrestError(withoutSecret(`${this.who} failed while ${call.doing}: ${outsideText(err instanceof Error ? err.message : String(err))}`, call.token), 0);
  }
}

/**
 * A signal that aborts after `ms` or when `outer` aborts, whichever comes
 * first; `done()` clears the timer and the listener on `outer` (a spawn's
 * signal lives for many calls and must not collect listeners).
 */
function deadline(ms: number, outer: AbortSignal | undefined): { signal: AbortSignal; timedOut(): boolean; done(): void } {
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new DOMException('FirecREST did not answer in time', 'TimeoutError'));
  }, ms);
  const onAbort = () => ac.abort(outer?.reason);
  outer?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ac.signal,
    timedOut: () => timedOut,
    done: () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    },
  };
}

function resolved(location: string, base: string): string {
  try {
    return new URL(location, `${base}/`).href;
  } catch {
    return location;
  }
}

/** `ms` as a duration in seconds for a message: `30 s`, `0.2 s`. */
function seconds(ms: number): string {
  return `${ms >= 10000 ? Math.round(ms / 1000) : Math.round(ms / 100) / 10} s`;
}

/** What a network failure of fetch was, in words: `connect ECONNREFUSED 127.0.0.1:1234`, `getaddrinfo ENOTFOUND x`. */
function networkCause(err: unknown): string {
  const seen = new Set<unknown>();
  let e: unknown = err;
  let best = err instanceof Error ? err.message : String(err);
  while (e instanceof Error && !seen.has(e)) {
    seen.add(e);
    if (e instanceof AggregateError && e.errors[0] instanceof Error) e = e.errors[0];
    else if (e.cause !== undefined) e = e.cause;
    else break;
    if (e instanceof Error) {
      const code = (e as NodeJS.ErrnoException).code;
      if (e.message) best = e.message;
      else if (typeof code === 'string') best = code;
    }
  }
  return outsideText(best, 200);
}
