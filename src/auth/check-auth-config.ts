import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { DB } from '../db/schema.js';
import { CryptKeeper } from '../lib/crypto.js';
import { checkAuthStateKey } from './auth-state.js';
import { checkUserTokenBackends } from './check-user-token-backends.js';
import { createAuthenticator } from './registry.js';

/**
 * What `ganymede config check` adds to the schema's validation: the checks
 * the hub makes when it builds its authenticator, without a database or the
 * network. The backend is constructed (its rules between options: an OIDC
 * login with neither `issuer` nor `authorize_url`, an `http://` provider URL
 * without `allow_insecure_http`, a JWT `oidc_server` that is not https...)
 * and GANYMEDE_CRYPT_KEY must be set when auth state is kept; a back-end
 * acting as the user (FirecREST) needs a login that keeps their token. Throws the
 * ConfigError `serve` would stop with.
 */
export function checkAuthConfig(config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env): void {
  // constructors only keep the database handle; nothing here reads or writes it
  const authenticator = createAuthenticator(config, null as unknown as Kysely<DB>, log);
  checkAuthStateKey(config, authenticator, CryptKeeper.fromEnv(env));
  checkUserTokenBackends(config, authenticator);
}
