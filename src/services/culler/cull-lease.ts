import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';

const KEY = 'cull_lease';

/**
 * Several hub processes on one database: only the holder of the lease runs
 * a culling round. The lease is a `hub_settings` row `{owner, until}` taken
 * by a compare-and-set update, so two processes never both win it; a holder
 * that died loses it when `until` passes. (Two rounds at once would be
 * harmless anyway, each stop and delete being idempotent; the lease saves
 * the doubled requests.)
 */
export async function takeLease(db: Kysely<DB>, owner: string, seconds: number, now: Date = new Date()): Promise<boolean> {
  const value = JSON.stringify({ owner, until: new Date(now.getTime() + seconds * 1000).toISOString() });
  const current = await db.selectFrom('hub_settings').select('value').where('key', '=', KEY).executeTakeFirst();
  if (!current) {
    const res = await db.insertInto('hub_settings').values({ key: KEY, value }).onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }
  let held: { owner?: unknown; until?: unknown } = {};
  try {
    held = JSON.parse(current.value) as typeof held;
  } catch {
    // a damaged row is taken over
  }
  const free = held.owner === owner || typeof held.until !== 'string' || !(Date.parse(held.until) > now.getTime());
  if (!free) return false;
  const res = await db.updateTable('hub_settings').set({ value }).where('key', '=', KEY).where('value', '=', current.value).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Gives the lease up (at shutdown), if `owner` holds it. */
export async function releaseLease(db: Kysely<DB>, owner: string): Promise<void> {
  const current = await db.selectFrom('hub_settings').select('value').where('key', '=', KEY).executeTakeFirst();
  if (!current) return;
  try {
    if ((JSON.parse(current.value) as { owner?: unknown }).owner !== owner) return;
  } catch {
    return;
  }
  await db.deleteFrom('hub_settings').where('key', '=', KEY).where('value', '=', current.value).execute();
}
