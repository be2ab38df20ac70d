import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { setSetting } from '../db/repos/settings.js';
import { hashPassword } from '../lib/crypto.js';

/** The `hub_settings` key holding the hash of the generated shared password. */
export const SHARED_PASSWORD_SETTING = 'shared_password_hash';

/** A new random login password (16 characters, URL-safe) and its hash. */
export async function generateSharedPassword(): Promise<{ password: string; hash: string }> {
  const password = randomBytes(12).toString('base64url');
  return { password, hash: await hashPassword(password) };
}

/**
 * `ganymede password reset`: replaces the stored hash of the generated shared
 * password with a new one and returns the new password (shown once, never stored).
 */
export async function resetSharedPassword(db: Kysely<DB>): Promise<string> {
  const { password, hash } = await generateSharedPassword();
  await setSetting(db, SHARED_PASSWORD_SETTING, hash);
  return password;
}

/**
 * The framed notice that shows a generated password on the terminal: printed
 * once, after start-up is complete (or by `ganymede password reset`), with how
 * to choose one's own and how to get a new one.
 */
export function sharedPasswordNotice(password: string, heading: string): string {
  const rule = '='.repeat(72);
  return [
    '',
    rule,
    `  ${heading}`,
    '  Shown only this once; only its hash is stored.',
    '',
    `      ${password}`,
    '',
    '  Log in with any user name and this password.',
    '  New password:  ganymede password reset   (then restart the hub)',
    '  Your own:      set auth.shared_password or GANYMEDE_SHARED_PASSWORD',
    rule,
    '',
  ].join('\n');
}
