/**
 * STUB (part "client" writes the real one; replaced at merge): the
 * FirecREST v2 HTTP client.
 */
import type { Logger } from 'pino';
import { FirecrestError, type FirecrestApi, type FirecrestJob, type FirecrestJobDescription, type FirecrestJobMetadata, type FirecrestPartition, type FirecrestUserInfo } from './firecrest-api.js';

/** STUB: every call fails as unreachable. */
export class FirecrestClient implements FirecrestApi {
  readonly system: string;
  constructor(opts: { baseUrl: string; system: string; fetch: typeof fetch; timeoutMs: number; retries: number; log: Logger }) {
    this.system = opts.system;
  }
  private no(): Promise<never> {
    return Promise.reject(new FirecrestError('FirecREST client not built yet (stub)', 0));
  }
  submit(_t: string, _j: FirecrestJobDescription): Promise<string> { return this.no(); }
  job(_t: string, _id: string): Promise<FirecrestJob | undefined> { return this.no(); }
  cancel(_t: string, _id: string): Promise<void> { return this.no(); }
  metadata(_t: string, _id: string): Promise<FirecrestJobMetadata | undefined> { return this.no(); }
  userinfo(_t: string): Promise<FirecrestUserInfo> { return this.no(); }
  partitions(_t: string): Promise<FirecrestPartition[]> { return this.no(); }
}
