import type {} from '@fastify/cookie';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { getUserById, type UserRow } from '../db/repos/users.js';
import { findToken, touchToken, type TokenRow } from '../db/repos/tokens.js';
import { getSession } from '../db/repos/sessions.js';
import { expandScopes, intersectScopes, type GroupsOf, type ScopeOwner } from '../rbac/scopes.js';
import { roleScopes } from '../rbac/roles.js';
import { LOGIN_COOKIE } from './cookies.js';

/** Which user is making a request, and what they may do (services: see service-identity.ts). */
export interface Identity {
  kind: 'user';
  user: UserRow;
  service?: undefined;
  groups: string[];
  roles: string[];
  /** The request's effective scopes, expanded (filters resolved). */
  scopes: Set<string>;
  token: TokenRow | null;
  sessionId: string | null;
  via: 'token' | 'cookie';
}

const AUTH_HEADER = /^(?:token|bearer)\s+(\S+)\s*$/i;

/** The token in `Authorization: token|bearer <t>`, if any. */
export function tokenFromHeader(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  return AUTH_HEADER.exec(header)?.[1];
}

export async function userRolesAndGroups(db: Kysely<DB>, user: UserRow): Promise<{ roles: string[]; groups: string[] }> {
  const [roleRows, groupRows] = await Promise.all([
    db.selectFrom('user_roles').select('role').where('user_id', '=', user.id).execute(),
    db
      .selectFrom('user_groups')
      .innerJoin('groups', 'groups.id', 'user_groups.group_id')
      .select(['groups.name', 'groups.id'])
      .where('user_groups.user_id', '=', user.id)
      .execute(),
  ]);
  const roles = new Set<string>(['user']);
  if (user.admin) roles.add('admin');
  for (const r of roleRows) roles.add(r.role);
  if (groupRows.length) {
    const groupRoles = await db.selectFrom('group_roles').select('role').where('group_id', 'in', groupRows.map((g) => g.id)).execute();
    for (const r of groupRoles) roles.add(r.role);
  }
  return { roles: [...roles].sort(), groups: groupRows.map((g) => g.name).sort() };
}

/** All scopes a user holds through their roles, expanded. */
export async function scopesOfUser(db: Kysely<DB>, user: UserRow, roles: string[]): Promise<Set<string>> {
  return scopesOfRoles(db, roles, { user: user.name });
}

/** The scopes of `roles` (built in, or custom from the database), expanded for `owner`. */
export async function scopesOfRoles(db: Kysely<DB>, roles: readonly string[], owner: ScopeOwner): Promise<Set<string>> {
  const raw: string[] = [];
  const custom: string[] = [];
  for (const role of roles) {
    const builtin = roleScopes(role);
    if (builtin.length) raw.push(...builtin);
    else custom.push(role);
  }
  if (custom.length) {
    const rows = await db.selectFrom('roles').select('scopes').where('name', 'in', custom).execute();
    for (const r of rows) raw.push(...(JSON.parse(r.scopes) as string[]));
  }
  return expandScopes(raw, owner);
}

/**
 * The effective scopes of a token: its own, within what its owner holds.
 * `groupsOf` lets a `!user=`/`!server=` scope of the token survive against a
 * `!group=` scope of the owner (an OAuth token for a teammate's server, held
 * through `access:servers!group=team`); without it such scopes are dropped.
 */
export function scopesOfToken(token: TokenRow, ownerScopes: Set<string>, ownerName: string, groupsOf?: GroupsOf): Set<string> {
  const own = JSON.parse(token.scopes) as string[];
  if (own.includes('inherit')) return ownerScopes;
  const server = token.server_name !== null ? `${ownerName}/${token.server_name}` : undefined;
  return intersectScopes(expandScopes(own, server === undefined ? { user: ownerName } : { user: ownerName, server }), ownerScopes, groupsOf);
}

/**
 * A synchronous group lookup for `intersectScopes`, preloaded from the
 * database for every user named in the `!user=` / `!server=` filters of
 * `scopes` (`known` is used as is).
 */
export async function groupsOfNamedUsers(db: Kysely<DB>, scopes: Iterable<string>, known: Map<string, readonly string[]> = new Map()): Promise<GroupsOf> {
  const names = new Set<string>();
  for (const s of scopes) {
    const m = /!(user|server)=([^/]*)/.exec(s);
    if (m && !known.has(m[2]!)) names.add(m[2]!);
  }
  const groups = new Map(known);
  if (names.size) {
    const rows = await db
      .selectFrom('user_groups')
      .innerJoin('groups', 'groups.id', 'user_groups.group_id')
      .innerJoin('users', 'users.id', 'user_groups.user_id')
      .select(['users.name as user', 'groups.name as group'])
      .where('users.name', 'in', [...names])
      .execute();
    for (const r of rows) groups.set(r.user, [...(groups.get(r.user) ?? []), r.group]);
  }
  return (user) => groups.get(user) ?? [];
}

/**
 * Identifies a request by its token (header) or, when `allowCookie`, its login
 * cookie. Returns null when it carries neither or they are not valid.
 */
export async function identify(db: Kysely<DB>, req: FastifyRequest, allowCookie: boolean): Promise<Identity | null> {
  const token = tokenFromHeader(req);
  if (token) {
    const row = await findToken(db, token);
    if (!row) return null;
    const user = await getUserById(db, row.user_id);
    if (!user) return null;
    const { roles, groups } = await userRolesAndGroups(db, user);
    const ownerScopes = await scopesOfUser(db, user, roles);
    // group lookups only when the owner holds a group-filtered scope for the token's user/server scopes to fall under
    const groupsOf = [...ownerScopes].some((s) => s.includes('!group=')) ? await groupsOfNamedUsers(db, JSON.parse(row.scopes) as string[], new Map([[user.name, groups]])) : undefined;
    void touchToken(db, row).catch(() => undefined);
    return { kind: 'user', user, roles, groups, scopes: scopesOfToken(row, ownerScopes, user.name, groupsOf), token: row, sessionId: row.session_id, via: 'token' };
  }
  if (!allowCookie) return null;
  const session = await sessionFromCookie(db, req);
  if (!session) return null;
  const { roles, groups } = await userRolesAndGroups(db, session.user);
  return { kind: 'user', user: session.user, roles, groups, scopes: await scopesOfUser(db, session.user, roles), token: null, sessionId: session.id, via: 'cookie' };
}

export async function sessionFromCookie(db: Kysely<DB>, req: FastifyRequest): Promise<{ id: string; user: UserRow } | null> {
  const raw = req.cookies[LOGIN_COOKIE];
  if (!raw) return null;
  const unsigned = req.unsignCookie(raw);
  if (!unsigned.valid || !unsigned.value) return null;
  const session = await getSession(db, unsigned.value);
  if (!session) return null;
  const user = await getUserById(db, session.user_id);
  return user ? { id: session.id, user } : null;
}
