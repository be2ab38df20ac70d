import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { findServiceToken, getServiceById, rolesOfService, touchServiceToken, type ServiceRow, type ServiceTokenRow } from '../db/repos/services.js';
import { expandScopes, intersectScopes } from '../rbac/scopes.js';
import { groupsOfNamedUsers, scopesOfRoles, type Identity } from './identity.js';

/**
 * A service making an API request with one of its tokens. Services are not
 * users: they have no cookie, no login, no servers and no groups.
 */
export interface ServiceIdentity {
  kind: 'service';
  service: ServiceRow;
  user?: undefined;
  roles: string[];
  groups: string[];
  /** The request's effective scopes, expanded. */
  scopes: Set<string>;
  token: ServiceTokenRow;
  sessionId: null;
  via: 'token';
}

/** Whoever makes an API request: a user (token or cookie) or a service (token). */
export type Requester = Identity | ServiceIdentity;

/** The roles of a service: those assigned in config, and `admin` for the deprecated admin flag. */
export async function serviceRoles(db: Kysely<DB>, service: ServiceRow): Promise<string[]> {
  const roles = new Set(await rolesOfService(db, service.id));
  if (service.admin === 1) roles.add('admin');
  return [...roles].sort();
}

/** All scopes a service holds through its roles (`self` gives a service nothing). */
export async function scopesOfService(db: Kysely<DB>, service: ServiceRow, roles: readonly string[]): Promise<Set<string>> {
  return scopesOfRoles(db, roles, { service: service.name });
}

/** Identifies a service by one of its tokens; null if `token` is no service's. */
export async function identifyService(db: Kysely<DB>, token: string): Promise<ServiceIdentity | null> {
  const row = await findServiceToken(db, token);
  if (!row) return null;
  const service = await getServiceById(db, row.service_id);
  if (!service) return null;
  const roles = await serviceRoles(db, service);
  const held = await scopesOfService(db, service, roles);
  const own = JSON.parse(row.scopes) as string[];
  // a token's `!user=`/`!server=` scopes survive against the service's `!group=` ones for members of the group
  const groupsOf = !own.includes('inherit') && [...held].some((s) => s.includes('!group=')) ? await groupsOfNamedUsers(db, own) : undefined;
  const scopes = own.includes('inherit') ? held : intersectScopes(expandScopes(own, { service: service.name }), held, groupsOf);
  void touchServiceToken(db, row).catch(() => undefined);
  return { kind: 'service', service, roles, groups: [], scopes, token: row, sessionId: null, via: 'token' };
}
