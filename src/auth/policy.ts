import type { Config } from '../config/schema.js';
import { normalizeUsername, usernameProblem } from '../lib/names.js';
import { quoteName } from '../lib/quote-name.js';
import type { AuthResult } from './authenticator.js';

/**
 * The hub's answer to an authenticator's result. A refusal says why; `badName`
 * marks a name the name rules refuse (lib/names.ts), which the login page
 * shows as such (400) rather than as "not allowed" (403).
 */
export type PolicyDecision =
  | { ok: true; name: string; admin: boolean | undefined; groups?: string[] }
  | { ok: false; reason: string; badName?: true };

/** The parts of the config the login policy reads. */
export type PolicyConfig = Pick<Config, 'allowed_users' | 'admin_users' | 'blocked_users'> &
  Partial<Pick<Config, 'services'>> & {
    auth?: Partial<Pick<Config['auth'], 'allowed_groups' | 'admin_groups'>>;
  };

/**
 * Applies the name rules, the allow, block and admin lists and the group
 * options to an authenticator's answer, for every backend alike. The name is
 * checked before anything else, so no user is ever created under a name the
 * rules refuse. `admin_users` become admin here, so an authenticator must not
 * return an admin for credentials anyone has (the shared-password one asks
 * admins for `auth.admin_password`). A service's name is refused: services
 * are not users and nobody logs in as one.
 *
 * Groups: with `auth.allowed_groups`, a user in none of them (and not in
 * `allowed_users`, `admin_users` or `auth.admin_groups`) is refused. With
 * `auth.admin_groups`, admin follows the groups at every login and refresh
 * (set when in one, unset when in none, unless in `admin_users` or the
 * backend says so itself).
 */
export function applyLoginPolicy(result: AuthResult, config: PolicyConfig): PolicyDecision {
  if (typeof result.name !== 'string') return { ok: false, reason: 'the authenticator returned no user name', badName: true };
  const name = normalizeUsername(result.name);
  // the name as given first: lower-casing maps some look-alikes (the Kelvin sign) onto another name
  const problem = usernameProblem(result.name) ?? usernameProblem(name);
  if (problem) return { ok: false, reason: problem, badName: true };
  if ((config.services ?? []).some((s) => s.name === name)) return { ok: false, reason: `${quoteName(name)} is the name of a service; services cannot log in` };
  if (config.blocked_users.map(normalizeUsername).includes(name)) return { ok: false, reason: `user ${quoteName(name)} is blocked` };
  const groups = Array.isArray(result.groups) ? result.groups.filter((g): g is string => typeof g === 'string') : undefined;
  const allowedGroups = config.auth?.allowed_groups ?? [];
  const adminGroups = config.auth?.admin_groups ?? [];
  const inAdminGroup = adminGroups.length > 0 && (groups ?? []).some((g) => adminGroups.includes(g));
  const isConfiguredAdmin = config.admin_users.map(normalizeUsername).includes(name);
  const allowed = config.allowed_users.map(normalizeUsername);
  const restricted = allowed.length > 0 || allowedGroups.length > 0;
  const letIn = isConfiguredAdmin || inAdminGroup || allowed.includes(name) || (groups ?? []).some((g) => allowedGroups.includes(g));
  if (restricted && !letIn) {
    if (allowedGroups.length > 0) {
      return { ok: false, reason: `user ${quoteName(name)} is in none of the groups allowed to use this hub (auth.allowed_groups)` };
    }
    return { ok: false, reason: `user ${quoteName(name)} is not in allowed_users` };
  }
  let admin = result.admin;
  if (admin === undefined) {
    if (isConfiguredAdmin) admin = true;
    else if (adminGroups.length > 0) admin = inAdminGroup;
  }
  return { ok: true, name, admin, ...(groups === undefined ? {} : { groups }) };
}
