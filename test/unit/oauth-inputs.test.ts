import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isLocalPath, redirectUriMatches, withQuery } from '../../src/oauth/redirect-uri.js';
import { parseBasicAuth } from '../../src/oauth/basic-auth.js';
import { actsAsAdmin, reachGainedByJoining, scopesNotHeld } from '../../src/rbac/privilege.js';
import { expandScopes } from '../../src/rbac/scopes.js';

describe('redirect URIs (issue 9, 1.6)', () => {
  const origin = 'https://hub.example.org';
  const reg = '/user/alice/oauth_callback';

  test('a registered path matches itself and itself on the hub origin only', () => {
    assert.ok(redirectUriMatches(reg, reg, origin));
    assert.ok(redirectUriMatches(`${origin}${reg}`, reg, origin));
    for (const bad of [`https://evil.example${reg}`, `http://hub.example.org${reg}`, `https://hub.example.org.evil${reg}`, `https://x@hub.example.org${reg}`, `//hub.example.org${reg}`, `${reg}/`, `${reg}?a=1`, `javascript:${reg}`, `/\\evil${reg}`, reg.toUpperCase()]) {
      assert.ok(!redirectUriMatches(bad, reg, origin), bad);
    }
  });

  test('unsafe registered URIs match nothing, not even themselves', () => {
    for (const r of ['//evil.example/cb', '/\\evil.example/cb', 'javascript:alert(1)', 'https://u:p@app.example/cb', 'https://app.example/a b', 'https://app.example/cb#x', 'data:,x', '/%2F/evil']) {
      assert.ok(!redirectUriMatches(r, r, origin), r);
    }
    assert.ok(redirectUriMatches('https://app.example/cb', 'https://app.example/cb', origin));
  });

  test('isLocalPath and withQuery', () => {
    assert.ok(isLocalPath('/a/b'));
    for (const p of ['//a', '/\\a', 'a', '/a\tb', '/a#b', '/%5Ca', '']) assert.ok(!isLocalPath(p), p);
    assert.equal(withQuery('/cb', { code: 'c', state: 'a&b' }), '/cb?code=c&state=a%26b');
    assert.equal(withQuery('/cb?x=1', { code: 'c', state: undefined }), '/cb?x=1&code=c');
  });
});

describe('Authorization: Basic at the token endpoint', () => {
  const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
  test('well formed, form-decoded', () => {
    assert.deepEqual(parseBasicAuth(`Basic ${b64('my%20id:s%3Acret+x')}`), { ok: true, id: 'my id', secret: 's:cret x' });
    assert.deepEqual(parseBasicAuth(`basic ${b64('a:')}`), { ok: true, id: 'a', secret: '' });
    assert.equal(parseBasicAuth(undefined), null);
    assert.equal(parseBasicAuth('Bearer x'), null);
  });
  test('every malformed shape is named, never thrown', () => {
    for (const h of ['Basic', 'Basic !!', 'Basic a=b', `Basic ${b64('nocolon')}`, `Basic ${b64('%:x')}`, `Basic ${b64(Buffer.from([0xc3, 0x28, 0x3a]))}`, 'Basic ====', 'Basic YQ=']) {
      const r = parseBasicAuth(h);
      assert.ok(r && !r.ok, h);
    }
  });
});

describe('privilege comparisons', () => {
  test('actsAsAdmin wants every admin scope unfiltered', () => {
    assert.ok(actsAsAdmin(expandScopes(['admin-ui', 'admin:users', 'admin:servers', 'admin:services', 'tokens', 'admin:groups', 'list:services', 'read:services', 'read:hub', 'proxy', 'shutdown', 'access:services', 'access:servers', 'read:roles', 'read:metrics', 'read:audit', 'shares'])));
    assert.ok(!actsAsAdmin(expandScopes(['admin:users'])));
  });
  test('scopesNotHeld honours filters and hierarchy', () => {
    const held = expandScopes(['servers!user=bob', 'read:users!group=g']);
    assert.deepEqual(scopesNotHeld(held, ['servers!server=bob/x', 'delete:servers!user=bob']), []);
    assert.deepEqual(scopesNotHeld(held, ['servers!user=eve', 'servers']), ['servers', 'servers!user=eve']);
    assert.deepEqual(scopesNotHeld(held, ['read:users!user=amy'], () => ['g']), []);
    assert.deepEqual(scopesNotHeld(held, ['read:users!user=amy'], () => []), ['read:users!user=amy']);
  });
  test('joining a group must not extend the requester\'s group filters', () => {
    const held = expandScopes(['admin:users!group=g1', 'groups!group=g1']);
    assert.ok(reachGainedByJoining(held, 'g1', 'bob', []).includes('admin:users!user=bob'));
    assert.deepEqual(reachGainedByJoining(held, 'g1', 'amy', ['g1']), []);
    assert.deepEqual(reachGainedByJoining(expandScopes(['admin:groups!group=g1']), 'g1', 'bob', []), []);
  });
});
