import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { fetchProviderMetadata, ProviderUnavailableError, type ProviderMetadata } from './discovery.js';

/** How the JWT-header login asks its identity provider; the defaults suit production. */
export interface ProviderKeysOptions {
  /** The issuer: discovery is `<oidcServer>/.well-known/openid-configuration`. */
  oidcServer: string;
  /** Bound on each discovery and key-set request (ms). */
  timeoutMs?: number;
  /** After a key-set fetch, how long a token naming an unknown key waits before it may trigger another (ms). */
  jwksCooldownMs?: number;
  /** Key sets are refetched when older than this (ms). */
  jwksMaxAgeMs?: number;
  /** The discovery document is fetched again when older than this (ms); the old one serves if that fails. */
  rediscoverMs?: number;
  /** After a failed discovery, logins fail fast with the same error for this long (ms) instead of asking again. */
  retryMs?: number;
}

/** The key resolver and the algorithms a token is verified with. */
export interface VerificationKeys {
  keys: JWTVerifyGetKey;
  algorithms: string[];
}

/**
 * The identity provider's verification keys, cached. Discovery is fetched at
 * the first login (the hub starts even while the provider is down), shared by
 * concurrent logins, kept for `rediscoverMs`; the key set is jose's remote
 * JWK set (cached, refetched when a token names an unknown `kid`, at most once
 * per `jwksCooldownMs`, each request bounded by `timeoutMs`).
 */
export class ProviderKeys {
  private readonly opts: Required<ProviderKeysOptions>;
  private current: { meta: ProviderMetadata; keys: JWTVerifyGetKey; at: number } | undefined;
  private pending: Promise<VerificationKeys> | undefined;
  private failure: { error: ProviderUnavailableError; at: number } | undefined;

  constructor(opts: ProviderKeysOptions) {
    this.opts = {
      timeoutMs: 5000,
      jwksCooldownMs: 30_000,
      jwksMaxAgeMs: 600_000,
      rediscoverMs: 3_600_000,
      retryMs: 5000,
      ...opts,
    };
  }

  /**
   * The keys and algorithms to verify a token with.
   * @throws ProviderUnavailableError when discovery fails and nothing is cached.
   */
  async get(): Promise<VerificationKeys> {
    const now = Date.now();
    const cur = this.current;
    if (cur && now - cur.at < this.opts.rediscoverMs) return { keys: cur.keys, algorithms: cur.meta.algorithms };
    if (!cur && this.failure && now - this.failure.at < this.opts.retryMs) throw this.failure.error;
    this.pending ??= this.discover().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async discover(): Promise<VerificationKeys> {
    let meta: ProviderMetadata;
    try {
      meta = await fetchProviderMetadata(this.opts.oidcServer, { timeoutMs: this.opts.timeoutMs });
    } catch (err) {
      const error = err instanceof ProviderUnavailableError ? err : new ProviderUnavailableError('the identity provider could not be asked', { cause: err });
      const cur = this.current;
      if (cur) {
        // keep serving the last good document; ask again after retryMs
        cur.at = Date.now() - this.opts.rediscoverMs + this.opts.retryMs;
        return { keys: cur.keys, algorithms: cur.meta.algorithms };
      }
      this.failure = { error, at: Date.now() };
      throw error;
    }
    this.failure = undefined;
    const keys =
      this.current && this.current.meta.jwksUri.href === meta.jwksUri.href
        ? this.current.keys
        : createRemoteJWKSet(meta.jwksUri, {
            timeoutDuration: this.opts.timeoutMs,
            cooldownDuration: this.opts.jwksCooldownMs,
            cacheMaxAge: this.opts.jwksMaxAgeMs,
          });
    this.current = { meta, keys, at: Date.now() };
    return { keys, algorithms: meta.algorithms };
  }
}
