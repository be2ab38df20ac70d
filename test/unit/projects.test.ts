/**
 * Issue 10 §2/§3: the projects auth state shared by the JWT-header login and
 * the dev mode (src/auth/projects.ts), and the discovery checks of the
 * JWT-header login (src/auth/jwt-header/discovery.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSafeProjectName, projectsForPlatform, ProjectsClaimError } from '../../src/auth/projects.js';
import { acceptedAlgorithms, discoveryUrl, parseProviderMetadata, ProviderUnavailableError } from '../../src/auth/jwt-header/discovery.js';

const P = 'brics.aip1.notebooks';

describe('projectsForPlatform', () => {
  it('keeps the projects with a resource on the platform, as {id: {name, username}} (brics.md §1 example)', () => {
    const claim = {
      'project1.portal': { name: 'Project 1', resources: [{ name: P, username: 'test_user.project1' }] },
      'project2.portal': { name: 'Project 2', resources: [{ name: 'brics.aip1.clusters', username: 'test_user.project2' }] },
    };
    assert.deepEqual(projectsForPlatform(claim, P), { 'project1.portal': { name: 'Project 1', username: 'test_user.project1' } });
    assert.deepEqual(projectsForPlatform(JSON.stringify(claim), P), projectsForPlatform(claim, P));
  });

  it('none on the platform: {}', () => {
    assert.deepEqual(projectsForPlatform({}, P), {});
    assert.deepEqual(projectsForPlatform({ a: { name: 'A', resources: [{ name: 'other', username: 'x' }] } }, P), {});
  });

  it('ignores the shape of resources on other platforms', () => {
    const claim = { a: { name: 'A', resources: [42, null, { name: 'other' }, { name: P, username: 'u.a' }] } };
    assert.deepEqual(projectsForPlatform(claim, P), { a: { name: 'A', username: 'u.a' } });
  });

  it('an id such as __proto__ stays a plain own key', () => {
    const claim = JSON.parse(`{"__proto__": {"name": "X", "resources": [{"name": "${P}", "username": "u.x"}]}}`) as unknown;
    const out = projectsForPlatform(claim, P);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.keys(out), ['__proto__']);
  });

  it('malformed claims throw ProjectsClaimError naming the problem', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /not an object/],
      [7, /not an object/],
      [[], /not an object/],
      ['{', /not JSON/],
      ['"a string"', /not an object/],
      [{ a: 1 }, /"a" .*not an object/],
      [{ a: { name: 'A' } }, /"a" .*no list of resources/],
      [{ a: { resources: [{ name: P, username: 'u' }] } }, /"a" has no name/],
      [{ a: { name: 'A', resources: [{ name: P }] } }, /no username/],
      [{ a: { name: 'A', resources: [{ name: P, username: 'a b' }] } }, /username "a b" .*not allowed/],
      [{ '.': { name: 'A', resources: [{ name: P, username: 'u' }] } }, /project id "\." is not allowed/],
    ];
    for (const [claim, message] of cases) {
      assert.throws(() => projectsForPlatform(claim, P), (e: unknown) => e instanceof ProjectsClaimError && message.test(e.message), JSON.stringify(claim));
    }
  });

  it('safe names: letters, digits, _ . -, not starting with . or -', () => {
    for (const ok of ['test_user.project1', 'proj1', 'a-b', '_x', 'A1']) assert.ok(isSafeProjectName(ok), ok);
    for (const bad of ['', '.', '..', '.hidden', '-rf', 'a/b', 'a b', 'a;b', 'é', 'x'.repeat(129), 'a\nb']) assert.ok(!isSafeProjectName(bad), JSON.stringify(bad));
  });
});

describe('JWT-header discovery', () => {
  const from = new URL('https://idp.example.org/realms/x/.well-known/openid-configuration');

  it('the discovery URL joins with one slash', () => {
    assert.equal(discoveryUrl('https://idp.example.org/realms/x').href, from.href);
    assert.equal(discoveryUrl('https://idp.example.org/realms/x/').href, from.href);
  });

  it('never accepts none or HMAC algorithms', () => {
    assert.deepEqual(acceptedAlgorithms(['RS256', 'none', 'HS256', 'hs512', 'ES256', 'RS256', 'PS256', 'EdDSA']), ['RS256', 'ES256', 'PS256', 'EdDSA']);
  });

  it('keeps jwks_uri and the accepted algorithms', () => {
    const meta = parseProviderMetadata({ jwks_uri: 'https://idp.example.org/certs', id_token_signing_alg_values_supported: ['RS256', 'HS256'] }, 'https://idp.example.org/realms/x', from);
    assert.equal(meta.jwksUri.href, 'https://idp.example.org/certs');
    assert.deepEqual(meta.algorithms, ['RS256']);
  });

  it('refuses documents it cannot use, naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [[], /not a JSON object/],
      [{ id_token_signing_alg_values_supported: ['RS256'] }, /no jwks_uri/],
      [{ jwks_uri: 'not a url', id_token_signing_alg_values_supported: ['RS256'] }, /not a URL/],
      [{ jwks_uri: 'http://idp.example.org/certs', id_token_signing_alg_values_supported: ['RS256'] }, /not https/],
      [{ jwks_uri: 'file:///etc/passwd', id_token_signing_alg_values_supported: ['RS256'] }, /not https/],
      [{ jwks_uri: 'https://idp.example.org/certs' }, /no list id_token_signing_alg_values_supported/],
      [{ jwks_uri: 'https://idp.example.org/certs', id_token_signing_alg_values_supported: 'RS256' }, /no list/],
      [{ jwks_uri: 'https://idp.example.org/certs', id_token_signing_alg_values_supported: ['none'] }, /refuses \(none\)/],
    ];
    for (const [doc, message] of cases) {
      assert.throws(() => parseProviderMetadata(doc, 'https://idp.example.org/realms/x', from), (e: unknown) => e instanceof ProviderUnavailableError && message.test(e.message), JSON.stringify(doc));
    }
  });

  it('a plain-http (loopback) provider may have a plain-http key set, never another scheme', () => {
    const local = 'http://127.0.0.1:9000/realms/x';
    assert.equal(parseProviderMetadata({ jwks_uri: 'http://127.0.0.1:9000/certs', id_token_signing_alg_values_supported: ['RS256'] }, local, from).jwksUri.protocol, 'http:');
    assert.throws(() => parseProviderMetadata({ jwks_uri: 'ftp://127.0.0.1/certs', id_token_signing_alg_values_supported: ['RS256'] }, local, from), /not http\(s\)/);
  });
});
