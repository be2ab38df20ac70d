import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminBack, apiCallFor } from '../../src/web/admin-actions.js';
import { cleanDetail } from '../../src/db/repos/audit.js';
import { HubError } from '../../src/lib/errors.js';

describe('the admin page buttons as REST calls', () => {
  test('each op maps to its API route, names path-quoted', () => {
    const cases: [Record<string, string>, string, string, unknown][] = [
      [{ op: 'add-user', user: 'al ice?', admin: '1' }, 'POST', 'users/al%20ice%3F', { admin: true }],
      [{ op: 'delete-user', user: 'bob' }, 'DELETE', 'users/bob', undefined],
      [{ op: 'grant-admin', user: 'bob' }, 'PATCH', 'users/bob', { admin: true }],
      [{ op: 'revoke-admin', user: 'bob' }, 'PATCH', 'users/bob', { admin: false }],
      [{ op: 'start', user: 'bob', server: '' }, 'POST', 'users/bob/server', undefined],
      [{ op: 'start', user: 'bob', server: 'gpu 1' }, 'POST', 'users/bob/servers/gpu%201', undefined],
      [{ op: 'stop', user: 'bob', server: 'gpu' }, 'DELETE', 'users/bob/servers/gpu', undefined],
      [{ op: 'delete-server', user: 'bob', server: 'gpu' }, 'DELETE', 'users/bob/servers/gpu', { remove: true }],
      [{ op: 'group-add', group: 'team', user: 'bob' }, 'POST', 'groups/team/users', { users: ['bob'] }],
      [{ op: 'group-remove', group: 'team', user: 'bob' }, 'DELETE', 'groups/team/users', { users: ['bob'] }],
      [{ op: 'group-create', group: 'team' }, 'POST', 'groups/team', undefined],
      [{ op: 'group-delete', group: 'team' }, 'DELETE', 'groups/team', undefined],
    ];
    for (const [form, method, path, body] of cases) {
      const call = apiCallFor(form);
      assert.deepEqual([call.method, call.path, call.body], [method, path, body], JSON.stringify(form));
    }
  });

  test('an unknown op, a missing name or deleting the default server is a 400 naming it', () => {
    for (const [form, re] of [
      [{ op: 'drop-tables' }, /Unknown admin action/],
      [{ op: 'delete-user', user: ' ' }, /user field is empty/],
      [{ op: 'group-add', group: 'team' }, /user field is empty/],
      [{ op: 'delete-server', user: 'bob', server: '' }, /default server/],
    ] as const) {
      assert.throws(() => apiCallFor(form as Record<string, string>), (e: unknown) => e instanceof HubError && e.status === 400 && re.test(e.message));
    }
  });
});

test('admin actions: names that are path syntax never replay another route (dot segments are resolved by app.inject)', () => {
  // `..` as a server would make "stop bob/.." the call DELETE /users/bob (delete the user), `..` as a group
  // POST /groups/../users = POST /users; every name field is checked, and so is the path as the router reads it
  const forms: Record<string, string>[] = [
    { op: 'stop', user: 'bob', server: '..' },
    { op: 'delete-server', user: 'bob', server: '..' },
    { op: 'start', user: 'bob', server: '.' },
    { op: 'group-add', group: '..', user: 'bob' },
    { op: 'group-create', group: '.' },
    { op: 'delete-user', user: '..' },
    { op: 'add-user', user: 'a/b' },
    { op: 'group-add', group: 'team', user: '..' },
  ];
  for (const form of forms) {
    assert.throws(() => apiCallFor(form), (e: unknown) => e instanceof HubError && e.status === 400, JSON.stringify(form));
  }
});

test('admin actions go back only to the admin page itself, never a path that resolves elsewhere', () => {
  assert.equal(adminBack('/hub/', '/hub/admin?q=al&sort=-name'), '/hub/admin?q=al&sort=-name');
  assert.equal(adminBack('/hub/', '/hub/admin'), '/hub/admin');
  for (const bad of ['/hub/admin/../logout', '/hub/admin/%2e%2e/logout', '/hub/adminx', '/hub/admin/./', 'https://evil.example/hub/admin', '/hub/admin?x=\n', undefined]) {
    assert.equal(adminBack('/hub/', bad), '/hub/admin', String(bad));
  }
});

test('audit details drop anything that looks like a secret', () => {
  assert.deepEqual(cleanDetail({ note: 'n', token: 'abc', api_token: 'x', Password: 'p', auth_state: {}, client_secret: 's', scopes: ['a'] }), { note: 'n', scopes: ['a'] });
});
