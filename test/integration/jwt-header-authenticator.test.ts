/**
 * Issue 10 §2: the JWT-header login (src/auth/jwt-header/) against a real
 * stand-in identity provider on loopback (test/helpers/jwt-issuer.ts):
 * discovery, the key set, every way a token can be wrong.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import pino from 'pino';
import { UnsecuredJWT, SignJWT } from 'jose';
import { AuthError } from '../../src/auth/authenticator.js';
import { endsSessionOnFailure, InvalidTokenError, JwtHeaderAuthenticator, type JwtHeaderOptions } from '../../src/auth/jwt-header/jwt-header-authenticator.js';
import { ConfigError } from '../../src/lib/errors.js';
import { startTestIssuer, TEST_PLATFORM, testProjects, type TestIssuer } from '../helpers/jwt-issuer.js';

const log = pino({ level: 'silent' });

function request(headers: Record<string, string>): FastifyRequest {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { headers: lower } as unknown as FastifyRequest;
}

function makeAuth(issuer: TestIssuer, over: Partial<JwtHeaderOptions> = {}): JwtHeaderAuthenticator {
  return new JwtHeaderAuthenticator({
    header: 'X-Auth-Id-Token',
    oidcServer: issuer.issuer,
    audience: issuer.audience,
    leewaySec: 5,
    platform: TEST_PLATFORM,
    logoutRedirectUrl: '',
    invalidJwtLogout: false,
    log,
    provider: { jwksCooldownMs: 0, timeoutMs: 1000, retryMs: 0 },
    ...over,
  });
}

async function refused(p: Promise<unknown>, status: number, message: RegExp): Promise<AuthError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AuthError, `expected an AuthError, got ${String(err)}`);
    assert.equal(err.status, status, err.message);
    assert.match(err.message, message);
    return err;
  }
  assert.fail('the token was accepted');
}

const EXPECTED_STATE = { 'project1.portal': { name: 'Project 1', username: 'test_user.project1' } };

describe('jwt-header login: valid tokens', () => {
  let issuer: TestIssuer;
  let auth: JwtHeaderAuthenticator;
  before(async () => {
    issuer = await startTestIssuer();
    auth = makeAuth(issuer);
  });
  after(() => issuer.stop());

  it('a valid token logs in short_name, with the projects on this platform as auth state', async () => {
    const result = await auth.authenticateRequest(request({ 'X-Auth-Id-Token': await issuer.token() }));
    assert.deepEqual(result, { name: 'test_user', authState: EXPECTED_STATE });
    assert.equal(auth.needsAuthState, true);
    assert.equal(auth.loginHeader, 'X-Auth-Id-Token');
  });

  it('keeps only the projects with a resource on the platform, each with that resource\'s username', async () => {
    const projects = {
      ...testProjects(),
      'project3.portal': { name: 'Project 3', resources: [{ name: 'brics.aip1.clusters', username: 'x.p3' }, { name: TEST_PLATFORM, username: 'test_user.project3' }] },
      'project4.portal': { name: 'Project 4', resources: [] },
    };
    const result = await auth.authenticateRequest(request({ 'X-Auth-Id-Token': await issuer.token({ projects }) }));
    assert.deepEqual(result?.authState, {
      'project1.portal': { name: 'Project 1', username: 'test_user.project1' },
      'project3.portal': { name: 'Project 3', username: 'test_user.project3' },
    });
  });

  it('accepts projects given as a JSON string holding the object', async () => {
    const result = await auth.authenticateRequest(request({ 'X-Auth-Id-Token': await issuer.token({ projects: JSON.stringify(testProjects()) }) }));
    assert.deepEqual(result, { name: 'test_user', authState: EXPECTED_STATE });
  });

  it('accepts an aud list that holds the audience, and a token expired within the leeway', async () => {
    const now = Math.floor(Date.now() / 1000);
    const tok = await issuer.token({ aud: ['other', issuer.audience], exp: now - 2 });
    assert.equal((await auth.authenticateRequest(request({ 'X-Auth-Id-Token': tok })))?.name, 'test_user');
  });

  it('no header, or an empty one: null (the hub answers 401 naming the header)', async () => {
    assert.equal(await auth.authenticateRequest(request({})), null);
    assert.equal(await auth.authenticateRequest(request({ 'X-Auth-Id-Token': '  ' })), null);
  });

  it('reads the configured header and no other', async () => {
    const custom = makeAuth(issuer, { header: 'X-Forwarded-Id-Token' });
    const tok = await issuer.token();
    assert.equal(await custom.authenticateRequest(request({ 'X-Auth-Id-Token': tok })), null);
    assert.equal((await custom.authenticateRequest(request({ 'X-Forwarded-Id-Token': tok })))?.name, 'test_user');
  });

  it('a key the provider publishes after a rotation: the key set is fetched again and the token accepted', async () => {
    const before = issuer.jwksFetches;
    const kid = await issuer.rotate({ retire: true });
    const result = await auth.authenticateRequest(request({ 'X-Auth-Id-Token': await issuer.token({}, { kid }) }));
    assert.equal(result?.name, 'test_user');
    assert.equal(issuer.jwksFetches, before + 1);
  });

  it('the key set is cached: valid logins do not fetch it again', async () => {
    const before = issuer.jwksFetches;
    const discoveries = issuer.discoveryFetches;
    for (let i = 0; i < 3; i++) await auth.authenticateRequest(request({ 'X-Auth-Id-Token': await issuer.token() }));
    assert.equal(issuer.jwksFetches, before);
    assert.equal(issuer.discoveryFetches, discoveries);
  });
});

describe('jwt-header login: refused tokens name the reason', () => {
  let issuer: TestIssuer;
  let auth: JwtHeaderAuthenticator;
  before(async () => {
    issuer = await startTestIssuer({ algorithms: ['RS256', 'HS256', 'none'] });
    auth = makeAuth(issuer);
  });
  after(() => issuer.stop());
  const login = (token: string) => auth.authenticateRequest(request({ 'X-Auth-Id-Token': token }));

  it('expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(login(await issuer.token({ iat: now - 600, exp: now - 60 })), 401, /^Invalid X-Auth-Id-Token header: the token has expired/);
  });

  it('wrong audience', async () => {
    await refused(login(await issuer.token({ aud: 'someone-else' })), 401, /another audience/);
  });

  it('wrong issuer (also one differing only by a trailing slash)', async () => {
    await refused(login(await issuer.token({ iss: 'https://evil.example/realms/brics' })), 401, /another identity provider/);
    await refused(login(await issuer.token({ iss: `${issuer.issuer}/` })), 401, /another identity provider/);
  });

  it('issued in the future beyond the leeway', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(login(await issuer.token({ iat: now + 120, exp: now + 600 })), 401, /issued in the future/);
  });

  it('not valid yet (nbf)', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(login(await issuer.token({ nbf: now + 120 })), 401, /not valid yet/);
  });

  for (const claim of ['aud', 'exp', 'iss', 'iat', 'short_name', 'projects']) {
    it(`missing ${claim}`, async () => {
      await refused(login(await issuer.token({ [claim]: undefined })), 401, new RegExp(`no ${claim} claim`));
    });
  }

  it('a short_name that is not a string, or empty', async () => {
    await refused(login(await issuer.token({ short_name: 42 })), 401, /short_name/);
    await refused(login(await issuer.token({ short_name: '' })), 401, /short_name/);
  });

  it('time claims that are not numbers', async () => {
    await refused(login(await issuer.token({ exp: 'tomorrow' })), 401, /exp claim is invalid/);
    await refused(login(await issuer.token({ iat: '2026-01-01' })), 401, /iat claim is invalid/);
  });

  it('a key the provider does not publish (unknown kid), even after fetching the key set again', async () => {
    const stray = await issuer.strayKey();
    const before = issuer.jwksFetches;
    await refused(login(await issuer.token({}, { kid: stray.kid, key: stray.privateKey })), 401, /key the identity provider does not publish/);
    assert.equal(issuer.jwksFetches, before + 1, 'an unknown kid fetches the key set again');
  });

  it('a bad signature: signed by another key under the provider\'s kid, or a changed payload', async () => {
    const stray = await issuer.strayKey();
    await refused(login(await issuer.token({}, { kid: issuer.currentKid(), key: stray.privateKey })), 401, /signature is not valid/);
    const [h, , s] = (await issuer.token()).split('.');
    const forged = Buffer.from(JSON.stringify({ iss: issuer.issuer, aud: issuer.audience, short_name: 'admin' })).toString('base64url');
    await refused(login(`${h}.${forged}.${s}`), 401, /signature is not valid/);
  });

  it('alg none, even when the discovery document lists it', async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = new UnsecuredJWT({ iss: issuer.issuer, aud: issuer.audience, iat: now, exp: now + 300, short_name: 'test_user', projects: testProjects() }).encode();
    await refused(login(unsigned), 401, /signing algorithm is not allowed/);
    const [, payload] = unsigned.split('.');
    const withKid = `${Buffer.from(JSON.stringify({ alg: 'none', kid: issuer.currentKid() })).toString('base64url')}.${payload}.`;
    await refused(login(withKid), 401, /signing algorithm is not allowed/);
  });

  it('HS256 with the public key as the secret, even when the discovery document lists HS256', async () => {
    const pem = await issuer.publicPem();
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer.issuer, aud: issuer.audience, iat: now, exp: now + 300, short_name: 'test_user', projects: testProjects() };
    const tok = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: issuer.currentKid() }).sign(new TextEncoder().encode(pem));
    await refused(login(tok), 401, /signing algorithm is not allowed/);
  });

  it('an asymmetric algorithm outside the provider\'s list (ES256 when it lists RS256)', async () => {
    const kid = await issuer.rotate({ alg: 'ES256' });
    await refused(login(await issuer.token({}, { kid })), 401, /signing algorithm is not allowed \(the provider's: RS256\)/);
    await issuer.rotate({ alg: 'RS256' }); // the other tests sign with RS256 again
  });

  it('not a JWT at all', async () => {
    for (const junk of ['abc', 'a.b.c', 'Bearer x.y.z', `${'A'.repeat(20_000)}.b.c`]) {
      await refused(login(junk), 401, /^Invalid X-Auth-Id-Token header/);
    }
  });

  it('structurally odd tokens (headers, payloads, separators) are all a 401, never another error', async () => {
    const b64 = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
    const good = await issuer.token();
    const [h, p, s] = good.split('.');
    const kid = issuer.currentKid();
    const headers: unknown[] = [{ alg: 'RS256', kid: 123 }, { alg: 'RS256', kid, crit: ['x'], x: 1 }, { alg: 'RS256', kid, b64: false, crit: ['b64'] }, { alg: 'RS256' }, { alg: ['RS256'] }, {}, 'null', '[]', 'x', { alg: 'RS256', kid, jwk: { kty: 'RSA' } }, { alg: 'RS256', kid: '__proto__' }];
    const payloads = ['[]', '"s"', 'null', '{"exp":1e400}', 'x'];
    const tokens = [
      ...headers.map((hd) => `${b64(hd)}.${p}.${s}`),
      ...payloads.map((pl) => `${h}.${b64(pl)}.${s}`),
      '...',
      '.',
      'a.b',
      `${good}.x`,
      good.replace(/\./g, ' '),
      'é.é.é',
    ];
    for (const tok of tokens) await refused(login(tok), 401, /^Invalid X-Auth-Id-Token header: /);
  });

  it('no project on the platform: 403 "No projects with valid platform"', async () => {
    const projects = { 'project2.portal': { name: 'Project 2', resources: [{ name: 'brics.aip1.clusters', username: 'test_user.project2' }] } };
    await refused(login(await issuer.token({ projects })), 403, /^No projects with valid platform/);
    await refused(login(await issuer.token({ projects: {} })), 403, /^No projects with valid platform/);
  });

  it('malformed projects claims', async () => {
    const cases: unknown[] = [
      42,
      ['project1.portal'],
      'not json {',
      JSON.stringify([1, 2]),
      { p: 'not an object' },
      { p: { name: 'P', resources: 'none' } },
      { p: { resources: [{ name: TEST_PLATFORM, username: 'u.p' }] } },
      { p: { name: 'P', resources: [{ name: TEST_PLATFORM }] } },
      { p: { name: 'P', resources: [{ name: TEST_PLATFORM, username: '../../etc' }] } },
      { p: { name: 'P', resources: [{ name: TEST_PLATFORM, username: '-oProxyCommand=x' }] } },
      { '../p': { name: 'P', resources: [{ name: TEST_PLATFORM, username: 'u.p' }] } },
      { p: { name: 'P', resources: [{ name: TEST_PLATFORM, username: 'a' }, { name: TEST_PLATFORM, username: 'b' }] } },
    ];
    for (const projects of cases) {
      await refused(login(await issuer.token({ projects })), 401, /malformed projects claim/);
    }
  });

  it('invalid_jwt_logout: invalid tokens ask the hub to end the session; refusals for other reasons do not', async () => {
    const withLogout = makeAuth(issuer, { invalidJwtLogout: true });
    const now = Math.floor(Date.now() / 1000);
    const expired = await issuer.token({ iat: now - 600, exp: now - 60 });
    const err = await refused(withLogout.authenticateRequest(request({ 'X-Auth-Id-Token': expired })), 401, /expired/);
    assert.ok(err instanceof InvalidTokenError);
    assert.equal(endsSessionOnFailure(err), true);
    const noProject = await refused(withLogout.authenticateRequest(request({ 'X-Auth-Id-Token': await issuer.token({ projects: {} }) })), 403, /No projects/);
    assert.equal(endsSessionOnFailure(noProject), false);
    const off = await refused(login(expired), 401, /expired/);
    assert.equal(endsSessionOnFailure(off), false);
  });
});

describe('jwt-header login: the identity provider', () => {
  it('unreachable, failing or hanging: 503 within the timeout, never a hang', async () => {
    const issuer = await startTestIssuer();
    try {
      const token = await issuer.token();
      issuer.mode = 'fail';
      const failing = makeAuth(issuer);
      const e1 = await refused(failing.authenticateRequest(request({ 'X-Auth-Id-Token': token })), 503, /identity provider could not be reached/);
      assert.match(e1.logMessage ?? '', /answered HTTP 500/);
      issuer.mode = 'hang';
      const hanging = makeAuth(issuer, { provider: { timeoutMs: 300, retryMs: 0 } });
      const t0 = Date.now();
      const e2 = await refused(hanging.authenticateRequest(request({ 'X-Auth-Id-Token': token })), 503, /could not be reached/);
      assert.match(e2.logMessage ?? '', /did not answer within 300 ms/);
      assert.ok(Date.now() - t0 < 2000, 'bounded by the timeout');
    } finally {
      await issuer.stop();
    }
    const gone = makeAuth(issuer);
    await refused(gone.authenticateRequest(request({ 'X-Auth-Id-Token': 'a.b.c' })), 503, /could not be reached/);
  });

  it('recovers once the provider answers again, and keeps the last good discovery when it goes away', async () => {
    const issuer = await startTestIssuer();
    try {
      const auth = makeAuth(issuer, { provider: { timeoutMs: 500, retryMs: 0, rediscoverMs: 0 } });
      issuer.mode = 'fail';
      await refused(auth.authenticateRequest(request({ 'X-Auth-Id-Token': await issuer.token() })), 503, /could not be reached/);
      issuer.mode = 'ok';
      assert.equal((await auth.authenticateRequest(request({ 'X-Auth-Id-Token': await issuer.token() })))?.name, 'test_user');
      issuer.mode = 'fail';
      // discovery fails again (rediscoverMs 0) but the cached document and keys still verify
      assert.equal((await auth.authenticateRequest(request({ 'X-Auth-Id-Token': await issuer.token() })))?.name, 'test_user');
    } finally {
      await issuer.stop();
    }
  });

  it('a discovery document listing only refused algorithms is a clear 503', async () => {
    const issuer = await startTestIssuer({ algorithms: ['none', 'HS256'] });
    try {
      const err = await refused(makeAuth(issuer).authenticateRequest(request({ 'X-Auth-Id-Token': await issuer.token() })), 503, /could not be reached/);
      assert.match(err.logMessage ?? '', /only with algorithms the hub refuses/);
    } finally {
      await issuer.stop();
    }
  });

  it('oidc_server must be https, except on loopback', () => {
    const base = { header: 'X-Auth-Id-Token', audience: 'a', leewaySec: 5, platform: 'p', logoutRedirectUrl: '', invalidJwtLogout: false, log };
    assert.throws(() => new JwtHeaderAuthenticator({ ...base, oidcServer: 'http://idp.example.org/realms/x' }), ConfigError);
    assert.doesNotThrow(() => new JwtHeaderAuthenticator({ ...base, oidcServer: 'https://idp.example.org/realms/x' }));
    assert.doesNotThrow(() => new JwtHeaderAuthenticator({ ...base, oidcServer: 'http://127.0.0.1:8080/realms/x' }));
  });

  it('logoutUrl is the tunnel\'s sign-out URL when set', () => {
    const base = { header: 'X-Auth-Id-Token', audience: 'a', leewaySec: 5, platform: 'p', invalidJwtLogout: false, log, oidcServer: 'https://idp.example.org' };
    assert.equal(new JwtHeaderAuthenticator({ ...base, logoutRedirectUrl: 'https://hub.example.org/_oidc/sign_out?rd=https%3A%2F%2Fhub.example.org' }).logoutUrl(), 'https://hub.example.org/_oidc/sign_out?rd=https%3A%2F%2Fhub.example.org');
    assert.equal(new JwtHeaderAuthenticator({ ...base, logoutRedirectUrl: '' }).logoutUrl(), undefined);
  });
});
