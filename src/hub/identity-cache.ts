import { sha256 } from '../lib/crypto.js';
import type { Requester } from './service-identity.js';

/**
 * Remembers resolved identities (token or cookie → user and expanded scopes)
 * for a short time, so a client's burst of API calls resolves its token once.
 * It is only a cache of the database: this process clears it after every
 * successful non-GET request (any of which may revoke or change permissions)
 * and whenever it revokes server tokens; changes made by another hub process
 * (several hubs on one PostgreSQL) are seen within `ttlMs`, one second by
 * default, and an entry never outlives its token's `expires_at`.
 */
export class IdentityCache {
  private readonly entries = new Map<string, { identity: Requester; expires: number }>();

  constructor(
    private readonly ttlMs = 1000,
    private readonly maxEntries = 10_000,
  ) {}

  /** A token's key is its hash alone (64 hex digits, no text joined: it is hashed once per lookup); a cookie's is prefixed, so the two never meet. */
  static key(kind: 'token' | 'cookie', secret: string): string {
    const hash = sha256(secret);
    return kind === 'token' ? hash : `cookie:${hash}`;
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
    let expires = Date.now() + this.ttlMs;
    // never past the token's own expiry
    const tokenExpires = identity.token && 'expires_at' in identity.token ? identity.token.expires_at : null;
    if (tokenExpires) {
      const at = Date.parse(tokenExpires);
      expires = Number.isFinite(at) ? Math.min(expires, at) : 0;
    }
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { identity, expires });
  }

  clear(): void {
    this.entries.clear();
  }
}
