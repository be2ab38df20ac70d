import { sha256 } from '../lib/crypto.js';
import type { Requester } from './service-identity.js';

/**
 * Remembers resolved identities (token or cookie → user and expanded scopes)
 * for a short time, so a client's burst of API calls resolves its token once.
 * It is only a cache of the database: this process clears it after every
 * successful non-GET request (any of which may revoke or change permissions)
 * and whenever it revokes server tokens; changes made by another hub process
 * are seen within `ttlMs`.
 */
export class IdentityCache {
  private readonly entries = new Map<string, { identity: Requester; expires: number }>();

  constructor(
    private readonly ttlMs = 1000,
    private readonly maxEntries = 10_000,
  ) {}

  static key(kind: 'token' | 'cookie', secret: string): string {
    return `${kind}:${sha256(secret)}`;
  }

  get(key: string): Requester | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires < Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.identity;
  }

  set(key: string, identity: Requester): void {
    if (this.ttlMs <= 0) return;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { identity, expires: Date.now() + this.ttlMs });
  }

  clear(): void {
    this.entries.clear();
  }
}
