import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { DB } from '../db/schema.js';
import { ConfigError } from '../lib/errors.js';
import type { CryptKeeper } from '../lib/crypto.js';
import type { Authenticator } from './authenticator.js';

/** Whether the hub must keep auth state: `auth.enable_auth_state`, or a backend that needs it. */
export function authStateRequired(config: Config, authenticator: Authenticator): boolean {
  return config.auth.enable_auth_state === true || authenticator.needsAuthState === true;
}

/**
 * Refuses to build the hub when auth state must be kept and there is no key
 * to encrypt it with: a login's tokens would otherwise be dropped silently.
 */
export function checkAuthStateKey(config: Config, authenticator: Authenticator, crypt: CryptKeeper): void {
  if (!authStateRequired(config, authenticator) || crypt.enabled) return;
  const why = config.auth.enable_auth_state ? 'auth.enable_auth_state is true' : `the ${authenticator.kind} login keeps auth state (tokens, projects)`;
  throw new ConfigError(
    `${why}, but GANYMEDE_CRYPT_KEY is not set: auth state is kept encrypted and needs a key. ` +
      'Set GANYMEDE_CRYPT_KEY to 32 random bytes, as 64 hex characters (e.g. `export GANYMEDE_CRYPT_KEY=$(openssl rand -hex 32)`), ' +
      'and keep it: auth state stored with one key cannot be read with another.',
  );
}

/**
 * The value to store for a login's auth state: its ciphertext, or undefined
 * to leave the stored one alone (the login gave none, or the hub keeps none:
 * no key and nothing requires it; logged once so that it is never dropped in
 * silence).
 */
export function encryptAuthState(crypt: CryptKeeper, state: Record<string, unknown> | undefined, log: Logger): string | undefined {
  if (state === undefined) return undefined;
  if (!crypt.enabled) {
    if (!warned) {
      warned = true;
      log.warn('the login returned auth state, but it is not kept: set GANYMEDE_CRYPT_KEY (and auth.enable_auth_state) to keep it');
    }
    return undefined;
  }
  return crypt.encrypt(state);
}
let warned = false;

/** The user's current auth state, decrypted; null when none is stored or it cannot be read (logged). */
export async function loadAuthState(db: Kysely<DB>, crypt: CryptKeeper, userId: number, log: Logger): Promise<Record<string, unknown> | null> {
  const row = await db.selectFrom('users').select('auth_state').where('id', '=', userId).executeTakeFirst();
  return decryptAuthState(crypt, row?.auth_state ?? null, log);
}

/** Decrypts a stored auth state; null when there is none or it cannot be read (a changed key: logged). */
export function decryptAuthState(crypt: CryptKeeper, stored: string | null, log: Logger): Record<string, unknown> | null {
  if (!stored || !crypt.enabled) return null;
  try {
    const value = crypt.decrypt(stored);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'stored auth state cannot be decrypted (was GANYMEDE_CRYPT_KEY changed?); treated as none');
    return null;
  }
}
