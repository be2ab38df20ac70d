/**
 * FirecREST calls made as a hub user: each carries the user's own access
 * token (the hub's {@link UserTokens}); a token FirecREST refuses (401) is
 * refreshed once and the call retried once, then the user must log in
 * again. Polls alone may fall back to a configured service account, so a
 * running server is never declared dead because its owner's login expired.
 */
import type { Logger } from 'pino';
import { HubError } from '../../lib/errors.js';
import type { UserTokens } from '../spawner.js';
import { FirecrestError } from './firecrest-api.js';

/** The user's token is gone or refused twice: they must log in again (401, a sentence for them). */
export class FirecrestLoginError extends HubError {
  constructor(message: string) {
    super(401, message);
    this.name = 'FirecrestLoginError';
  }
}

/** What hands out the service account's token (service-account.ts `ServiceAccountTokens`). */
export interface ServiceTokenSource {
  token(): Promise<string>;
}

/** The sentence of a {@link FirecrestLoginError}. */
export function loginAgainMessage(system: string, why: string): string {
  const reason = why.trim().replace(/\.$/, '');
  return `FirecREST (system ${system}) needs your own login, which has expired or was refused${reason ? ` (${reason})` : ''}: log out and log in again, then retry.`;
}

/** Calls as a user, with the refresh-and-retry rule; polls with the service-account fallback. */
export class FirecrestUserCalls {
  /** Servers whose polls went through the service account (logged once each). */
  private readonly polledAsService = new Set<string>();

  constructor(
    private readonly tokens: UserTokens,
    private readonly system: string,
    private readonly service?: ServiceTokenSource,
  ) {}

  /**
   * `call` with `user`'s access token; on a 401 the token is refreshed once
   * and `call` runs once more. Throws {@link FirecrestLoginError} when the
   * user has no usable token or FirecREST refused the refreshed one; other
   * errors of `call` (FirecrestError) as they are.
   */
  async asUser<T>(user: string, log: Logger, call: (token: string) => Promise<T>): Promise<T> {
    const first = await this.tokens.accessToken(user, { log });
    if ('loginAgain' in first) throw new FirecrestLoginError(loginAgainMessage(this.system, first.loginAgain));
    try {
      return await call(first.token);
    } catch (err) {
      if (!(err instanceof FirecrestError) || !err.unauthorized) throw err;
    }
    log.info({ user, system: this.system }, 'FirecREST refused the user access token; refreshing it once');
    const second = await this.tokens.accessToken(user, { refresh: true, log });
    if ('loginAgain' in second) throw new FirecrestLoginError(loginAgainMessage(this.system, second.loginAgain));
    try {
      return await call(second.token);
    } catch (err) {
      if (err instanceof FirecrestError && err.unauthorized) throw new FirecrestLoginError(loginAgainMessage(this.system, 'FirecREST refused the refreshed token'));
      throw err;
    }
  }

  /**
   * For polls only: {@link asUser}, and when that ends in a
   * {@link FirecrestLoginError} and a service account is configured, `call`
   * with the service account's token (logged at info once per `serverKey`,
   * no token in the line). Without a service account the login error is
   * thrown (the poll answers `unknown` and the server is kept).
   */
  async forPoll<T>(user: string, serverKey: string, log: Logger, call: (token: string) => Promise<T>): Promise<T> {
    try {
      const out = await this.asUser(user, log, call);
      this.polledAsService.delete(serverKey);
      return out;
    } catch (err) {
      if (!(err instanceof FirecrestLoginError) || !this.service) throw err;
    }
    if (!this.polledAsService.has(serverKey)) {
      if (this.polledAsService.size > 10_000) this.polledAsService.clear();
      this.polledAsService.add(serverKey);
      log.info({ user, system: this.system, server: serverKey }, "the user's FirecREST login expired: polling the job with the service account");
    }
    return call(await this.service.token());
  }
}
