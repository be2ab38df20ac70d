import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { DB } from '../db/schema.js';
import { getSetting, setSetting } from '../db/repos/settings.js';
import { hashPassword, safeEqual, verifyPassword } from '../lib/crypto.js';
import { HubError } from '../lib/errors.js';
import { normalizeUsername } from '../lib/names.js';
import type { Authenticator, AuthResult } from './authenticator.js';

const SETTING_KEY = 'shared_password_hash';

/**
 * Everyone logs in with one shared password. The password comes from config or
 * GANYMEDE_SHARED_PASSWORD; otherwise one is generated at first start,
 * printed once, and only its hash is kept in the database.
 *
 * Admins never log in with the shared password (anyone who knows it could
 * otherwise name an admin and become one): `admin_users`, and users made
 * admin by the API or the admin role, log in only with `auth.admin_password`;
 * without it they cannot log in here at all.
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
    if (!this.opts.adminPassword && this.opts.adminUsers.length) {
      this.opts.log.warn(
        { admin_users: this.opts.adminUsers },
        'admin_users cannot log in: the shared-password login refuses admins the shared password, and auth.admin_password is not set',
      );
    }
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
    const admin = await this.isAdmin(normalizeUsername(name));
    if (admin) {
      if (this.opts.adminPassword && safeEqual(password, this.opts.adminPassword)) return { name, admin: true };
      if (!(await this.isSharedPassword(password))) return null;
      // only someone who knows the shared password learns why
      throw new HubError(
        403,
        this.opts.adminPassword
          ? `${name} is an admin: admins log in with the admin password (auth.admin_password), not the shared password`
          : `${name} is an admin, and admins cannot log in with the shared password; set auth.admin_password to let admins log in`,
      );
    }
    return (await this.isSharedPassword(password)) ? { name } : null;
  }

  private async isSharedPassword(password: string): Promise<boolean> {
    if (this.opts.password) return safeEqual(password, this.opts.password);
    return this.hash !== undefined && (await verifyPassword(password, this.hash));
  }

  /** In admin_users, or admin in the database (flag, or the admin role directly or through a group). */
  private async isAdmin(name: string): Promise<boolean> {
    if (this.opts.adminUsers.map(normalizeUsername).includes(name)) return true;
    const user = await this.opts.db.selectFrom('users').select(['id', 'admin']).where('name', '=', name).executeTakeFirst();
    if (!user) return false;
    if (user.admin === 1) return true;
    const direct = await this.opts.db.selectFrom('user_roles').select('role').where('user_id', '=', user.id).where('role', '=', 'admin').executeTakeFirst();
    if (direct) return true;
    const viaGroup = await this.opts.db
      .selectFrom('user_groups')
      .innerJoin('group_roles', 'group_roles.group_id', 'user_groups.group_id')
      .select('group_roles.role')
      .where('user_groups.user_id', '=', user.id)
      .where('group_roles.role', '=', 'admin')
      .executeTakeFirst();
    return viaGroup !== undefined;
  }
}
