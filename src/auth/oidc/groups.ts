/**
 * The user's groups from a claims set: the `claim_groups_key` claim (a list of
 * strings, or a single string), Keycloak group paths reduced to their last
 * segment with `strip_group_path`, then renamed through `groups_map`. Anything
 * that is not a string is dropped; duplicates are removed. A missing claim
 * gives an empty list.
 */
export function groupsFromClaims(
  claims: Record<string, unknown>,
  opts: { claimGroupsKey: string; stripGroupPath: boolean; groupsMap: Record<string, string> },
): string[] {
  const raw = claims[opts.claimGroupsKey];
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  const out = new Set<string>();
  for (const g of list) {
    if (typeof g !== 'string' || !g) continue;
    const mapped = opts.groupsMap[g];
    if (mapped !== undefined) {
      out.add(mapped);
      continue;
    }
    const name = opts.stripGroupPath ? (g.split('/').filter(Boolean).pop() ?? '') : g;
    if (name) out.add(opts.groupsMap[name] ?? name);
  }
  return [...out];
}
