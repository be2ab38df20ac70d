import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import type { DB } from '../db/schema.js';
import { ConfigError } from '../lib/errors.js';
import { normalizeUsername } from '../lib/names.js';
import { isBuiltinRole, validateRole } from '../rbac/roles.js';
import { ensureUser } from '../db/repos/users.js';
import { createGroup, getGroup } from '../db/repos/groups.js';
import { checkServiceRoles, syncServiceRoles } from '../services/service-roles.js';

/** Throws ConfigError for the first role definition that cannot be stored (checked before anything is written). */
export function checkRoles(roles: Config['roles']): void {
  for (const role of roles) {
    // a built-in role is listed to assign it: its (empty) default description is not an override
    const problem = validateRole(isBuiltinRole(role.name) && role.description === '' ? { name: role.name, scopes: role.scopes.length ? role.scopes : undefined } : role);
    if (problem) throw new ConfigError(`config: roles: ${problem}`);
    if (isBuiltinRole(role.name) && role.scopes.length) throw new ConfigError(`config: roles: ${role.name} is a built-in role; its scopes cannot be changed here`);
  }
}

/**
 * Applies `roles` from config: each role is stored with its scopes, and
 * assigned to exactly the users and groups listed (earlier assignments of a
 * configured role that are no longer listed are removed). Each service of
 * `services` gets exactly the roles config gives it: `roles[].services`, its
 * own `roles:` and the implicit role of its `scopes:` (services must be
 * loaded first: see services-loader.ts; give the same `services` list).
 */
export async function loadRoles(db: Kysely<DB>, roles: Config['roles'], services: Config['services']): Promise<void> {
  checkRoles(roles);
  checkServiceRoles(services);
  await db.transaction().execute(async (tx) => {
    for (const role of roles) {
      if (!isBuiltinRole(role.name)) {
        const values = { name: role.name, description: role.description, scopes: JSON.stringify(role.scopes) };
        await tx
          .insertInto('roles')
          .values(values)
          .onConflict((oc) => oc.column('name').doUpdateSet({ description: values.description, scopes: values.scopes }))
          .execute();
      }
      await tx.deleteFrom('user_roles').where('role', '=', role.name).execute();
      await tx.deleteFrom('group_roles').where('role', '=', role.name).execute();
      for (const name of role.users) {
        const user = await ensureUser(tx, normalizeUsername(name));
        await tx.insertInto('user_roles').values({ user_id: user.id, role: role.name }).execute();
      }
      for (const name of role.groups) {
        const group = (await getGroup(tx, name)) ?? (await createGroup(tx, name));
        await tx.insertInto('group_roles').values({ group_id: group.id, role: role.name }).execute();
      }
    }
    await syncServiceRoles(tx, roles, services);
  });
}
