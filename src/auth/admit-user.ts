import type { Logger } from 'pino';
import type { Hub } from '../hub/context.js';
import { ensureUser, getUserById, type UserRow } from '../db/repos/users.js';
import { HubError } from '../lib/errors.js';
import { isoNow } from '../lib/time.js';
import { AuthError } from './auth-error.js';
import type { AuthResult } from './authenticator.js';
import { encryptAuthState } from './auth-state.js';
import { syncUserGroups } from './manage-groups.js';
import { applyLoginPolicy, type PolicyDecision } from './policy.js';

/**
 * Turns an authenticator's result into a hub user, for every backend alike
 * and at every login and refresh: the policy (names, allow/block/admin
 * lists, `auth.allowed_groups`, `auth.admin_groups`), then the config's
 * `postAuthHook`, then the user is created or updated: admin set or unset,
 * groups (`auth.manage_groups`), auth state (encrypted) and `last_refresh`.
 * Throws {@link AuthError} for a refusal (nothing stored). With
 * `expectName` (a refresh), a result naming another user is refused.
 */
export async function admitUser(hub: Hub, result: AuthResult, opts: { log: Logger; expectName?: string }): Promise<UserRow> {
  const { log } = opts;
  let decision = checked(applyLoginPolicy(result, hub.config), log);
  const hook = hub.hooks.postAuthHook;
  if (hook) {
    let hooked: AuthResult | null;
    try {
      hooked = await hook(
        {
          ...result,
          name: decision.name,
          ...(decision.admin === undefined ? {} : { admin: decision.admin }),
          ...(decision.groups === undefined ? {} : { groups: decision.groups }),
        },
        { kind: hub.authenticator.kind, log },
      );
    } catch (err) {
      if (err instanceof HubError) throw err;
      log.error({ err: (err as Error).message }, 'postAuthHook failed');
      throw new AuthError(403, 'Login refused: the hub could not check it (postAuthHook failed).');
    }
    if (hooked === null || hooked === undefined) {
      log.warn({ user: decision.name }, 'login refused by postAuthHook');
      throw new AuthError(403, 'You are not allowed to use this hub.');
    }
    result = hooked;
    decision = checked(applyLoginPolicy(result, hub.config), log);
  }
  if (opts.expectName !== undefined && decision.name !== opts.expectName) {
    log.warn({ user: opts.expectName, got: decision.name }, 'refresh named another user');
    throw new AuthError(401, 'Your login has expired: please log in again.');
  }
  const user = await ensureUser(hub.db, decision.name, decision.admin === true);
  const set: { admin?: number; auth_state?: string; last_refresh: string } = { last_refresh: isoNow() };
  if (decision.admin !== undefined && !!user.admin !== decision.admin) set.admin = decision.admin ? 1 : 0;
  const state = encryptAuthState(hub.crypt, result.authState, log);
  if (state !== undefined) set.auth_state = state;
  await hub.db.updateTable('users').set(set).where('id', '=', user.id).execute();
  if (hub.config.auth.manage_groups && decision.groups !== undefined) await syncUserGroups(hub.db, user.id, decision.groups, log);
  hub.identities.clear();
  return (await getUserById(hub.db, user.id)) ?? user;
}

function checked(decision: PolicyDecision, log: Logger): Extract<PolicyDecision, { ok: true }> {
  if (decision.ok) return decision;
  if (decision.badName) {
    log.warn({ reason: decision.reason }, 'login refused: invalid user name');
    throw new AuthError(400, `This user name cannot be used: ${decision.reason}.`);
  }
  log.warn({ reason: decision.reason }, 'login refused by policy');
  throw new AuthError(403, decision.reason.includes('auth.allowed_groups') ? 'You are not in a group allowed to use this hub.' : 'You are not allowed to use this hub.');
}
