import type { Config } from '../config/schema.js';
import { normalizeUsername, usernameProblem } from '../lib/names.js';
import { quoteName } from '../lib/quote-name.js';
import type { AuthResult } from './authenticator.js';

/**
 * The hub's answer to an authenticator's result. A refusal says why; `badName`
 * marks a name the name rules refuse (lib/names.ts), which the login page
 * shows as such (400) rather than as "not allowed" (403).
 */
export type PolicyDecision = { ok: true; name: string; admin: boolean | undefined } | { ok: false; reason: string; badName?: true };

/**
 * Applies the name rules and the allow, block and admin lists to an
 * authenticator's answer. The name is checked before anything else, so no
 * user is ever created under a name the rules refuse. `admin_users` become
 * admin here, so an authenticator must not return an admin for credentials
 * anyone has (the shared-password one asks admins for `auth.admin_password`).
 * A service's name is refused: services are not users and nobody logs in as
 * one (a user of that name would be confused with it).
 */
export function applyLoginPolicy(
  result: AuthResult,
  config: Pick<Config, 'allowed_users' | 'admin_users' | 'blocked_users'> & Partial<Pick<Config, 'services'>>,
): PolicyDecision {
  if (typeof result.name !== 'string') return { ok: false, reason: 'the authenticator returned no user name', badName: true };
  const name = normalizeUsername(result.name);
  const problem = usernameProblem(name);
  if (problem) return { ok: false, reason: problem, badName: true };
  if ((config.services ?? []).some((s) => s.name === name)) return { ok: false, reason: `${quoteName(name)} is the name of a service; services cannot log in` };
  if (config.blocked_users.map(normalizeUsername).includes(name)) return { ok: false, reason: `user ${quoteName(name)} is blocked` };
  const isConfiguredAdmin = config.admin_users.map(normalizeUsername).includes(name);
  const allowed = config.allowed_users.map(normalizeUsername);
  if (allowed.length > 0 && !allowed.includes(name) && !isConfiguredAdmin) {
    return { ok: false, reason: `user ${quoteName(name)} is not in allowed_users` };
  }
  const admin = result.admin ?? (isConfiguredAdmin ? true : undefined);
  return { ok: true, name, admin };
}
