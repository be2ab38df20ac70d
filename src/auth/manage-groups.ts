import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { DB } from '../db/schema.js';
import { groupNameProblem } from '../lib/names.js';

/**
 * `auth.manage_groups`: makes the user's hub groups exactly `groups` (from
 * the login): missing groups are created, the user is added to and removed
 * from groups to match. A name the group name rules refuse is skipped with
 * a log line (never created).
 */
export async function syncUserGroups(db: Kysely<DB>, userId: number, groups: readonly string[], log: Logger): Promise<void> {
  const wanted = new Set<string>();
  for (const name of groups) {
    const problem = groupNameProblem(name);
    if (problem) {
      log.warn({ group: name.slice(0, 80), reason: problem }, 'manage_groups: group from the login skipped');
      continue;
    }
    wanted.add(name);
  }
  await db.transaction().execute(async (tx) => {
    const ids: number[] = [];
    for (const name of wanted) {
      let row = await tx.selectFrom('groups').select('id').where('name', '=', name).executeTakeFirst();
      if (!row) {
        row = await tx.insertInto('groups').values({ name, properties: '{}' }).returning('id').executeTakeFirstOrThrow();
        log.info({ group: name }, 'manage_groups: group created');
      }
      ids.push(row.id);
    }
    const current = await tx.selectFrom('user_groups').select('group_id').where('user_id', '=', userId).execute();
    const have = new Set(current.map((r) => r.group_id));
    const drop = [...have].filter((id) => !ids.includes(id));
    if (drop.length) await tx.deleteFrom('user_groups').where('user_id', '=', userId).where('group_id', 'in', drop).execute();
    const add = ids.filter((id) => !have.has(id));
    if (add.length) await tx.insertInto('user_groups').values(add.map((group_id) => ({ user_id: userId, group_id }))).execute();
  });
}
