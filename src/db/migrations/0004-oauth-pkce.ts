import type { Kysely } from 'kysely';

/**
 * `oauth_codes.code_challenge` and `code_challenge_method`: the PKCE challenge
 * (RFC 7636) of the authorization request, checked against the
 * `code_verifier` when the code is exchanged.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('oauth_codes').addColumn('code_challenge', 'text').execute();
  await db.schema.alterTable('oauth_codes').addColumn('code_challenge_method', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('oauth_codes').dropColumn('code_challenge_method').execute();
  await db.schema.alterTable('oauth_codes').dropColumn('code_challenge').execute();
}
