import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  expandScopes,
  formatScope,
  identifyScopes,
  intersectScopes,
  parseScope,
  reduceScopes,
  scopeDefinitions,
  selfScopeNames,
  validateScopes,
  withCustomScopes,
  type ParsedScope,
  type ScopeOwner,
} from '../../src/rbac/scopes.js';
import { builtinRoles, roleScopes, validateRole } from '../../src/rbac/roles.js';
import { accessScopesFor, authorize, filterFor, hasScope, holdsScope, matchesFilter, type Target } from '../../src/rbac/check.js';
import { HubError } from '../../src/lib/errors.js';
import { reachGainedByRenaming } from '../../src/rbac/privilege.js';
import { scopesMarkdown } from '../../src/rbac/scopes-doc.js';

const sorted = (s: Iterable<string>): string[] => [...s].sort();

describe('scope definitions', () => {
  test('every subscope is defined', () => {
    for (const [name, def] of Object.entries(scopeDefinitions)) {
      for (const sub of def.subscopes ?? []) assert.ok(sub in scopeDefinitions, `${name} -> ${sub}`);
    }
  });

  test('has the JupyterHub 5.5.1 scopes listed in the REST API spec', () => {
    // The oauth2 security scheme of jupyterhub-rest-api-5.5.1.yml lists exactly these.
    const expected = [
      '(no_scope)', 'self', 'inherit', 'admin-ui', 'admin:users', 'admin:auth_state', 'users', 'delete:users',
      'list:users', 'read:users', 'read:users:name', 'read:users:groups', 'read:users:activity', 'read:roles',
      'read:roles:users', 'read:roles:services', 'read:roles:groups', 'users:activity', 'admin:servers',
      'admin:server_state', 'servers', 'read:servers', 'delete:servers', 'tokens', 'read:tokens', 'admin:groups',
      'groups', 'list:groups', 'read:groups', 'read:groups:name', 'delete:groups', 'admin:services',
      'list:services', 'read:services', 'read:services:name', 'read:hub', 'access:servers', 'access:services',
      'users:shares', 'read:users:shares', 'groups:shares', 'read:groups:shares', 'read:shares', 'shares', 'proxy',
      'shutdown', 'read:metrics',
    ];
    // plus Ganymede's own
    expected.push('read:audit');
    assert.deepEqual(sorted(Object.keys(scopeDefinitions)), sorted(expected));
  });

  test('self scopes are closed under subscopes', () => {
    const own = expandScopes(['self'], { user: 'u' });
    assert.deepEqual(sorted(own), sorted(selfScopeNames.map((s) => `${s}!user=u`)));
  });
});

describe('parseScope', () => {
  const ok: Array<[string, ParsedScope]> = [
    ['read:users', { base: 'read:users' }],
    ['read:users!user=alice', { base: 'read:users', filter: { kind: 'user', value: 'alice' } }],
    ['access:servers!server=alice/gpu', { base: 'access:servers', filter: { kind: 'server', value: 'alice/gpu' } }],
    ['access:servers!server=alice/', { base: 'access:servers', filter: { kind: 'server', value: 'alice/' } }],
    ['list:users!group=staff', { base: 'list:users', filter: { kind: 'group', value: 'staff' } }],
    ['access:services!service=culler', { base: 'access:services', filter: { kind: 'service', value: 'culler' } }],
    ['users:activity!user', { base: 'users:activity', filter: { kind: 'user', value: '' } }],
    ['access:servers!server', { base: 'access:servers', filter: { kind: 'server', value: '' } }],
    ['read:users!user=a=b', { base: 'read:users', filter: { kind: 'user', value: 'a=b' } }],
  ];
  for (const [input, expected] of ok) {
    test(`parses ${input}`, () => {
      assert.deepEqual(parseScope(input), expected);
      assert.equal(formatScope(parseScope(input)), input);
    });
  }
  for (const bad of ['read:users!nobody=x', 'read:users!group', 'read:users!user=', '!user=x', '']) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseScope(bad), (e: unknown) => e instanceof HubError && e.status === 400);
    });
  }
});

describe('validateScopes', () => {
  const cases: Array<[string[], RegExp | null]> = [
    [['read:users', 'servers!user=alice', 'access:servers!server=a/b', 'users:activity!user'], null],
    [['self', 'inherit', '(no_scope)'], null],
    [['read:userz'], /read:userz/],
    [['all'], /inherit/],
    [['read:users!foo=bar'], /!foo=bar/],
    [['read:users!group'], /needs a value/],
    [['read:users!user='], /empty filter/],
    [['self!user=alice'], /cannot be filtered/],
    [['read:users', 'bogus!user=x'], /bogus!user=x/],
    [['custom:x:y'], /custom:x:y/],
  ];
  for (const [scopes, err] of cases) {
    test(`${scopes.join(' ')} -> ${err ?? 'ok'}`, () => {
      const res = validateScopes(scopes);
      if (err === null) assert.equal(res, null);
      else assert.match(res ?? '', err);
    });
  }

  test('custom scopes', () => {
    const defs = withCustomScopes({
      'custom:nb:read': { description: 'read' },
      'custom:nb:write': { description: 'write', subscopes: ['custom:nb:read'] },
    });
    assert.equal(validateScopes(['custom:nb:write!user=a'], defs), null);
    assert.deepEqual(sorted(expandScopes(['custom:nb:write!user=a'], {}, defs)), ['custom:nb:read!user=a', 'custom:nb:write!user=a']);
    assert.throws(() => withCustomScopes({ 'nb:read': { description: 'x' } }), /Invalid custom scope name/);
    assert.throws(() => withCustomScopes({ 'custom:abc': { description: 'x', subscopes: ['read:users'] } }), /non-custom/);
    assert.throws(() => withCustomScopes({ 'custom:abc': { description: 'x', subscopes: ['custom:zzz'] } }), /not defined/);
  });
});

describe('expandScopes', () => {
  const alice: ScopeOwner = { user: 'alice' };
  const cases: Array<[string, string[], ScopeOwner, string[]]> = [
    ['leaf scope', ['read:users:name'], {}, ['read:users:name']],
    ['subscopes recursively', ['users'], {}, ['users', 'read:users', 'list:users', 'users:activity', 'read:users:name', 'read:users:groups', 'read:users:activity']],
    [
      'filter carried to subscopes',
      ['servers!user=bob'],
      {},
      ['servers!user=bob', 'read:servers!user=bob', 'delete:servers!user=bob', 'read:users:name!user=bob'],
    ],
    ['!server filter is not carried to read:users*', ['servers!server=bob/x'], {}, ['servers!server=bob/x', 'read:servers!server=bob/x', 'delete:servers!server=bob/x']],
    ['bare !user resolved', ['users:activity!user'], alice, ['users:activity!user=alice', 'read:users:activity!user=alice']],
    ['bare !server resolved', ['access:servers!server'], { user: 'alice', server: 'alice/gpu' }, ['access:servers!server=alice/gpu']],
    ['bare !server without a server is dropped', ['access:servers!server', 'read:hub'], alice, ['read:hub']],
    ['bare !user without a user is dropped', ['users:activity!user'], { service: 's' }, []],
    ['bare !service resolved', ['read:services!service'], { service: 'cull' }, ['read:services!service=cull', 'read:services:name!service=cull']],
    ['self for a service is empty', ['self'], { service: 'cull' }, []],
    ['inherit kept for the caller', ['inherit'], alice, ['inherit']],
    ['unfiltered wins (reduce)', ['read:users!user=x', 'users'], {}, ['users', 'read:users', 'list:users', 'users:activity', 'read:users:name', 'read:users:groups', 'read:users:activity']],
    ['shares includes access:servers', ['shares!user=a'], {}, ['shares!user=a', 'access:servers!user=a', 'read:shares!user=a', 'users:shares!user=a', 'read:users:shares!user=a', 'groups:shares!user=a', 'read:groups:shares!user=a']],
    ['admin:groups', ['admin:groups'], {}, ['admin:groups', 'groups', 'read:roles:groups', 'delete:groups', 'read:groups', 'list:groups', 'read:groups:name']],
    ['admin:services', ['admin:services'], {}, ['admin:services', 'list:services', 'read:services', 'read:roles:services', 'read:services:name']],
  ];
  for (const [name, input, owner, expected] of cases) {
    test(name, () => assert.deepEqual(sorted(expandScopes(input, owner)), sorted(expected)));
  }

  test('self for a user', () => {
    const s = expandScopes(['self'], alice);
    for (const want of ['read:users!user=alice', 'servers!user=alice', 'tokens!user=alice', 'access:servers!user=alice', 'users:activity!user=alice', 'read:shares!user=alice']) {
      assert.ok(s.has(want), want);
    }
    assert.ok(!s.has('admin:users!user=alice'));
    assert.ok(![...s].some((x) => !x.endsWith('!user=alice')));
  });

  test('admin:users contains admin:auth_state, users, read:roles:users, delete:users', () => {
    const s = expandScopes(['admin:users']);
    for (const want of ['admin:auth_state', 'users', 'read:roles:users', 'delete:users', 'read:users:name']) assert.ok(s.has(want), want);
    assert.ok(!s.has('servers'));
  });

  test('the admin role reaches every non-meta scope', () => {
    const s = expandScopes(builtinRoles.admin.scopes);
    const missing = Object.keys(scopeDefinitions).filter((k) => !['self', 'inherit', '(no_scope)'].includes(k) && !s.has(k));
    assert.deepEqual(missing, []);
  });

  test('the server role for a named server', () => {
    const s = expandScopes(roleScopes('server'), { user: 'alice', server: 'alice/gpu' });
    assert.deepEqual(sorted(s), ['access:servers!server=alice/gpu', 'read:users:activity!user=alice', 'users:activity!user=alice']);
  });

  test('unknown scopes throw', () => {
    assert.throws(() => expandScopes(['nope']), /nope/);
  });

  test('identify scopes', () => {
    assert.deepEqual(sorted(identifyScopes({ user: 'a' })), ['read:users:groups!user=a', 'read:users:name!user=a']);
    assert.deepEqual(sorted(identifyScopes({ service: 's' })), ['read:services:name!service=s']);
  });

  test('reduceScopes', () => {
    assert.deepEqual(sorted(reduceScopes(['a!user=x', 'a', 'b!user=y', 'b!group=g'])), ['a', 'b!group=g', 'b!user=y']);
  });
});

describe('intersectScopes', () => {
  const groups: Record<string, string[]> = { alice: ['staff'], bob: [] };
  const groupsOf = (u: string): string[] => groups[u] ?? [];
  const cases: Array<[string, string[], string[], string[], boolean]> = [
    ['unfiltered ∩ unfiltered', ['read:users'], ['read:users'], ['read:users'], false],
    ['disjoint bases', ['read:users'], ['read:groups'], [], false],
    ['unfiltered ∩ filtered = filtered', ['read:users'], ['read:users!user=alice'], ['read:users!user=alice'], false],
    ['filtered ∩ unfiltered = filtered', ['read:users!user=alice'], ['read:users'], ['read:users!user=alice'], false],
    ['same user', ['read:users!user=alice'], ['read:users!user=alice', 'read:users!user=bob'], ['read:users!user=alice'], false],
    ['different users', ['read:users!user=alice'], ['read:users!user=bob'], [], false],
    ['server within user', ['access:servers!server=alice/x'], ['access:servers!user=alice'], ['access:servers!server=alice/x'], false],
    ['user over server (other direction)', ['access:servers!user=alice'], ['access:servers!server=alice/x'], ['access:servers!server=alice/x'], false],
    ['server of another user', ['access:servers!server=bob/x'], ['access:servers!user=alice'], [], false],
    ['user in group, with lookup', ['read:users!user=alice'], ['read:users!group=staff'], ['read:users!user=alice'], true],
    ['user not in group, with lookup', ['read:users!user=bob'], ['read:users!group=staff'], [], true],
    ['user vs group without lookup: dropped', ['read:users!user=alice'], ['read:users!group=staff'], [], false],
    ['server of group member, with lookup', ['access:servers!server=alice/'], ['access:servers!group=staff'], ['access:servers!server=alice/'], true],
    ['group ∩ group', ['read:users!group=staff', 'read:users!group=x'], ['read:users!group=staff'], ['read:users!group=staff'], false],
    ['group vs user the other way keeps the user only', ['read:users!group=staff'], ['read:users!user=alice'], ['read:users!user=alice'], true],
    ['services', ['access:services!service=a'], ['access:services'], ['access:services!service=a'], false],
  ];
  for (const [name, a, b, expected, useGroups] of cases) {
    test(name, () => {
      const res = intersectScopes(new Set(a), new Set(b), useGroups ? groupsOf : undefined);
      assert.deepEqual(sorted(res), sorted(expected));
    });
  }

  test('token scopes within owner scopes (self)', () => {
    const owner = expandScopes(['self'], { user: 'alice' });
    const token = expandScopes(['read:users', 'access:servers!server=alice/gpu', 'admin:users'], { user: 'alice' });
    const eff = intersectScopes(token, owner);
    assert.ok(eff.has('read:users!user=alice'));
    assert.ok(eff.has('access:servers!server=alice/gpu'));
    assert.ok(!eff.has('admin:users'));
    assert.ok(![...eff].some((s) => s.startsWith('admin:')));
  });
});

describe('hasScope / filterFor', () => {
  const held = expandScopes([
    'read:users!user=alice',
    'access:servers!server=bob/gpu',
    'servers!group=staff',
    'read:groups!group=staff',
    'access:services!service=cull',
    'read:hub',
  ]);
  const cases: Array<[string, Target, boolean]> = [
    ['read:hub', {}, true],
    ['read:users', { user: 'alice' }, true],
    ['read:users', { user: 'bob' }, false],
    ['read:users', {}, false],
    ['read:users:name', { user: 'alice' }, true],
    ['read:users:name', { server: 'alice/x' }, true],
    ['access:servers', { server: 'bob/gpu' }, true],
    ['access:servers', { server: 'bob/' }, false],
    ['access:servers', { user: 'bob' }, false],
    ['servers', { server: 'carol/x', userGroups: ['staff'] }, true],
    ['servers', { server: 'carol/x', userGroups: ['other'] }, false],
    ['servers', { user: 'carol', userGroups: ['staff'] }, true],
    ['read:groups', { group: 'staff' }, true],
    ['read:groups', { group: 'other' }, false],
    ['access:services', { service: 'cull' }, true],
    ['access:services', { service: 'other' }, false],
    ['access:servers!server=bob/gpu', {}, true],
    ['access:servers!user=bob', {}, false],
    ['admin:users', { user: 'alice' }, false],
  ];
  for (const [needed, target, expected] of cases) {
    test(`${needed} on ${JSON.stringify(target)} -> ${expected}`, () => assert.equal(hasScope(held, needed, target), expected));
  }

  test('user filter reaches all servers of the user', () => {
    const h = new Set(['access:servers!user=alice']);
    assert.ok(hasScope(h, 'access:servers', { server: 'alice/' }));
    assert.ok(hasScope(h, 'access:servers', { server: 'alice/anything' }));
    assert.ok(!hasScope(h, 'access:servers', { server: 'alicex/' }));
  });

  test('filterFor', () => {
    assert.equal(filterFor(held, 'read:hub'), 'all');
    const f = filterFor(held, 'servers');
    assert.notEqual(f, 'all');
    if (f !== 'all') {
      assert.deepEqual([...f.groups], ['staff']);
      assert.equal(f.users.size + f.servers.size + f.services.size, 0);
      assert.ok(matchesFilter(f, { user: 'x', userGroups: ['staff'] }));
    }
    const none = filterFor(held, 'admin:users');
    assert.deepEqual(none, { users: new Set(), servers: new Set(), groups: new Set(), services: new Set() });
    const lu = filterFor(expandScopes(['list:users!group=x', 'list:users!user=y']), 'list:users');
    assert.deepEqual(lu, { users: new Set(['y']), servers: new Set(), groups: new Set(['x']), services: new Set() });
  });

  test('holdsScope', () => {
    assert.ok(holdsScope(held, 'read:users'));
    assert.ok(holdsScope(held, 'read:hub'));
    assert.ok(!holdsScope(held, 'admin:users'));
  });

  test('authorize follows needs_scope (403 vs 404)', () => {
    assert.deepEqual(authorize(held, ['read:users'], { user: 'alice' }), { ok: true });
    assert.deepEqual(authorize(held, ['read:users'], { list: true }), { ok: true });
    // an empty target is a hub-wide action (creating users): a filtered scope is not enough
    const wide = authorize(held, ['read:users'], {});
    assert.equal(wide.ok, false);
    if (!wide.ok) {
      assert.equal(wide.status, 403);
      assert.match(wide.message, /without a filter/);
    }
    const nf = authorize(held, ['read:users'], { user: 'bob' });
    assert.deepEqual(nf, { ok: false, status: 404, message: 'No access to resources or resources not found' });
    const fb = authorize(held, ['admin:users', 'tokens'], { user: 'alice' });
    assert.equal(fb.ok, false);
    if (!fb.ok) {
      assert.equal(fb.status, 403);
      assert.match(fb.message, /requires any of \[admin:users, tokens\]/);
    }
  });

  test('accessScopesFor', () => {
    assert.deepEqual(accessScopesFor('alice', ''), ['access:servers!server=alice/', 'access:servers!user=alice']);
    assert.deepEqual(accessScopesFor('alice', 'gpu'), ['access:servers!server=alice/gpu', 'access:servers!user=alice']);
    const userToken = expandScopes(['self'], { user: 'alice' });
    assert.ok(accessScopesFor('alice', 'gpu').some((s) => hasScope(userToken, s)));
    assert.ok(!accessScopesFor('bob', 'gpu').some((s) => hasScope(userToken, s)));
  });
});

describe('roles', () => {
  test('built-in roles', () => {
    assert.deepEqual(Object.keys(builtinRoles).sort(), ['admin', 'server', 'token', 'user']);
    assert.deepEqual(roleScopes('user'), ['self']);
    assert.deepEqual(roleScopes('token'), ['inherit']);
    assert.deepEqual(roleScopes('server'), ['users:activity!user', 'access:servers!server']);
    assert.ok(roleScopes('admin').includes('admin:users'));
    assert.ok(roleScopes('admin').includes('shares'));
    assert.deepEqual(roleScopes('not-a-role'), []);
    for (const role of Object.values(builtinRoles)) assert.equal(validateRole(role), null, role.name);
  });

  test('custom definitions override built-ins except admin', () => {
    const custom = new Map([
      ['server', { name: 'server', scopes: ['inherit'] }],
      ['admin', { name: 'admin', scopes: [] }],
    ]);
    assert.deepEqual(roleScopes('server', custom), ['inherit']);
    assert.ok(roleScopes('admin', custom).length > 10);
  });

  const cases: Array<[string, { name: string; scopes?: string[]; description?: string }, RegExp | null]> = [
    ['valid', { name: 'culler', scopes: ['list:users', 'servers'] }, null],
    ['valid punctuation', { name: 'a-b_c.d~e9', scopes: [] }, null],
    ['no scopes is fine', { name: 'empty-role' }, null],
    ['too short', { name: 'ab', scopes: [] }, /Invalid role name/],
    ['uppercase', { name: 'Culler', scopes: [] }, /Invalid role name/],
    ['starts with digit', { name: '1abc', scopes: [] }, /Invalid role name/],
    ['ends with dash', { name: 'abc-', scopes: [] }, /Invalid role name/],
    ['too long', { name: 'a'.repeat(256), scopes: [] }, /Invalid role name/],
    ['max length', { name: 'a'.repeat(255), scopes: [] }, null],
    ['bad scope', { name: 'culler', scopes: ['servers', 'read:nothing'] }, /read:nothing/],
    ['admin override', { name: 'admin', scopes: ['read:hub'] }, /admin\.scopes/],
    ['admin description', { name: 'admin', description: 'x' }, /admin\.description/],
    ['server may be redefined', { name: 'server', scopes: ['inherit'] }, null],
  ];
  for (const [name, role, err] of cases) {
    test(`validateRole: ${name}`, () => {
      const res = validateRole(role);
      if (err === null) assert.equal(res, null);
      else assert.match(res ?? '', err);
    });
  }
});

test('docs/reference/scopes.md is up to date', () => {
  const file = fileURLToPath(new URL('../../docs/reference/scopes.md', import.meta.url));
  const onDisk = readFileSync(file, 'utf8');
  assert.equal(
    onDisk,
    scopesMarkdown(),
    'regenerate with: node --import tsx -e "import(\'./src/rbac/scopes.ts\').then(m => process.stdout.write(m.scopesMarkdown()))" > docs/reference/scopes.md',
  );
});

describe('reachGainedByRenaming', () => {
  const held = (...s: string[]): Set<string> => expandScopes(s);
  test('a scope filtered on the new name (user or server) is gained on the renamed account unless already held', () => {
    assert.deepEqual(reachGainedByRenaming(held('servers!user=carol'), 'bob', 'carol', []).filter((s) => s.startsWith('servers')), ['servers!user=bob']);
    assert.deepEqual(reachGainedByRenaming(held('access:servers!server=carol/gpu'), 'bob', 'carol', []), ['access:servers!server=bob/gpu']);
    // carolyn is not carol
    assert.deepEqual(reachGainedByRenaming(held('servers!user=carolyn', 'access:servers!server=carolyn/'), 'bob', 'carol', []), []);
  });
  test('nothing is gained when the requester already reaches the account: by name, unfiltered, or through a group', () => {
    assert.deepEqual(reachGainedByRenaming(held('admin:users!user=carol', 'admin:users!user=bob'), 'bob', 'carol', []), []);
    assert.deepEqual(reachGainedByRenaming(held('servers!user=carol', 'servers'), 'bob', 'carol', []), []);
    assert.deepEqual(reachGainedByRenaming(held('servers!user=carol', 'servers!group=g'), 'bob', 'carol', ['g']), []);
    assert.notDeepEqual(reachGainedByRenaming(held('servers!user=carol', 'servers!group=g'), 'bob', 'carol', ['h']), []);
  });
});
