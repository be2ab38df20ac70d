/**
 * STUB (part "client" writes the real one; replaced at merge): the
 * service account's client-credentials token.
 */
import type { Logger } from 'pino';
import { FirecrestError } from './firecrest-api.js';

/** STUB: never hands out a token. */
export class ServiceAccountTokens {
  constructor(readonly opts: { clientId: string; clientSecret?: string; clientSecretFile?: string; tokenUrl: string; scope?: string; fetch: typeof fetch; timeoutMs: number; log: Logger }) {}
  token(): Promise<string> {
    return Promise.reject(new FirecrestError('service account not built yet (stub)', 0));
  }
}
