import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { DB } from '../db/schema.js';
import type { Authenticator } from './authenticator.js';
import { SharedPasswordAuthenticator } from './shared-password.js';

/** Builds the authenticator named by `auth.kind`. A new backend adds one case here. */
export function createAuthenticator(config: Config, db: Kysely<DB>, log: Logger): Authenticator {
  const a = config.auth;
  switch (a.kind) {
    case 'shared-password':
      return new SharedPasswordAuthenticator({
        db,
        log,
        password: a.shared_password ?? process.env['GANYMEDE_SHARED_PASSWORD'],
        adminPassword: a.admin_password,
        adminUsers: config.admin_users.map((u) => u.toLowerCase()),
        devUsers: a.dev_users,
      });
  }
}
