import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

export { AuthError } from './auth-error.js';

/** What an authenticator says about a person. */
export interface AuthResult {
  /** The hub user name (normalised and checked by the hub's policy, src/auth/policy.ts). */
  name: string;
  /** Secret data kept encrypted with the user (tokens, projects); needs GANYMEDE_CRYPT_KEY. */
  authState?: Record<string, unknown>;
  /** true/false sets admin; undefined leaves it to policy (`admin_users`, `auth.admin_groups`). */
  admin?: boolean;
  /** Group names from the identity provider (`auth.allowed_groups`, `auth.admin_groups`, `auth.manage_groups`). */
  groups?: string[];
}

/** What the hub hands a backend when it needs the browser's request. */
export interface LoginContext {
  req: FastifyRequest;
  /** For setting/clearing the backend's own short-lived cookies (state, PKCE). */
  reply: FastifyReply;
  log: Logger;
  /** The public URL of the hub's prefix as the browser sees it, e.g. `https://hub.example.org/hub/`. */
  hubUrl: string;
  /** Where to go after login (already validated by the hub), e.g. `/user/alice/lab`. */
  next?: string;
}

/**
 * Says who a person is; the hub decides what they may do. The hub applies
 * the name rules, `allowed_users`, `blocked_users`, `admin_users` and the
 * common auth options (groups, post-auth hook) to every result
 * (src/auth/policy.ts), so a backend only reports what its credentials say.
 *
 * A backend implements one of three ways to log in:
 * - form: `authenticate` (+ `loginFields`), called by `POST <hub>/login`;
 * - redirect: `startLogin` + `finishLogin` (+ `loginService`), at
 *   `<hub>/oauth_login` and `<hub>/oauth_callback`;
 * - header: `authenticateRequest`, called by `GET <hub>/login`.
 * Refusals the user should read are thrown as {@link AuthError}.
 */
export interface Authenticator {
  readonly kind: string;
  /** Called once before the hub serves requests. */
  init?(): Promise<void>;
  /**
   * Called once when the hub's start-up is complete (listening, proxy and
   * routes ready). May return a notice for the operator's terminal, printed
   * once after the start-up lines (e.g. a generated password).
   */
  completeStartup?(): Promise<string | undefined>;

  /** Form login (shared password): who logged in, or null for wrong credentials. */
  authenticate?(req: FastifyRequest, form: Record<string, string>): Promise<AuthResult | null>;
  /** Fields the login form shows, in order (default: username, password). */
  readonly loginFields?: ReadonlyArray<{ name: string; label: string; type: 'text' | 'password' }>;

  /** Redirect login (OIDC): the label of the login page's button, e.g. "Sign in with Keycloak". */
  readonly loginService?: string;
  /** Redirect login: the URL to send the browser to (sets state/nonce/PKCE cookies on ctx.reply, carries ctx.next). */
  startLogin?(ctx: LoginContext): Promise<string>;
  /** Redirect login, at `<hub>/oauth_callback`: finishes the flow; throws AuthError naming what is wrong. */
  finishLogin?(ctx: LoginContext): Promise<{ result: AuthResult; next?: string }>;

  /** Header login (JWT from a tunnel): who this request is; null when it carries no credentials; AuthError when they are bad. */
  authenticateRequest?(req: FastifyRequest): Promise<AuthResult | null>;
  /** Header login: the header a request must carry, named on the 401 page when it is missing. */
  readonly loginHeader?: string;

  /**
   * Refreshes a user's credentials (before a spawn with refresh_pre_spawn, and when the last refresh is
   * older than auth_refresh_age). 'unchanged': still valid; an AuthResult: new auth state/groups/admin;
   * null: the user must log in again.
   */
  refreshUser?(
    user: { name: string; authState: Record<string, unknown> | null },
    opts: { force: boolean; log: Logger },
  ): Promise<AuthResult | 'unchanged' | null>;

  /** True when this backend's auth state must be kept: the hub refuses to start without GANYMEDE_CRYPT_KEY. */
  readonly needsAuthState?: boolean;

  /** Where the browser goes after the hub's own logout (the IdP's end-session URL, the tunnel's sign-out URL). */
  logoutUrl?(ctx: {
    req: FastifyRequest;
    user: string;
    authState: Record<string, unknown> | null;
    hubUrl: string;
  }): Promise<string | undefined> | string | undefined;
}
