/**
 * The value of `key` in a claims set: the claim of that exact name, else,
 * when `key` has periods, the nested claim it names (`realm_access.roles`, as
 * OAuthenticator reads `claim_groups_key`). Only the objects' own properties
 * are followed, so `__proto__` or `constructor` segments find nothing.
 */
export function claimAt(claims: Record<string, unknown>, key: string): unknown {
  if (Object.hasOwn(claims, key)) return claims[key];
  if (!key.includes('.')) return undefined;
  let at: unknown = claims;
  for (const part of key.split('.')) {
    if (!at || typeof at !== 'object' || Array.isArray(at) || !Object.hasOwn(at, part)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/**
 * The user's groups from a claims set: the `claim_groups_key` claim (a list of
 * strings, or a single string; a nested claim with periods, see {@link claimAt}), Keycloak group paths reduced to their last
 * segment with `strip_group_path`, then renamed through `groups_map`. Anything
 * that is not a string is dropped; duplicates are removed. A missing claim
 * gives an empty list.
 */
export function groupsFromClaims(
  claims: Record<string, unknown>,
  opts: { claimGroupsKey: string; stripGroupPath: boolean; groupsMap: Record<string, string> },
): string[] {
  const raw = claimAt(claims, opts.claimGroupsKey);
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  const out = new Set<string>();
  for (const g of list) {
    if (typeof g !== 'string' || !g) continue;
    // own keys only: a group called "constructor" or "__proto__" is not Object.prototype's
    if (Object.hasOwn(opts.groupsMap, g)) {
      out.add(opts.groupsMap[g]!);
      continue;
    }
    const name = opts.stripGroupPath ? (g.split('/').filter(Boolean).pop() ?? '') : g;
    if (name) out.add(Object.hasOwn(opts.groupsMap, name) ? opts.groupsMap[name]! : name);
  }
  return [...out];
}
