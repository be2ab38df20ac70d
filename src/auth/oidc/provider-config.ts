import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import type { ClientSecretSource } from './client-secret.js';
import type { OidcAuthConfig } from './schema.js';

/**
 * The openid-client `Configuration` of the provider: its metadata from
 * discovery (`issuer`) or from the explicit endpoints, and the client's
 * credentials. Discovery happens at the first use and is kept once it
 * succeeds (a provider down at the hub's start-up does not stop the hub); the
 * configuration is rebuilt, keeping the cached keys, when the client secret
 * changes. Every request to the provider is bounded by `http_timeout`.
 */
export class ProviderConfig {
  private metadata: oidc.ServerMetadata | undefined;
  private current: { secret: string | undefined; config: oidc.Configuration } | undefined;
  private jwks: ReturnType<typeof createRemoteJWKSet> | undefined;

  constructor(
    private readonly opts: OidcAuthConfig,
    private readonly secret: ClientSecretSource,
  ) {}

  /** Whether the endpoints come from discovery. */
  get discovery(): boolean {
    return !this.opts.authorize_url;
  }

  /** The configuration for the next request; throws (openid-client errors) when discovery fails. */
  async get(): Promise<oidc.Configuration> {
    const secret = this.secret.get();
    if (this.current && this.current.secret === secret) return this.current.config;
    const metadata = this.metadata ?? (this.metadata = await this.loadMetadataOnce());
    const config = new oidc.Configuration(metadata, this.opts.client_id, secret === undefined ? {} : { client_secret: secret }, secret === undefined ? oidc.None() : undefined);
    this.prepare(config);
    this.current = { secret, config };
    return config;
  }

  private prepare(config: oidc.Configuration): void {
    config.timeout = this.opts.http_timeout;
    config[oidc.customFetch] = fetchRetryingClosedConnection;
    // allowInsecureRequests is marked deprecated only to stand out: an explicit, documented opt-in here.
    if (this.opts.allow_insecure_http) oidc.allowInsecureRequests(config);
  }

  /**
   * Checks an ID token's signature against the provider's key set (`jwks_uri`)
   * and its `iss` and `aud` once more; openid-client has already checked its
   * claims (issuer, audience, expiry, nonce). A `kid` not in the cached set
   * makes jose fetch the set again (at most once a second), so the provider
   * may rotate its keys. Without a key set (explicit endpoints without
   * `jwks_url`) the token's origin is the TLS connection to the token endpoint.
   * Throws jose's errors.
   */
  async verifyIdToken(idToken: string): Promise<JWTPayload | undefined> {
    const metadata = this.metadata;
    if (!metadata?.jwks_uri) return undefined;
    this.jwks ??= createRemoteJWKSet(new URL(metadata.jwks_uri), { cooldownDuration: 1000, timeoutDuration: this.opts.http_timeout * 1000 });
    const { payload } = await jwtVerify(idToken, this.jwks, { issuer: metadata.issuer, audience: this.opts.client_id });
    return payload;
  }

  /** Discovery under way: logins arriving together while it runs share it (one request to the provider). */
  private loading: Promise<oidc.ServerMetadata> | undefined;

  private loadMetadataOnce(): Promise<oidc.ServerMetadata> {
    this.loading ??= this.loadMetadata().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async loadMetadata(): Promise<oidc.ServerMetadata> {
    const o = this.opts;
    if (!o.authorize_url) {
      const found = await oidc.discovery(new URL(o.issuer ?? ''), o.client_id, undefined, undefined, {
        timeout: o.http_timeout,
        ...(o.allow_insecure_http ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      const m = { ...found.serverMetadata() };
      if (m.jwks_uri && new URL(m.jwks_uri).protocol !== 'https:' && !o.allow_insecure_http) {
        throw new Error(`the provider's jwks_uri ${m.jwks_uri} is not https (auth.allow_insecure_http)`);
      }
      if (o.end_session_url) m.end_session_endpoint = o.end_session_url;
      return m;
    }
    return {
      // Without `issuer` no ID token is asked for (the schema requires it with scope `openid`).
      issuer: o.issuer ?? new URL(o.authorize_url).origin,
      authorization_endpoint: o.authorize_url,
      ...(o.token_url ? { token_endpoint: o.token_url } : {}),
      ...(o.userdata_url ? { userinfo_endpoint: o.userdata_url } : {}),
      ...(o.jwks_url ? { jwks_uri: o.jwks_url } : {}),
      ...(o.end_session_url ? { end_session_endpoint: o.end_session_url } : {}),
      code_challenge_methods_supported: ['S256'],
    };
  }
}

/**
 * fetch, sent once more when a kept-alive connection turns out closed by the
 * provider before any answer (a provider restart, an idle timeout at a load
 * balancer): without it the first token request after such a close fails.
 * Any other error, and a second failure, goes to the caller.
 */
async function fetchRetryingClosedConnection(url: string, options: oidc.CustomFetchOptions): Promise<Response> {
  try {
    return await fetch(url, options as RequestInit);
  } catch (err) {
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    if (!(err instanceof TypeError) || (code !== 'UND_ERR_SOCKET' && code !== 'ECONNRESET') || options.signal?.aborted) throw err;
    return fetch(url, options as RequestInit);
  }
}
