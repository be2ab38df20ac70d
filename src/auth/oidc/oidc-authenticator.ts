import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import * as oidc from 'openid-client';
import { ConfigError } from '../../lib/errors.js';
import { AuthError, type Authenticator, type AuthResult, type LoginContext } from '../authenticator.js';
import { authStateFromTokens, readAuthState } from './auth-state.js';
import { ClientSecretSource } from './client-secret.js';
import { describeOidcError, isUnreachable } from './describe-error.js';
import { groupsFromClaims } from './groups.js';
import { clearPendingLogin, LOGIN_COOKIE_MAX_AGE, readPendingLogin, setPendingLogin } from './login-cookie.js';
import { ProviderConfig } from './provider-config.js';
import { checkOidcOptions, type OidcAuthConfig } from './schema.js';


/** The longest `next` kept through a login (the login cookie must stay under browsers' 4 kB). */
const MAX_NEXT_IN_COOKIE = 2000;

/** Seconds before `expires_at` at which an access token already counts as expired. */
const EXPIRY_MARGIN = 10;

/**
 * `auth.kind: oidc`: OpenID Connect / OAuth 2 authorization-code login with
 * PKCE (RFC 7636), `state` and `nonce`, through openid-client. The user is the
 * `username_claim` of the ID token (or of `userdata_url`'s answer), their
 * groups the `claim_groups_key` claim; the hub's policy does the rest.
 */
export class OidcAuthenticator implements Authenticator {
  readonly kind = 'oidc';
  readonly loginService: string;
  readonly needsAuthState: boolean;
  private readonly provider: ProviderConfig;
  private readonly secret: ClientSecretSource;
  private readonly openid: boolean;

  constructor(
    private readonly opts: OidcAuthConfig,
    private readonly log: Logger,
  ) {
    checkOidcOptions(opts);
    this.loginService = opts.login_service;
    // Refreshing needs the refresh token kept; enable_auth_state asks for it explicitly.
    this.needsAuthState = opts.enable_auth_state || opts.refresh_pre_spawn;
    this.openid = opts.scope.includes('openid');
    this.secret = new ClientSecretSource(opts.client_secret, opts.client_secret_file);
    this.provider = new ProviderConfig(opts, this.secret);
  }

  /**
   * Reads the client secret file (the hub does not start without it: a
   * ConfigError naming the file), then tries discovery once so a wrong issuer
   * shows in the log at start-up; a provider down is retried at the first login.
   */
  async init(): Promise<void> {
    try {
      this.secret.get();
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    try {
      await this.provider.get();
    } catch (err) {
      this.log.warn({ err: describeOidcError(err) }, 'OIDC provider not available yet; retried at the first login');
    }
  }

  private async config(): Promise<oidc.Configuration> {
    try {
      return await this.provider.get();
    } catch (err) {
      throw this.refusal(err, 'Cannot reach the identity provider to log in');
    }
  }

  /** Turns an error from the provider exchange into an AuthError naming it (503 when the provider is unreachable). */
  private refusal(err: unknown, what: string): AuthError {
    if (err instanceof AuthError) return err;
    const why = describeOidcError(err);
    if (isUnreachable(err)) return new AuthError(503, `${what}: the identity provider could not be reached. Try again later.`, why);
    if (err instanceof Error && err.message.startsWith('auth.client_secret_file')) return new AuthError(503, `${what}: the hub's client secret is not available.`, err.message);
    return new AuthError(403, `${what}: ${why}.`, why);
  }

  async startLogin(ctx: LoginContext): Promise<string> {
    const config = await this.config();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const callback = this.opts.oauth_callback_url ?? new URL('oauth_callback', ctx.hubUrl).href;
    const params: Record<string, string> = {
      redirect_uri: callback,
      scope: this.opts.scope.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    };
    if (this.openid) params['nonce'] = nonce;
    // The attempt travels in a cookie, which browsers drop above 4 kB: a longer `next` is not kept (the login ends at home).
    const next = ctx.next !== undefined && ctx.next.length <= MAX_NEXT_IN_COOKIE ? ctx.next : undefined;
    if (ctx.next !== undefined && next === undefined) ctx.log.info({ length: ctx.next.length }, 'OIDC login: next is too long to keep; the login ends at the home page');
    setPendingLogin(ctx.req, ctx.reply, new URL(ctx.hubUrl).pathname, {
      state,
      nonce,
      verifier,
      callback,
      exp: Math.floor(Date.now() / 1000) + LOGIN_COOKIE_MAX_AGE,
      ...(next ? { next } : {}),
    });
    return oidc.buildAuthorizationUrl(config, params).href;
  }

  async finishLogin(ctx: LoginContext): Promise<{ result: AuthResult; next?: string }> {
    const pending = readPendingLogin(ctx.req);
    clearPendingLogin(ctx.reply, new URL(ctx.hubUrl).pathname);
    if (typeof pending === 'string') throw new AuthError(400, `Login failed: ${pending}. Please log in again.`);
    const query = ctx.req.query as Record<string, unknown>;
    if (query['state'] !== pending.state) {
      throw new AuthError(400, 'Login failed: the `state` parameter does not match this browser\'s login attempt (a tampered or foreign login link). Please log in again.');
    }
    const config = await this.config();
    const current = new URL(pending.callback);
    current.search = new URL(ctx.req.url, 'http://x').search;
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        ...(this.openid ? { expectedNonce: pending.nonce, idTokenExpected: true } : {}),
      });
    } catch (err) {
      if (err instanceof oidc.AuthorizationResponseError) {
        throw new AuthError(403, `Login refused by the identity provider: ${describeOidcError(err)}.`);
      }
      throw this.refusal(err, 'Login failed');
    }
    const result = await this.resultFromTokens(config, tokens, undefined);
    return { result, ...(pending.next ? { next: pending.next } : {}) };
  }

  /** The user's name, groups and auth state from a token response (ID token claims, then userinfo unless `userdata_from_id_token`). */
  private async resultFromTokens(
    config: oidc.Configuration,
    tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
    previousIdClaims: Record<string, unknown> | undefined,
  ): Promise<AuthResult> {
    if (tokens.id_token) {
      try {
        await this.provider.verifyIdToken(tokens.id_token);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new AuthError(403, `Login failed: the ID token's signature or claims are not valid (${why}).`, why);
      }
    }
    const idClaims: Record<string, unknown> | undefined = tokens.claims() ?? previousIdClaims;
    let claims: Record<string, unknown> = { ...(idClaims ?? {}) };
    // userdata_from_id_token: the ID token is the only source (the access token may be for another resource server)
    if (!this.opts.userdata_from_id_token && config.serverMetadata().userinfo_endpoint) {
      try {
        claims = { ...claims, ...(await this.userdata(config, tokens.access_token, idClaims)) };
      } catch (err) {
        throw this.refusal(err, 'Login failed: the user information could not be read');
      }
    }
    const name = claims[this.opts.username_claim];
    if (typeof name !== 'string' || !name) {
      throw new AuthError(403, `Login failed: the identity provider gave no \`${this.opts.username_claim}\` claim (auth.username_claim) for this user.`);
    }
    const result: AuthResult = {
      name,
      groups: groupsFromClaims(claims, { claimGroupsKey: this.opts.claim_groups_key, stripGroupPath: this.opts.strip_group_path, groupsMap: this.opts.groups_map }),
    };
    if (this.needsAuthState) result.authState = { ...authStateFromTokens(tokens, undefined) };
    return result;
  }

  /** Claims from the userinfo endpoint (`userdata_url`, with `userdata_method` and `userdata_params`). */
  private async userdata(config: oidc.Configuration, accessToken: string, idClaims: Record<string, unknown> | undefined): Promise<Record<string, unknown>> {
    const o = this.opts;
    const sub = typeof idClaims?.['sub'] === 'string' ? idClaims['sub'] : undefined;
    if (!o.userdata_url || (o.userdata_method === 'GET' && Object.keys(o.userdata_params).length === 0)) {
      return (await oidc.fetchUserInfo(config, accessToken, sub ?? oidc.skipSubjectCheck)) as Record<string, unknown>;
    }
    const url = new URL(o.userdata_url);
    let body: URLSearchParams | undefined;
    const headers = new Headers({ accept: 'application/json' });
    if (o.userdata_method === 'GET') for (const [k, v] of Object.entries(o.userdata_params)) url.searchParams.set(k, v);
    else body = new URLSearchParams(o.userdata_params);
    const res = await oidc.fetchProtectedResource(config, accessToken, url, o.userdata_method, body, headers);
    if (!res.ok) throw new Error(`userdata_url answered HTTP ${res.status}`);
    const data = (await res.json()) as unknown;
    if (!data || typeof data !== 'object' || Array.isArray(data)) throw new Error('userdata_url did not answer a JSON object');
    const out = data as Record<string, unknown>;
    if (sub !== undefined && out['sub'] !== undefined && out['sub'] !== sub) throw new Error('userdata_url answered for another subject than the ID token');
    return out;
  }

  async refreshUser(user: { name: string; authState: Record<string, unknown> | null }, opts: { force: boolean; log: Logger }): Promise<AuthResult | 'unchanged' | null> {
    if (!this.needsAuthState) return 'unchanged'; // no tokens kept: nothing to refresh
    const state = readAuthState(user.authState);
    if (!state) {
      opts.log.info({ user: user.name }, 'OIDC refresh: no tokens stored for the user; login required');
      return null;
    }
    const now = Math.floor(Date.now() / 1000);
    if (!opts.force && (state.expires_at === undefined || state.expires_at - EXPIRY_MARGIN > now)) return 'unchanged';
    if (!state.refresh_token) {
      opts.log.info({ user: user.name }, 'OIDC refresh: access token expired and no refresh token; login required');
      return null;
    }
    const config = await this.config();
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      tokens = await oidc.refreshTokenGrant(config, state.refresh_token);
    } catch (err) {
      if (isUnreachable(err)) throw this.refusal(err, 'Cannot refresh your login');
      opts.log.info({ user: user.name, err: describeOidcError(err) }, 'OIDC refresh refused; login required');
      return null;
    }
    const previousClaims = state.id_token ? decodeClaims(state.id_token) : undefined;
    let result: AuthResult;
    try {
      result = await this.resultFromTokens(config, tokens, previousClaims);
    } catch (err) {
      opts.log.warn({ user: user.name, err: err instanceof Error ? err.message : String(err) }, 'OIDC refresh: new tokens unusable; login required');
      return null;
    }
    result.authState = { ...authStateFromTokens(tokens, state) };
    return result;
  }

  async logoutUrl(ctx: { req: FastifyRequest; user: string; authState: Record<string, unknown> | null; hubUrl: string }): Promise<string | undefined> {
    if (!this.opts.end_session) return undefined;
    let config: oidc.Configuration;
    try {
      config = await this.provider.get();
    } catch (err) {
      this.log.warn({ err: describeOidcError(err) }, 'OIDC logout: provider not reachable; only the hub session ends');
      return undefined;
    }
    if (!config.serverMetadata().end_session_endpoint) return undefined;
    const idToken = readAuthState(ctx.authState)?.id_token;
    const params: Record<string, string> = { client_id: this.opts.client_id };
    if (idToken) params['id_token_hint'] = idToken;
    if (this.opts.logout_redirect_url) params['post_logout_redirect_uri'] = this.opts.logout_redirect_url;
    return oidc.buildEndSessionUrl(config, params).href;
  }
}

/** The payload of a JWT the hub itself stored after checking it (no check here). */
function decodeClaims(jwt: string): Record<string, unknown> | undefined {
  try {
    const payload = jwt.split('.')[1] ?? '';
    const parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
