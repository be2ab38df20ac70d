import type { FastifyRequest } from 'fastify';

/** What an authenticator says about a successful login. */
export interface AuthResult {
  name: string;
  /** Secret data kept encrypted with the user (tokens from an identity provider). */
  authState?: Record<string, unknown>;
  /** true/false sets admin; undefined leaves it to `admin_users`. */
  admin?: boolean;
  groups?: string[];
}

/**
 * Checks credentials. The hub applies `allowed_users`, `blocked_users` and
 * `admin_users` (src/auth/policy.ts) to the result, so an authenticator only
 * says who the person is.
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
  /** Returns who logged in, or null when the credentials are wrong. */
  authenticate(req: FastifyRequest, form: Record<string, string>): Promise<AuthResult | null>;
  /** Fields the login form shows, in order (default: username, password). */
  readonly loginFields?: ReadonlyArray<{ name: string; label: string; type: 'text' | 'password' }>;
}
