import type { Kysely, Selectable } from 'kysely';
import type { ApiTokensTable, DB } from '../schema.js';
import { newToken, safeEqual, sha256, TOKEN_PREFIX_LENGTH } from '../../lib/crypto.js';
import { isoIn, isoNow } from '../../lib/time.js';

export type TokenRow = Selectable<ApiTokensTable>;

/** The longest lifetime a token may be given, in seconds (100 years; a longer one is not a date). */
export const MAX_TOKEN_EXPIRES_IN = 100 * 365 * 86400;

export interface NewTokenOptions {
  kind: 'api' | 'server' | 'oauth';
  scopes: string[];
  note?: string;
  expiresIn?: number | null;
  sessionId?: string | null;
  clientId?: string | null;
  serverName?: string | null;
  /** Use this token value instead of generating one. */
  token?: string;
}

/** Creates a token; the plain token is returned once and only its hash is stored. */
export async function createToken(db: Kysely<DB>, userId: number, opts: NewTokenOptions): Promise<{ token: string; row: TokenRow }> {
  const token = opts.token ?? newToken();
  const row = await db
    .insertInto('api_tokens')
    .values({
      prefix: token.slice(0, TOKEN_PREFIX_LENGTH),
      hashed: sha256(token),
      user_id: userId,
      kind: opts.kind,
      scopes: JSON.stringify(opts.scopes),
      note: opts.note ?? '',
      created: isoNow(),
      expires_at: opts.expiresIn ? isoIn(opts.expiresIn) : null,
      last_activity: null,
      session_id: opts.sessionId ?? null,
      client_id: opts.clientId ?? null,
      server_name: opts.serverName ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { token, row };
}

/** Finds a token by its plain value (prefix lookup, then constant-time hash compare); expired tokens are not found. */
export async function findToken(db: Kysely<DB>, token: string): Promise<TokenRow | undefined> {
  if (token.length < TOKEN_PREFIX_LENGTH + 4 || token.length > 256) return undefined;
  const rows = await db.selectFrom('api_tokens').selectAll().where('prefix', '=', token.slice(0, TOKEN_PREFIX_LENGTH)).execute();
  const hashed = sha256(token);
  const now = isoNow();
  return rows.find((r) => safeEqual(r.hashed, hashed) && (r.expires_at === null || r.expires_at > now));
}

export async function listTokens(db: Kysely<DB>, userId: number): Promise<TokenRow[]> {
  const now = isoNow();
  return db
    .selectFrom('api_tokens')
    .selectAll()
    .where('user_id', '=', userId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .orderBy('id')
    .execute();
}

export async function getToken(db: Kysely<DB>, userId: number, id: number): Promise<TokenRow | undefined> {
  return db.selectFrom('api_tokens').selectAll().where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
}

export async function deleteToken(db: Kysely<DB>, id: number): Promise<void> {
  await db.deleteFrom('api_tokens').where('id', '=', id).execute();
}

export async function deleteTokensOfSession(db: Kysely<DB>, sessionId: string): Promise<void> {
  await db.deleteFrom('api_tokens').where('session_id', '=', sessionId).execute();
}

/**
 * Revokes every credential of one server, as JupyterHub does when a server
 * stops: its API token (`JUPYTERHUB_API_TOKEN`, kind 'server'), and its OAuth
 * client (whose secret is that token) with the codes and tokens issued to it,
 * so a stopped server's credentials can neither call the API nor log anyone
 * in. Called on every stop, failed spawn and cleared server, and before a
 * spawn registers fresh ones.
 */
export async function deleteServerTokens(db: Kysely<DB>, userId: number, serverName: string): Promise<void> {
  await db.deleteFrom('api_tokens').where('user_id', '=', userId).where('kind', '=', 'server').where('server_name', '=', serverName).execute();
  const clients = await db.selectFrom('oauth_clients').select('identifier').where('user_id', '=', userId).where('server_name', '=', serverName).execute();
  const ids = clients.map((c) => c.identifier);
  if (ids.length === 0) return;
  await db.deleteFrom('api_tokens').where('kind', '=', 'oauth').where('client_id', 'in', ids).execute();
  await db.deleteFrom('oauth_codes').where('client_id', 'in', ids).execute();
  await db.deleteFrom('oauth_clients').where('identifier', 'in', ids).execute();
}

/** Records use of a token, at most once a minute per token to spare writes. */
export async function touchToken(db: Kysely<DB>, row: TokenRow): Promise<void> {
  const now = isoNow();
  if (row.last_activity && Date.parse(now) - Date.parse(row.last_activity) < 60_000) return;
  row.last_activity = now;
  await db.updateTable('api_tokens').set({ last_activity: now }).where('id', '=', row.id).execute();
}
