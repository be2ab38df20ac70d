import type { Kysely, Transaction } from 'kysely';
import type { Config } from '../config/schema.js';
import type { DB } from '../db/schema.js';
import { ConfigError } from '../lib/errors.js';
import { isBuiltinRole } from '../rbac/roles.js';
import { validateScopes } from '../rbac/scopes.js';

/** Role names a config can write start with a letter, so this prefix never meets one. */
export const IMPLICIT_ROLE_PREFIX = '_service-';

/** The role holding the `scopes:` of service `name`. */
export function implicitServiceRole(name: string): string {
  return `${IMPLICIT_ROLE_PREFIX}${name}`;
}

/**
 * Checks, before any write, that every role a service is given exists (built
 * in, in `roles`, or stored) and every service `roles[].services` names is
 * listed, and the inline scopes (errors name the service or role).
 */
export async function checkServiceRoleRefs(db: Kysely<DB>, roles: Config['roles'], services: Config['services']): Promise<void> {
  checkServiceRoles(services);
  const names = new Set(services.map((s) => s.name));
  for (const role of roles) {
    for (const name of role.services) {
      if (!names.has(name)) throw new ConfigError(`config: roles: ${role.name}: no service named ${JSON.stringify(name)} in services`);
    }
  }
  const configured = new Set(roles.map((r) => r.name));
  for (const s of services) {
    for (const role of s.roles) {
      if (isBuiltinRole(role) || configured.has(role)) continue;
      const stored = await db.selectFrom('roles').select('name').where('name', '=', role).executeTakeFirst();
      if (!stored) throw new ConfigError(`config: services: ${JSON.stringify(s.name)}: roles: no role named ${JSON.stringify(role)} (neither built in nor in roles)`);
    }
  }
}

/** Checks the inline `roles` and `scopes` of each service (errors name the service), before any write. */
export function checkServiceRoles(services: Config['services']): void {
  for (const s of services) {
    const where = `config: services: ${JSON.stringify(s.name)}`;
    const err = validateScopes(s.scopes);
    if (err !== null) throw new ConfigError(`${where}: scopes: ${err}`);
    for (const role of s.roles) {
      if (role.startsWith(IMPLICIT_ROLE_PREFIX)) throw new ConfigError(`${where}: roles: ${JSON.stringify(role)} is an implicit role; give the service scopes instead`);
    }
  }
}

/**
 * Gives each service exactly the roles config gives it: those naming it in
 * `roles[].services`, those in its own `roles:`, and its implicit role when it
 * has `scopes:` (created, updated, or deleted with the scopes). Runs inside
 * loadRoles' transaction, after the configured roles are stored.
 */
export async function syncServiceRoles(tx: Transaction<DB> | Kysely<DB>, roles: Config['roles'], services: Config['services']): Promise<void> {
  const wanted = new Map<string, Set<string>>(services.map((s) => [s.name, new Set(s.roles)]));
  for (const role of roles) {
    for (const name of role.services) {
      const set = wanted.get(name);
      if (!set) throw new ConfigError(`config: roles: ${role.name}: no service named ${JSON.stringify(name)} in services`);
      set.add(role.name);
    }
  }
  const implicit = new Set<string>();
  for (const s of services) {
    if (!s.scopes.length) continue;
    const name = implicitServiceRole(s.name);
    implicit.add(name);
    wanted.get(s.name)!.add(name);
    const values = { name, description: `The scopes of service ${s.name} (services[].scopes)`, scopes: JSON.stringify(s.scopes) };
    await tx.insertInto('roles').values(values).onConflict((oc) => oc.column('name').doUpdateSet({ description: values.description, scopes: values.scopes })).execute();
  }
  const stale = (await tx.selectFrom('roles').select('name').execute()).map((r) => r.name).filter((n) => n.startsWith(IMPLICIT_ROLE_PREFIX) && !implicit.has(n));
  if (stale.length) {
    await tx.deleteFrom('service_roles').where('role', 'in', stale).execute();
    await tx.deleteFrom('roles').where('name', 'in', stale).execute();
  }
  const configured = new Set(roles.map((r) => r.name));
  const rows = await tx.selectFrom('services').select(['id', 'name']).execute();
  for (const row of rows) {
    const want = wanted.get(row.name);
    if (!want) continue; // not in this config: loadServices deletes it
    for (const role of want) {
      if (isBuiltinRole(role) || configured.has(role) || implicit.has(role)) continue;
      const stored = await tx.selectFrom('roles').select('name').where('name', '=', role).executeTakeFirst();
      if (!stored) throw new ConfigError(`config: services: ${JSON.stringify(row.name)}: roles: no role named ${JSON.stringify(role)} (neither built in nor in roles)`);
    }
    await tx.deleteFrom('service_roles').where('service_id', '=', row.id).execute();
    if (want.size) await tx.insertInto('service_roles').values([...want].map((role) => ({ service_id: row.id, role }))).execute();
  }
}
