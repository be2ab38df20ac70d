/**
 * JupyterHub 5.5 built-in roles as data, and validation of custom roles
 * (`JupyterHub.load_roles`).
 *
 * @see https://jupyterhub.readthedocs.io/en/5.5.0/rbac/roles.html
 */
import { scopeDefinitions, validateScopes, type ScopeDefinitions } from './scopes.js';

/** A role: a named collection of raw scopes. */
export interface RoleSpec {
  readonly name: string;
  readonly description?: string;
  readonly scopes: readonly string[];
}

export type BuiltinRoleName = 'user' | 'admin' | 'server' | 'token';

/**
 * The four roles every hub has (JupyterHub 5.5.1 `roles.py`, `get_default_roles`).
 * They cannot be deleted; `admin` cannot be changed; the others may be redefined
 * by configuration (Z2JH deployments commonly redefine `server`).
 */
export const builtinRoles: Readonly<Record<BuiltinRoleName, RoleSpec>> = Object.freeze({
  user: Object.freeze({
    name: 'user',
    description: 'Standard user privileges',
    scopes: Object.freeze(['self']),
  }),
  admin: Object.freeze({
    name: 'admin',
    description: 'Elevated privileges (can do anything)',
    scopes: Object.freeze([
      'admin-ui',
      'admin:users',
      'admin:servers',
      'admin:services',
      'tokens',
      'admin:groups',
      'list:services',
      'read:services',
      'read:hub',
      'proxy',
      'shutdown',
      'access:services',
      'access:servers',
      'read:roles',
      'read:metrics',
      'shares',
      // Ganymede's own scope: the audit log
      'read:audit',
    ]),
  }),
  /**
   * The default scopes of a server's own API token. This changed after 3.x:
   * JupyterHub 3.0.0 had `access:servers!user` (any server of the user) where
   * 5.x has `access:servers!server` (only this server).
   */
  server: Object.freeze({
    name: 'server',
    description: 'Post activity only',
    scopes: Object.freeze(['users:activity!user', 'access:servers!server']),
  }),
  token: Object.freeze({
    name: 'token',
    description: 'Token with same permissions as its owner',
    scopes: Object.freeze(['inherit']),
  }),
});

export function isBuiltinRole(name: string): name is BuiltinRoleName {
  return Object.hasOwn(builtinRoles, name);
}

/**
 * The raw scopes of a role: a custom definition in `customRoles` wins over the
 * built-in one (except for `admin`, which cannot be changed).
 *
 * @returns a copy of the scopes, or `[]` for a name that is neither built in
 *   nor in `customRoles` (look such roles up elsewhere, e.g. the database).
 */
export function roleScopes(name: string, customRoles: ReadonlyMap<string, RoleSpec> = new Map()): string[] {
  const custom = name === 'admin' ? undefined : customRoles.get(name);
  if (custom !== undefined) return [...custom.scopes];
  if (isBuiltinRole(name)) return [...builtinRoles[name].scopes];
  return [];
}

/** JupyterHub's rule for role names: 3–255 characters, `a-z0-9-_~.`, starting with a letter and ending with a letter or digit. */
export const roleNamePattern = /^[a-z][a-z0-9\-_~.]{1,253}[a-z0-9]$/;

/**
 * Check a role definition from configuration or the API.
 *
 * @returns an error message, or null if the role is valid. A role without
 *   scopes is valid (JupyterHub only warns).
 */
export function validateRole(
  role: { name: string; scopes?: readonly string[]; description?: string },
  defs: ScopeDefinitions = scopeDefinitions,
): string | null {
  if (typeof role.name !== 'string' || !roleNamePattern.test(role.name)) {
    return (
      `Invalid role name: ${JSON.stringify(role.name)}. Role names must be 3-255 characters, ` +
      "contain only lowercase ASCII letters, digits and '-.~_', start with a letter and end with a letter or digit"
    );
  }
  if (role.description !== undefined && typeof role.description !== 'string') {
    return `Role ${role.name}: description must be a string`;
  }
  if (role.scopes !== undefined) {
    if (!Array.isArray(role.scopes)) return `Role ${role.name}: scopes must be a list of strings`;
    const err = validateScopes(role.scopes, defs);
    if (err !== null) return `Role ${role.name}: ${err}`;
  }
  if (role.name === 'admin') {
    const admin = builtinRoles.admin;
    if (role.description !== undefined && role.description !== admin.description) {
      return 'Cannot override admin role admin.description';
    }
    if (role.scopes !== undefined && !sameList(role.scopes, admin.scopes)) {
      return 'Cannot override admin role admin.scopes';
    }
  }
  return null;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}
