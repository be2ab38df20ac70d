import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { DB } from '../db/schema.js';
import { getSetting, setSetting } from '../db/repos/settings.js';
import { hashPassword, safeEqual, verifyPassword } from '../lib/crypto.js';
import type { Authenticator, AuthResult } from './authenticator.js';

const SETTING_KEY = 'shared_password_hash';

/**
 * Everyone logs in with one shared password (plus, optionally, a separate
 * password for admins). The password comes from config or
 * GANYMEDE_SHARED_PASSWORD; otherwise one is generated at first start,
 * printed once, and only its hash is kept in the database.
 */
export class SharedPasswordAuthenticator implements Authenticator {
  readonly kind = 'shared-password';
  private hash: string | undefined;

  constructor(
    private readonly opts: {
      db: Kysely<DB>;
      log: Logger;
      password: string | undefined;
      adminPassword: string | undefined;
      adminUsers: string[];
      /** Where the generated password is announced (stderr by default). */
      announce?: (line: string) => void;
    },
  ) {}

  async init(): Promise<void> {
    if (this.opts.password) return;
    const stored = await getSetting(this.opts.db, SETTING_KEY);
    if (stored) {
      this.hash = stored;
      return;
    }
    const generated = randomBytes(12).toString('base64url');
    this.hash = await hashPassword(generated);
    await setSetting(this.opts.db, SETTING_KEY, this.hash);
    const announce = this.opts.announce ?? ((line: string) => process.stderr.write(`${line}\n`));
    announce(`\n  Ganymede generated the shared login password (shown only this once):\n\n      ${generated}\n\n  Set auth.shared_password or GANYMEDE_SHARED_PASSWORD to choose your own.\n`);
    this.opts.log.warn('generated a shared password at first start; it was printed to the terminal once and is stored hashed');
  }

  async authenticate(_req: unknown, form: Record<string, string>): Promise<AuthResult | null> {
    const name = (form['username'] ?? '').trim();
    const password = form['password'] ?? '';
    if (!name || !password) return null;
    if (this.opts.adminPassword && safeEqual(password, this.opts.adminPassword)) {
      return this.opts.adminUsers.includes(name.toLowerCase()) ? { name, admin: true } : null;
    }
    if (this.opts.password) return safeEqual(password, this.opts.password) ? { name } : null;
    if (this.hash && (await verifyPassword(password, this.hash))) return { name };
    return null;
  }
}
