/**
 * The access token of the FirecREST spawner's service account
 * (`service_account` of a `kind: firecrest` back-end): an OAuth 2.0
 * client-credentials grant (RFC 6749 §4.4) at the identity provider's token
 * endpoint, the client authenticated with HTTP Basic (`client_secret_basic`,
 * §2.3.1). Used only to poll the jobs of users whose own login expired.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { discardBody, readCappedText } from '../../lib/capped-body.js';
import { FirecrestError } from './firecrest-api.js';
import { outsideText } from '../../lib/outside-text.js';
import { plausibleBearerToken, urlForMessage, withoutSecret } from './firecrest-text.js';

/** A token is fetched again once fewer than this many seconds of its life are left. */
export const TOKEN_MARGIN_S = 60;
/** The life assumed when the identity provider gives no `expires_in`. */
const DEFAULT_LIFETIME_S = 300;
/** Largest token answer read. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** The service account's client credentials and where to use them. */
export interface ServiceAccountOptions {
  clientId: string;
  /** The secret itself (empty or absent: read from `clientSecretFile`). */
  clientSecret?: string;
  /** A file holding the secret (trimmed); read at each grant, so a rotated secret is picked up. */
  clientSecretFile?: string;
  /** The identity provider's token endpoint. */
  tokenUrl: string;
  /** Scopes to ask for, space-separated (empty or absent: none asked). */
  scope?: string;
  fetch: typeof fetch;
  /** Limit of one token request, in ms. */
  timeoutMs: number;
  log: Logger;
  /** The clock, in ms (tests). */
  now?: () => number;
}

/**
 * The service account's access token, fetched when first needed and kept
 * until fewer than {@link TOKEN_MARGIN_S} seconds of it are left; callers
 * at the same time share one request.
 */
export class ServiceAccountTokens {
  private cached: { token: string; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;
  private readonly where: string;
  private readonly now: () => number;

  /** @throws Error when neither a secret nor a secret file is given, or the token URL is not http(s). */
  constructor(private readonly opts: ServiceAccountOptions) {
    if (!opts.clientSecret && !opts.clientSecretFile) throw new Error('service_account needs client_secret or client_secret_file');
    let url: URL;
    try {
      url = new URL(opts.tokenUrl);
    } catch {
      throw new Error(`service_account.token_url ${JSON.stringify(outsideText(opts.tokenUrl, 100))} is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('service_account.token_url must be an http or https URL');
    this.where = urlForMessage(opts.tokenUrl);
    this.now = opts.now ?? Date.now;
  }

  /**
   * A valid access token of the service account.
   * @throws FirecrestError: status 0 when the identity provider could not be
   * reached, did not answer in time or the secret could not be read; its HTTP
   * status when it refused (with its `error` and `error_description`); 502 for
   * an unusable answer. The message never holds the secret or a token.
   */
  token(): Promise<string> {
    if (this.cached && this.cached.expiresAt - this.now() > TOKEN_MARGIN_S * 1000) return Promise.resolve(this.cached.token);
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forgets the cached token (e.g. after FirecREST refused it with a 401), so the next {@link token} asks for a new one. */
  forget(): void {
    this.cached = undefined;
  }

  private async fetchToken(): Promise<string> {
    const secret = await this.secret();
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (this.opts.scope) form.set('scope', this.opts.scope);
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding.
    const basic = Buffer.from(`${formEncode(this.opts.clientId)}:${formEncode(secret)}`).toString('base64');
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const started = this.now();
    let res: Response;
    let text: string | undefined;
    try {
      res = await this.opts.fetch(this.opts.tokenUrl, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        redirect: 'manual',
        signal: timeout,
      });
      if (res.status >= 300 && res.status < 400) {
        await discardBody(res);
        throw this.fail(`answered with a redirect (HTTP ${res.status}), which is not followed (it would carry the secret elsewhere)`, res.status, secret);
      }
      text = await readCappedText(res, MAX_ANSWER_BYTES);
    } catch (err) {
      if (err instanceof FirecrestError) throw err;
      if (timeout.aborted) throw this.fail(`did not answer within ${Math.round(this.opts.timeoutMs / 100) / 10} s`, 0, secret);
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
      throw this.fail(`could not be reached: ${outsideText(cause instanceof Error ? cause.message || String((cause as NodeJS.ErrnoException).code ?? '') : String(cause), 200)}`, 0, secret);
    }
    const body = parseJson(text);
    if (res.status !== 200) {
      const error = typeof body?.error === 'string' ? outsideText(body.error, 64) : undefined;
      const description = typeof body?.error_description === 'string' ? outsideText(body.error_description, 200) : undefined;
      const said = error ? `${error}${description ? ` (${description})` : ''}` : `HTTP ${res.status}`;
      throw this.fail(`refused the service account's token request: ${said}`, res.status, secret, error, description);
    }
    if (!body) throw this.fail('gave an answer that is not a JSON object', 502, secret);
    const token = body.access_token;
    if (typeof token !== 'string' || !plausibleBearerToken(token)) throw this.fail('gave no usable access_token', 502, secret);
    if (body.token_type !== undefined && (typeof body.token_type !== 'string' || body.token_type.toLowerCase() !== 'bearer')) throw this.fail('gave a token that is not a bearer token', 502, secret);
    const lifetime = expiresIn(body.expires_in);
    if (lifetime === null) throw this.fail('gave an expires_in that is not a positive number of seconds', 502, secret);
    this.cached = { token, expiresAt: started + (lifetime ?? DEFAULT_LIFETIME_S) * 1000 };
    this.opts.log.debug({ tokenUrl: this.where, expiresIn: lifetime ?? null }, 'service account token obtained');
    return token;
  }

  private async secret(): Promise<string> {
    if (this.opts.clientSecret) return this.opts.clientSecret;
    const file = this.opts.clientSecretFile!;
    let content: string;
    try {
      content = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new FirecrestError(`the service account's client secret file ${outsideText(file)} cannot be read${code ? ` (${code})` : ''}`, 0);
    }
    const secret = content.trim();
    if (!secret) throw new FirecrestError(`the service account's client secret file ${outsideText(file)} is empty`, 0);
    return secret;
  }

  private fail(problem: string, status: number, secret: string, errorType?: string, detail?: string): FirecrestError {
    const message = withoutSecret(`The identity provider at ${this.where} ${problem}`, secret);
    this.opts.log.warn({ tokenUrl: this.where, status, err: message }, 'service account token request failed');
    return new FirecrestError(message, status, errorType, detail && withoutSecret(detail, secret));
  }
}

/** `application/x-www-form-urlencoded` encoding of one value (space as `+`), as §2.3.1 asks for id and secret. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

function parseJson(text: string | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `expires_in` in seconds: undefined when absent, null when unusable (some providers send it as a numeric string). */
function expiresIn(v: unknown): number | undefined | null {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : null;
}
