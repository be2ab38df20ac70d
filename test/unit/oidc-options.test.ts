/** The OIDC backend's pure parts: option rules, group mapping, the login cookie's contents. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import { createAuthenticator } from '../../src/auth/registry.js';
import { groupsFromClaims } from '../../src/auth/oidc/groups.js';
import pino from 'pino';
import type { Kysely } from 'kysely';
import type { DB } from '../../src/db/schema.js';

const build = (auth: Record<string, unknown>) => {
  const config = validateConfig({ auth: { kind: 'oidc', client_id: 'hub', ...auth } });
  return createAuthenticator(config, undefined as unknown as Kysely<DB>, pino({ level: 'silent' }));
};

describe('auth.kind oidc options', () => {
  it('builds from discovery or explicit endpoints', () => {
    assert.equal(build({ issuer: 'https://kc.example.org/realms/x' }).kind, 'oidc');
    assert.equal(build({ issuer: 'https://proxy.example.org', authorize_url: 'https://proxy.example.org/auth', token_url: 'https://proxy.example.org/token', scope: ['openid'] }).loginService, 'OpenID Connect');
    assert.equal(build({ authorize_url: 'https://gh.example.org/auth', token_url: 'https://gh.example.org/token', userdata_url: 'https://gh.example.org/user', scope: ['read:user'], username_claim: 'login' }).kind, 'oidc');
  });

  const refusals: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no issuer and no endpoints', {}, /`issuer`.*`authorize_url`/],
    ['authorize_url without token_url', { authorize_url: 'https://a.example.org/auth' }, /needs `token_url`/],
    ['token_url with discovery', { issuer: 'https://a.example.org', token_url: 'https://a.example.org/t' }, /need `authorize_url`/],
    ['explicit endpoints with openid and no issuer', { authorize_url: 'https://a.example.org/auth', token_url: 'https://a.example.org/t' }, /need `issuer`/],
    ['explicit endpoints without openid and no userdata_url', { authorize_url: 'https://a.example.org/auth', token_url: 'https://a.example.org/t', scope: ['read'] }, /need `userdata_url`/],
    ['a secret and a secret file', { issuer: 'https://a.example.org', client_secret: 's', client_secret_file: '/x' }, /not both/],
    ['an http issuer', { issuer: 'http://a.example.org' }, /https/],
    ['an issuer that is no URL', { issuer: 'kc' }, /not a URL/],
    ['a callback that is no URL', { issuer: 'https://a.example.org', oauth_callback_url: '/hub/cb' }, /not a URL/],
  ];
  for (const [what, auth, message] of refusals) {
    it(`refuses to start with ${what}, naming the option`, () => {
      assert.throws(() => build(auth), message);
    });
  }

  it('refuses unknown keys and a scope with spaces', () => {
    assert.throws(() => validateConfig({ auth: { kind: 'oidc', client_id: 'hub', issuer: 'https://a.example.org', client_secrett: 'x' } }));
    assert.throws(() => validateConfig({ auth: { kind: 'oidc', client_id: 'hub', issuer: 'https://a.example.org', scope: ['openid profile'] } }));
  });

  it('refuses to start when client_secret_file cannot be read, naming it', async () => {
    const a = build({ issuer: 'https://a.example.org', client_secret_file: '/nonexistent/ganymede-secret' });
    await assert.rejects(a.init!(), /client_secret_file \/nonexistent\/ganymede-secret cannot be read: ENOENT/);
  });

  it('accepts http only with allow_insecure_http', () => {
    assert.equal(build({ issuer: 'http://127.0.0.1:9', allow_insecure_http: true }).kind, 'oidc');
  });
});

describe('groups from claims', () => {
  const opts = { claimGroupsKey: 'groups', stripGroupPath: false, groupsMap: {} };
  it('takes a list or a single string, drops non-strings and duplicates', () => {
    assert.deepEqual(groupsFromClaims({ groups: ['/a', '/b', 3, null, '/a', ''] }, opts), ['/a', '/b']);
    assert.deepEqual(groupsFromClaims({ groups: '/a' }, opts), ['/a']);
    assert.deepEqual(groupsFromClaims({}, opts), []);
    assert.deepEqual(groupsFromClaims({ groups: { a: 1 } }, opts), []);
    assert.deepEqual(groupsFromClaims({ roles: ['x'] }, { ...opts, claimGroupsKey: 'roles' }), ['x']);
  });
  it('strips Keycloak paths and maps names (full path first, then the last segment)', () => {
    const o = { claimGroupsKey: 'groups', stripGroupPath: true, groupsMap: { '/platform/hub-admins': 'admins', users: 'hpc-users' } };
    assert.deepEqual(groupsFromClaims({ groups: ['/platform/hub-admins', '/platform/users', '/other/x', '/'] }, o), ['admins', 'hpc-users', 'x']);
    assert.deepEqual(groupsFromClaims({ groups: ['/platform/hub-admins'] }, { ...o, stripGroupPath: false }), ['admins']);
  });
  it('keeps groups named like Object.prototype members as they are (groups_map has only its own keys)', () => {
    const o = { claimGroupsKey: 'groups', stripGroupPath: true, groupsMap: { '/a/x': 'y' } };
    const names = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'];
    assert.deepEqual(groupsFromClaims({ groups: [...names, '/p/constructor', '/a/x'] }, o), [...names, 'y']);
    assert.deepEqual(groupsFromClaims({ groups: names }, { ...o, stripGroupPath: false }), names);
  });
  it('reads a nested claim named with periods (realm_access.roles), an exact claim name first, own properties only', () => {
    const o = { claimGroupsKey: 'realm_access.roles', stripGroupPath: false, groupsMap: {} };
    assert.deepEqual(groupsFromClaims({ realm_access: { roles: ['a', 'b'] } }, o), ['a', 'b']);
    assert.deepEqual(groupsFromClaims({ 'realm_access.roles': ['flat'], realm_access: { roles: ['nested'] } }, o), ['flat']);
    assert.deepEqual(groupsFromClaims({ realm_access: ['roles'] }, o), []);
    assert.deepEqual(groupsFromClaims({ realm_access: 'x' }, o), []);
    assert.deepEqual(groupsFromClaims({ groups: ['g'] }, { ...o, claimGroupsKey: 'groups.constructor' }), []);
    assert.deepEqual(groupsFromClaims({ a: { b: { c: 'deep' } } }, { ...o, claimGroupsKey: 'a.b.c' }), ['deep']);
  });
});
