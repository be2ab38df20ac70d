import type { Config } from '../config/schema.js';
import { normalizeUsername, usernameProblem } from '../lib/names.js';
import type { AuthResult } from './authenticator.js';

export type PolicyDecision = { ok: true; name: string; admin: boolean | undefined } | { ok: false; reason: string };

/** Applies the allow, block and admin lists to an authenticator's answer. */
export function applyLoginPolicy(result: AuthResult, config: Pick<Config, 'allowed_users' | 'admin_users' | 'blocked_users'>): PolicyDecision {
  const name = normalizeUsername(result.name);
  const problem = usernameProblem(name);
  if (problem) return { ok: false, reason: problem };
  if (config.blocked_users.map(normalizeUsername).includes(name)) return { ok: false, reason: `user ${name} is blocked` };
  const isConfiguredAdmin = config.admin_users.map(normalizeUsername).includes(name);
  const allowed = config.allowed_users.map(normalizeUsername);
  if (allowed.length > 0 && !allowed.includes(name) && !isConfiguredAdmin) {
    return { ok: false, reason: `user ${name} is not in allowed_users` };
  }
  const admin = result.admin ?? (isConfiguredAdmin ? true : undefined);
  return { ok: true, name, admin };
}
