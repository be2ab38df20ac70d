import type { Kysely } from 'kysely';

/**
 * `users.last_refresh`: when the user's credentials were last checked with
 * the authenticator (at login and at every refresh), so a cookie request
 * asks for a refresh only when `auth.auth_refresh_age` has passed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('last_refresh', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('last_refresh').execute();
}
