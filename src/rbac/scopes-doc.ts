import { scopeDefinitions, selfScopeNames, type ScopeDefinitions } from './scopes.js';

/**
 * The Markdown reference for the scopes in `defs` (written to
 * `docs/reference/scopes.md`; a unit test fails if the file drifts).
 */
export function scopesMarkdown(defs: ScopeDefinitions = scopeDefinitions): string {
  const parents = new Map<string, string[]>();
  for (const [name, def] of Object.entries(defs)) {
    for (const sub of def.subscopes ?? []) parents.set(sub, [...(parents.get(sub) ?? []), name]);
  }
  const code = (s: string): string => `\`${s}\``;
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = [
    '# Scopes',
    '',
    '<!-- Generated from src/rbac/scopes-doc.ts (scopesMarkdown). Do not edit by hand. -->',
    '',
    'Ganymede uses the scopes of JupyterHub 5.5 with the same names, hierarchy and filters,',
    'so roles, tokens and OAuth clients written for JupyterHub keep their meaning.',
    '',
    '## Filters',
    '',
    'A scope can be limited to some resources with one filter: `scope!kind=value`.',
    'Give the same scope several times to widen it; one unfiltered copy grants everything.',
    '',
    '| Filter | Limits the scope to |',
    '| :----- | :------------------ |',
    '| `!user=alice` | user `alice`, and all of her servers |',
    '| `!server=alice/gpu` | the server `gpu` of `alice` (`alice/` is her default server) |',
    '| `!group=staff` | group `staff`, and its members and their servers |',
    '| `!service=culler` | service `culler` |',
    '| `!user`, `!server`, `!service` | the owner of the role or token, resolved when it is issued |',
    '',
    'Subscopes inherit the filter of their parent, except that a `!server=` filter is not',
    'carried over to the `read:users...` subscopes.',
    '',
    '## Metascopes',
    '',
    '- `self`: the user\'s own resources; it expands to the following scopes, each filtered to the user:',
    `  ${selfScopeNames.map(code).join(', ')}.`,
    '  For a service it expands to nothing.',
    '- `inherit`: for tokens, everything that the owner of the token can do.',
    '- `(no_scope)`: only identify the owner of the credentials.',
    '',
    '## Nobody gives more than they hold',
    '',
    '- Creating users or groups needs `admin:users` or `admin:groups` without a filter: a holder of',
    '  `admin:users!group=g1` manages the members of g1 but creates nobody. List endpoints accept a',
    '  filtered scope and show only what it reaches.',
    '- Granting or removing admin, and changing or deleting an admin, needs admin: every scope of the',
    '  `admin` role, unfiltered (an admin\'s token limited to `admin:users` is not enough).',
    '- A new token holds no scope that its owner or the requester lacks (403 names them). `inherit`',
    '  stands for all of the owner\'s scopes; minted by someone other than the owner or an admin, it is',
    '  stored as the scopes checked then. At use, a token never has more than its owner has now.',
    '- Membership of a group carries the group\'s roles: adding or removing members (or deleting the',
    '  group) needs the scopes this gives or takes away, and a group-filtered holder cannot pull users',
    '  it could not reach into its group.',
    '- Names the configuration makes privileged (`admin_users`, `roles[].users`, `roles[].groups`) are',
    '  created, or taken by renaming, only by someone holding those privileges; nor is a user renamed',
    '  to a name the requester\'s `!user=` or `!server=` filters reach beyond what it holds on the user.',
    '- Reach is judged with the scopes of the token\'s owner too: a token limited to `groups!group=g1`',
    '  cannot add users for its owner\'s `admin:users!group=g1` to manage.',
    '- `!group=` reaches a user\'s servers by the groups of their owner (not of the visitor), for',
    '  OAuth access (`access:servers!group=team`) and starting them (`servers!group=team`) alike.',
    '- Services (`services` in the config) get scopes only from roles that list them in `services`.',
    '',
    '## Available scopes',
    '',
    '| Scope | Grants | Includes | Included in |',
    '| :---- | :----- | :------- | :---------- |',
  ];
  for (const [name, def] of Object.entries(defs)) {
    const includes = (def.subscopes ?? []).map(code).join(', ');
    const includedIn = (parents.get(name) ?? []).map(code).join(', ');
    lines.push(`| ${code(name)} | ${cell(def.description)} | ${includes} | ${includedIn} |`);
  }
  lines.push('');
  return lines.join('\n');
}
