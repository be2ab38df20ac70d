import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import { createServiceToken, getService, upsertService } from '../../db/repos/services.js';
import { ConfigError } from '../../lib/errors.js';
import { isoNow } from '../../lib/time.js';

/** The built-in culler's service (and role) name. Not to be listed in `services:` or `roles:` when `cull.enabled`. */
export const CULLER_SERVICE = 'cull-idle';

/** The services the hub keeps for itself under this configuration (not deleted as "no longer configured"). */
export function builtinServices(config: { cull: { enabled: boolean } }): string[] {
  return config.cull.enabled ? [CULLER_SERVICE] : [];
}

/**
 * The scopes the culler needs: list users with their servers and activity,
 * stop servers; with `cull.users`, delete users (narrower than
 * jupyterhub-idle-culler's documented `admin:users`, which also works).
 */
export function cullerScopes(cullUsers: boolean): string[] {
  const scopes = ['list:users', 'read:users:activity', 'read:servers', 'delete:servers'];
  if (cullUsers) scopes.push('delete:users');
  return scopes;
}

/** Names the culler's service and role take; a configuration listing either is refused. */
export function cullerNameClash(services: readonly { name: string }[], roles: readonly { name: string }[]): string | undefined {
  if (services.some((s) => s.name === CULLER_SERVICE)) return `services: the name ${CULLER_SERVICE} is the built-in culler's (cull.enabled); name your service otherwise`;
  if (roles.some((r) => r.name === CULLER_SERVICE)) return `roles: the name ${CULLER_SERVICE} is the built-in culler's role (cull.enabled); name your role otherwise`;
  return undefined;
}

/**
 * Makes sure the culler's service exists with a role of exactly its scopes,
 * and returns a new token for one round (`ttlSeconds` long; revoke it with
 * {@link revokeRoundToken} after the round). Tokens of the culler's service
 * that have expired (rounds a stopped hub left behind) are deleted. The
 * plain token is never stored: only its hash is.
 */
export async function roundToken(db: Kysely<DB>, opts: { cullUsers: boolean; ttlSeconds: number; services: readonly { name: string }[]; roles: readonly { name: string }[] }): Promise<{ token: string; id: number }> {
  const clash = cullerNameClash(opts.services, opts.roles);
  if (clash) throw new ConfigError(`config: ${clash}`);
  const scopes = JSON.stringify(cullerScopes(opts.cullUsers));
  return db.transaction().execute(async (tx) => {
    const service =
      (await getService(tx, CULLER_SERVICE)) ??
      (await upsertService(tx, { name: CULLER_SERVICE, admin: false, url: null, display: false, oauthNoConfirm: false, info: { builtin: 'idle culler (cull.enabled)' } }));
    await tx
      .insertInto('roles')
      .values({ name: CULLER_SERVICE, description: 'The built-in idle culler (cull.enabled)', scopes })
      .onConflict((oc) => oc.column('name').doUpdateSet({ scopes }))
      .execute();
    const linked = await tx.selectFrom('service_roles').select('role').where('service_id', '=', service.id).where('role', '=', CULLER_SERVICE).executeTakeFirst();
    if (!linked) await tx.insertInto('service_roles').values({ service_id: service.id, role: CULLER_SERVICE }).execute();
    await tx.deleteFrom('service_tokens').where('service_id', '=', service.id).where('expires_at', '<', isoNow()).execute();
    const { token, row } = await createServiceToken(tx, service.id, { kind: 'api', scopes: ['inherit'], note: 'idle culler round', expiresIn: opts.ttlSeconds });
    return { token, id: row.id };
  });
}

/** Deletes a round's token. */
export async function revokeRoundToken(db: Kysely<DB>, id: number): Promise<void> {
  await db.deleteFrom('service_tokens').where('id', '=', id).execute();
}
