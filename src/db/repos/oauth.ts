import type { Kysely, Selectable } from 'kysely';
import type { DB, OAuthClientsTable, OAuthCodesTable } from '../schema.js';
import { newToken, sha256 } from '../../lib/crypto.js';
import { isoIn, isoNow } from '../../lib/time.js';

export type OAuthClientRow = Selectable<OAuthClientsTable>;
export type OAuthCodeRow = Selectable<OAuthCodesTable>;

/** Registers (or replaces) an OAuth client; the secret is stored hashed. */
export async function upsertClient(
  db: Kysely<DB>,
  c: { identifier: string; secret: string; redirectUri: string; description: string; allowedScopes: string[]; userId: number | null; serverName: string | null },
): Promise<void> {
  const values = {
    identifier: c.identifier,
    secret_hash: sha256(c.secret),
    redirect_uri: c.redirectUri,
    description: c.description,
    allowed_scopes: JSON.stringify(c.allowedScopes),
    user_id: c.userId,
    server_name: c.serverName,
  };
  await db
    .insertInto('oauth_clients')
    .values(values)
    .onConflict((oc) => oc.column('identifier').doUpdateSet({ ...values }))
    .execute();
}

export async function getClient(db: Kysely<DB>, identifier: string): Promise<OAuthClientRow | undefined> {
  return db.selectFrom('oauth_clients').selectAll().where('identifier', '=', identifier).executeTakeFirst();
}

/** Issues a one-time authorization code, valid for 10 minutes. */
export async function createCode(
  db: Kysely<DB>,
  c: { clientId: string; userId: number; redirectUri: string; scopes: string[]; sessionId: string | null; pkce?: { challenge: string; method: 'S256' | 'plain' } },
): Promise<string> {
  const code = newToken();
  await db
    .insertInto('oauth_codes')
    .values({
      code_hash: sha256(code),
      client_id: c.clientId,
      user_id: c.userId,
      redirect_uri: c.redirectUri,
      scopes: JSON.stringify(c.scopes),
      session_id: c.sessionId,
      expires_at: isoIn(600),
      code_challenge: c.pkce?.challenge ?? null,
      code_challenge_method: c.pkce?.method ?? null,
    })
    .execute();
  return code;
}

/**
 * Takes a code: deletes it and returns it, so it works once (RFC 6749 §4.1.2),
 * even when the same code is redeemed by concurrent requests: the delete
 * itself returns the row, so only the request whose delete removed it gets it.
 * Expired codes are not found.
 */
export async function takeCode(db: Kysely<DB>, code: string): Promise<OAuthCodeRow | undefined> {
  const row = await db.deleteFrom('oauth_codes').where('code_hash', '=', sha256(code)).returningAll().executeTakeFirst();
  if (!row) return undefined;
  return row.expires_at > isoNow() ? row : undefined;
}
