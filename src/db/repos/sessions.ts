import type { Kysely, Selectable } from 'kysely';
import { randomBytes } from 'node:crypto';
import type { DB, SessionsTable } from '../schema.js';
import { isoIn, isoNow } from '../../lib/time.js';

export type SessionRow = Selectable<SessionsTable>;

export async function createSession(db: Kysely<DB>, userId: number, maxAgeSeconds: number): Promise<SessionRow> {
  const row = { id: randomBytes(16).toString('hex'), user_id: userId, created: isoNow(), expires_at: isoIn(maxAgeSeconds), xsrf: randomBytes(16).toString('hex') };
  await db.insertInto('sessions').values(row).execute();
  return row;
}

export async function getSession(db: Kysely<DB>, id: string): Promise<SessionRow | undefined> {
  const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
  return row && row.expires_at > isoNow() ? row : undefined;
}

export async function deleteSession(db: Kysely<DB>, id: string): Promise<void> {
  await db.deleteFrom('sessions').where('id', '=', id).execute();
}
