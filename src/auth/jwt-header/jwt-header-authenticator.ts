import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AuthError, type Authenticator, type AuthResult } from '../authenticator.js';
import { ConfigError } from '../../lib/errors.js';
import { projectsForPlatform, ProjectsClaimError } from '../projects.js';
import { ProviderUnavailableError } from './discovery.js';
import { ProviderKeys, type ProviderKeysOptions } from './provider-keys.js';
import { TokenError, verifyIdToken } from './verify-token.js';

/** What the JWT-header login is built from (the `auth:` options, already validated). */
export interface JwtHeaderOptions {
  /** The header carrying the ID token (`auth.header`). */
  header: string;
  /** The issuer (`auth.oidc_server`). */
  oidcServer: string;
  /** `auth.jwt_audience`. */
  audience: string;
  /** `auth.jwt_leeway`, seconds. */
  leewaySec: number;
  /** `auth.platform`. */
  platform: string;
  /** `auth.logout_redirect_url`: the tunnel's sign-out URL ('' for none). */
  logoutRedirectUrl: string;
  /** `auth.invalid_jwt_logout`. */
  invalidJwtLogout: boolean;
  log: Logger;
  /** Timeouts and cache durations of the provider's discovery and key set (tests shorten them). */
  provider?: Omit<ProviderKeysOptions, 'oidcServer'>;
}

/** Longest header value looked at; real ID tokens are a few kilobytes. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/**
 * A login refused because the token itself is invalid (bad signature,
 * expired, wrong audience or issuer, missing or malformed claims). With
 * `invalid_jwt_logout`, `endSession` asks the hub to log out a browser that
 * still has a hub session (see {@link endsSessionOnFailure}).
 */
export class InvalidTokenError extends AuthError {
  constructor(
    message: string,
    readonly reason: string,
    endSession: boolean,
    logMessage?: string,
  ) {
    super(401, message, logMessage);
    this.endSession = endSession;
  }
}

/**
 * True when a login refusal should end the browser's hub session (redirect to
 * the hub's logout) rather than keep it: an invalid token with
 * `invalid_jwt_logout` set ({@link AuthError.endSession}, which the hub's
 * `GET <hub>/login` reads when the request has a session).
 */
export function endsSessionOnFailure(err: unknown): boolean {
  return err instanceof AuthError && err.endSession;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The BriCS login: an authenticating tunnel forwards each request with the
 * user's OIDC ID token in a header (`X-Auth-Id-Token`). The token is verified
 * with the provider's published keys and algorithms; the user is its
 * `short_name`; the auth state is its `projects` on this platform
 * (src/auth/projects.ts). There is no login form: the hub's login page logs
 * in whoever the header names.
 */
export class JwtHeaderAuthenticator implements Authenticator {
  readonly kind = 'jwt-header';
  readonly needsAuthState = true;
  readonly loginHeader: string;
  private readonly headerKey: string;
  private readonly keys: ProviderKeys;

  constructor(private readonly opts: JwtHeaderOptions) {
    let url: URL;
    try {
      url = new URL(opts.oidcServer);
    } catch {
      throw new ConfigError(`auth.oidc_server: not a URL: ${JSON.stringify(opts.oidcServer)}`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
      throw new ConfigError(`auth.oidc_server: must be https (plain http only on a loopback address), got ${JSON.stringify(opts.oidcServer)}`);
    }
    this.loginHeader = opts.header;
    this.headerKey = opts.header.toLowerCase();
    this.keys = new ProviderKeys({ ...opts.provider, oidcServer: opts.oidcServer });
  }

  /**
   * Who the request's token says this is, or null without the header.
   * @throws InvalidTokenError (401) naming what is wrong with the token.
   * @throws AuthError 403 "No projects with valid platform" when no project has a resource on this platform.
   * @throws AuthError 503 when the identity provider (discovery or keys) cannot be reached.
   */
  async authenticateRequest(req: FastifyRequest): Promise<AuthResult | null> {
    const raw = req.headers[this.headerKey];
    if (raw === undefined) return null;
    if (typeof raw !== 'string') return this.invalid('malformed', 'the header is given more than once');
    const token = raw.trim();
    if (token === '') return null;
    if (token.length > MAX_TOKEN_LENGTH) return this.invalid('malformed', 'the token is too long');

    let claims: Record<string, unknown>;
    try {
      claims = await verifyIdToken(token, await this.keys.get(), { issuer: this.opts.oidcServer, audience: this.opts.audience, leewaySec: this.opts.leewaySec });
    } catch (err) {
      if (err instanceof TokenError) return this.invalid(err.reason, err.message, err.cause instanceof Error ? err.cause.message : undefined);
      if (err instanceof ProviderUnavailableError) {
        this.opts.log.warn({ oidc_server: this.opts.oidcServer, problem: err.message }, 'jwt-header login: the identity provider could not be asked');
        throw new AuthError(503, 'The hub cannot check your login now: the identity provider could not be reached. Try again in a moment.', err.message);
      }
      throw err;
    }

    const name = claims['short_name'];
    if (typeof name !== 'string' || name.trim() === '') return this.invalid('bad_claim', 'the token\'s short_name claim is not a user name');
    let projects;
    try {
      projects = projectsForPlatform(claims['projects'], this.opts.platform);
    } catch (err) {
      if (err instanceof ProjectsClaimError) return this.invalid('bad_claim', `malformed projects claim: ${err.message}`);
      throw err;
    }
    if (Object.keys(projects).length === 0) {
      throw new AuthError(403, `No projects with valid platform: none of your projects has a resource on ${this.opts.platform}.`, `user ${name}: no project on platform ${this.opts.platform}`);
    }
    return { name, authState: projects };
  }

  /** The tunnel's sign-out URL, so that logging out of the hub ends the tunnel's session too. */
  logoutUrl(): string | undefined {
    return this.opts.logoutRedirectUrl || undefined;
  }

  private invalid(reason: string, what: string, logMessage?: string): never {
    throw new InvalidTokenError(`Invalid ${this.opts.header} header: ${what}.`, reason, this.opts.invalidJwtLogout, logMessage);
  }
}
