/**
 * Refuses a configuration whose spawner back-ends act as the user with
 * their own access token (FirecREST) while the login keeps no such token:
 * every start, poll and stop of those back-ends would fail with "log in
 * again", so the hub says so at start (and `ganymede config check` too).
 */
import type { Config } from '../config/schema.js';
import { ConfigError } from '../lib/errors.js';
import { SPAWNER_BACKENDS } from '../spawners/registry.js';
import { DEFAULT_BACKEND } from '../spawners/backends.js';
import { authStateRequired } from './auth-state.js';
import type { Authenticator } from './authenticator.js';

/** Login kinds that put the user's access token in their auth state (src/auth/user-tokens.ts reads `access_token`). */
const TOKEN_KEEPING_LOGINS = new Set(['oidc']);

/**
 * @throws ConfigError naming the first such back-end and what to set, when a
 *   back-end acts as the user and the login is not OIDC, or keeps no auth state.
 */
export function checkUserTokenBackends(config: Config, authenticator: Pick<Authenticator, 'kind' | 'needsAuthState'>): void {
  const entries = Object.keys(config.spawners).length ? Object.entries(config.spawners) : [[DEFAULT_BACKEND, config.spawner] as const];
  for (const [name, options] of entries) {
    const backend = (SPAWNER_BACKENDS as Record<string, { actsAsUser?: boolean }>)[options.kind];
    if (!backend?.actsAsUser) continue;
    const what = `spawner ${JSON.stringify(name)} (kind ${options.kind}) acts as the user with their own access token`;
    if (!TOKEN_KEEPING_LOGINS.has(authenticator.kind)) {
      throw new ConfigError(`${what}, but the ${authenticator.kind} login keeps no access token: use auth.kind: oidc with auth.enable_auth_state: true (and GANYMEDE_CRYPT_KEY)`);
    }
    if (!authStateRequired(config, authenticator as Authenticator)) {
      throw new ConfigError(`${what}, but the login's tokens are not kept: set auth.enable_auth_state: true (and GANYMEDE_CRYPT_KEY)`);
    }
  }
}
