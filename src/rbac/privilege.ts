/**
 * Privilege comparisons on expanded scope sets: is a requester admin, and
 * which of the scopes it would hand out does it not hold itself. Pure
 * functions; the API layer (src/api/privilege.ts) loads what they compare.
 *
 * The rule they serve: nobody gives (or takes away) more than they hold.
 * A token gets no scope its creator lacks, a group's roles are not handed
 * out by someone without them, and admin is granted or removed only by admin.
 */
import { builtinRoles } from './roles.js';
import { expandScopes, intersectScopes, type GroupsOf } from './scopes.js';

/** Every scope of the built-in `admin` role, expanded (no filters). */
export const adminScopes: ReadonlySet<string> = expandScopes(builtinRoles.admin.scopes);

/**
 * Whether `held` amounts to admin: every scope of the admin role, unfiltered.
 * An admin user's session or `inherit` token qualifies; an admin's token
 * limited to, say, `admin:users` does not (it must not mint new admins).
 */
export function actsAsAdmin(held: ReadonlySet<string>): boolean {
  for (const s of adminScopes) if (!held.has(s)) return false;
  return true;
}

/**
 * The scopes of `wanted` (expanded) that `held` (expanded) does not cover,
 * sorted. A filtered scope is covered by a broader one (`read:servers!server=a/x`
 * by `read:servers!user=a`, or by `!group=g` when `groupsOf` says a is in g).
 */
export function scopesNotHeld(held: ReadonlySet<string>, wanted: Iterable<string>, groupsOf?: GroupsOf): string[] {
  const missing: string[] = [];
  for (const s of wanted) {
    if (held.has(s)) continue;
    if (!intersectScopes(new Set([s]), held, groupsOf).has(s)) missing.push(s);
  }
  return missing.sort();
}

/** `a, b, c` with at most `max` names, then `and N more`. */
export function listScopes(scopes: readonly string[], max = 12): string {
  if (scopes.length <= max) return scopes.join(', ');
  return `${scopes.slice(0, max).join(', ')} and ${scopes.length - max} more`;
}

/** The scopes on users and servers, whose `!group=` form reaches a group's members. */
const memberScopes: ReadonlySet<string> = expandScopes(['admin:users', 'admin:servers', 'tokens', 'access:servers', 'users:shares']);

/**
 * Joining `user` (now in `userGroups`) to `group` extends every `X!group=<group>`
 * the requester holds to that user. Returns the scopes the requester would
 * gain that way and does not already hold on the user (empty: no gain).
 */
export function reachGainedByJoining(held: ReadonlySet<string>, group: string, user: string, userGroups: readonly string[]): string[] {
  const suffix = `!group=${group}`;
  const wanted: string[] = [];
  for (const s of held) {
    if (!s.endsWith(suffix)) continue;
    const base = s.slice(0, -suffix.length);
    if (memberScopes.has(base) && !held.has(base)) wanted.push(`${base}!user=${user}`);
  }
  return scopesNotHeld(held, wanted, () => userGroups);
}

/**
 * Renaming the user `from` to `to` extends every `X!user=<to>` and
 * `X!server=<to>/...` the requester holds to the renamed account. Returns the
 * scopes the requester would gain that way on it and does not already hold
 * (empty: no gain). `userGroups` are the groups of the renamed user.
 */
export function reachGainedByRenaming(held: ReadonlySet<string>, from: string, to: string, userGroups: readonly string[]): string[] {
  const wanted: string[] = [];
  for (const s of held) {
    const m = /^([^!]+)!(user|server)=(.*)$/.exec(s);
    if (!m) continue;
    const [, base, kind, value] = m as unknown as [string, string, string, string];
    if (kind === 'user' && value === to) wanted.push(`${base}!user=${from}`);
    else if (kind === 'server' && value.startsWith(`${to}/`)) wanted.push(`${base}!server=${from}/${value.slice(to.length + 1)}`);
  }
  return scopesNotHeld(held, wanted, () => userGroups);
}
