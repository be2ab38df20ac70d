/**
 * Issue 10 §2 end to end: the BriCS login through the hub's `GET /hub/login`
 * with the token in `X-Auth-Id-Token`, against a stand-in identity provider
 * on loopback (test/helpers/jwt-issuer.ts). A valid token logs the user in
 * with the projects auth state (encrypted); every refused token gets a page
 * naming why, and stores nothing (no user, no session cookie).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { SignJWT, UnsecuredJWT } from 'jose';
import { getUser } from '../../src/db/repos/users.js';
import { loadAuthState } from '../../src/auth/auth-state.js';
import { buildHub } from '../../src/hub/app.js';
import { startTestHub, testHubConfig, type TestHub } from '../helpers/hub.js';
import { startTestIssuer, TEST_PLATFORM, testProjects, type TestIssuer } from '../helpers/jwt-issuer.js';
import { trivialSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';

const COOKIE = 'jupyterhub-hub-login';
const SIGN_OUT = 'https://hub.example.org/_oidc/sign_out?rd=https%3A%2F%2Fhub.example.org%2F';

/** A GET without following redirects; `jar` sends and keeps cookies. */
async function get(base: string, path: string, opts: { token?: string; jar?: Map<string, string>; header?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers[opts.header ?? 'X-Auth-Id-Token'] = opts.token;
  if (opts.jar?.size) headers['Cookie'] = [...opts.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const res = await fetch(`${base}${path}`, { headers, redirect: 'manual' });
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const eq = pair!.indexOf('=');
    const [name, value] = [pair!.slice(0, eq), pair!.slice(eq + 1)];
    if (value === '' || /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c)) opts.jar?.delete(name);
    else opts.jar?.set(name, value);
  }
  return res;
}

function loginCookieSet(res: Response): boolean {
  return res.headers.getSetCookie().some((c) => c.startsWith(`${COOKIE}=`) && !/^[^=]+=;/.test(c) && !/Max-Age=0/i.test(c));
}

const savedKey = process.env['GANYMEDE_CRYPT_KEY'];

describe('jwt-header login through the hub', () => {
  let issuer: TestIssuer;
  let t: TestHub;
  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = randomBytes(32).toString('hex');
    issuer = await startTestIssuer({ algorithms: ['RS256', 'HS256'] });
    t = await startTestHub({
      // many refused logins from one address on purpose: the rate limit (tested in login-rate-limit.test.ts) is off
      auth: { kind: 'jwt-header', oidc_server: issuer.issuer, jwt_audience: issuer.audience, platform: TEST_PLATFORM, logout_redirect_url: SIGN_OUT, login_rate_limit: { attempts: 0 } },
    });
  });
  after(async () => {
    await t?.stop();
    await issuer?.stop();
    if (savedKey === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
    else process.env['GANYMEDE_CRYPT_KEY'] = savedKey;
  });

  it('a valid token logs short_name in, keeps the platform\'s projects as (encrypted) auth state, and goes to next', async () => {
    const jar = new Map<string, string>();
    const r = await get(t.hubUrl, '/hub/login?next=%2Fhub%2Ftoken', { token: await issuer.token(), jar });
    assert.equal(r.status, 302, await r.text());
    assert.equal(r.headers.get('location'), '/hub/token');
    assert.ok(jar.has(COOKIE));
    const user = await getUser(t.hub.db, 'test_user');
    assert.ok(user);
    assert.ok(user.auth_state && !user.auth_state.includes('project1'), 'auth state is stored encrypted');
    assert.deepEqual(await loadAuthState(t.hub.db, t.hub.crypt, user.id, t.hub.log), {
      'project1.portal': { name: 'Project 1', username: 'test_user.project1' },
    });
    const home = await get(t.hubUrl, '/hub/home', { jar });
    assert.equal(home.status, 200);
  });

  it('a later login updates the projects from the new token', async () => {
    const projects = { ...testProjects(), 'project2.portal': { name: 'Project 2', resources: [{ name: TEST_PLATFORM, username: 'test_user.project2' }] } };
    const r = await get(t.hubUrl, '/hub/login', { token: await issuer.token({ projects: JSON.stringify(projects) }) });
    assert.equal(r.status, 302);
    const user = (await getUser(t.hub.db, 'test_user'))!;
    assert.deepEqual(Object.keys((await loadAuthState(t.hub.db, t.hub.crypt, user.id, t.hub.log)) ?? {}).sort(), ['project1.portal', 'project2.portal']);
  });

  it('no header: 401 naming the header', async () => {
    const r = await get(t.hubUrl, '/hub/login');
    assert.equal(r.status, 401);
    assert.match(await r.text(), /X-Auth-Id-Token/);
    assert.ok(!loginCookieSet(r));
  });

  const now = () => Math.floor(Date.now() / 1000);
  const cases: Array<[string, () => Promise<string>, number, RegExp]> = [
    ['expired', () => issuer.token({ short_name: 'mallory', iat: now() - 600, exp: now() - 60 }), 401, /has expired/],
    ['wrong audience', () => issuer.token({ short_name: 'mallory', aud: 'another-client' }), 401, /another audience/],
    ['wrong issuer', () => issuer.token({ short_name: 'mallory', iss: 'https://evil.example/realms/brics' }), 401, /another identity provider/],
    ['unknown kid', async () => {
      const stray = await issuer.strayKey();
      return issuer.token({ short_name: 'mallory' }, { kid: stray.kid, key: stray.privateKey });
    }, 401, /does not publish/],
    ['bad signature', async () => {
      const stray = await issuer.strayKey();
      return issuer.token({ short_name: 'mallory' }, { kid: issuer.currentKid(), key: stray.privateKey });
    }, 401, /signature is not valid/],
    ['alg none', async () => new UnsecuredJWT({ iss: issuer.issuer, aud: issuer.audience, iat: now(), exp: now() + 300, short_name: 'mallory', projects: testProjects('mallory') }).encode(), 401, /algorithm is not allowed/],
    ['HS256 with the public key as secret (listed by the provider)', async () =>
      new SignJWT({ iss: issuer.issuer, aud: issuer.audience, iat: now(), exp: now() + 300, short_name: 'mallory', projects: testProjects('mallory') })
        .setProtectedHeader({ alg: 'HS256', kid: issuer.currentKid() })
        .sign(new TextEncoder().encode(await issuer.publicPem())), 401, /algorithm is not allowed/],
    ['missing short_name', () => issuer.token({ short_name: undefined }), 401, /no short_name claim/],
    ['missing projects', () => issuer.token({ short_name: 'mallory', projects: undefined }), 401, /no projects claim/],
    ['malformed projects', () => issuer.token({ short_name: 'mallory', projects: '{"p": ' }), 401, /malformed projects claim/],
    ['no project on the platform', () => issuer.token({ short_name: 'mallory', projects: { p: { name: 'P', resources: [{ name: 'elsewhere', username: 'mallory.p' }] } } }), 403, /No projects with valid platform/],
    ['not a JWT', async () => 'not-a-token', 401, /not a valid signed JWT/],
  ];
  for (const [what, make, status, message] of cases) {
    it(`refused (${what}): ${status} page naming it; no user, no session cookie`, async () => {
      const users = await t.hub.db.selectFrom('users').select('name').execute();
      const sessions = await t.hub.db.selectFrom('sessions').select('id').execute();
      const r = await get(t.hubUrl, '/hub/login?next=%2Fhub%2Fhome', { token: await make() });
      assert.equal(r.status, status);
      const body = await r.text();
      assert.match(r.headers.get('content-type') ?? '', /text\/html/);
      assert.match(body, message);
      assert.ok(!loginCookieSet(r), 'a refused login got a login cookie');
      assert.equal(await getUser(t.hub.db, 'mallory'), undefined, 'a refused login created a user');
      assert.deepEqual(await t.hub.db.selectFrom('users').select('name').execute(), users, 'the users changed');
      assert.deepEqual(await t.hub.db.selectFrom('sessions').select('id').execute(), sessions, 'a session was stored');
    });
  }

  it('logout ends the session and goes to the tunnel\'s sign-out URL', async () => {
    const jar = new Map<string, string>();
    assert.equal((await get(t.hubUrl, '/hub/login', { token: await issuer.token(), jar })).status, 302);
    const out = await get(t.hubUrl, '/hub/logout', { jar });
    assert.equal(out.status, 302);
    assert.equal(out.headers.get('location'), SIGN_OUT);
    assert.ok(!jar.has(COOKIE));
  });

  it('without invalid_jwt_logout, an invalid token with a session keeps the session', async () => {
    const jar = new Map<string, string>();
    assert.equal((await get(t.hubUrl, '/hub/login', { token: await issuer.token(), jar })).status, 302);
    const expired = await issuer.token({ iat: now() - 600, exp: now() - 60 });
    const r = await get(t.hubUrl, '/hub/login?next=%2Fhub%2Fhome', { token: expired, jar });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), '/hub/home');
    assert.equal((await get(t.hubUrl, '/hub/home', { jar })).status, 200);
  });
});

describe('jwt-header login through the hub: invalid_jwt_logout', () => {
  let issuer: TestIssuer;
  let t: TestHub;
  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = randomBytes(32).toString('hex');
    issuer = await startTestIssuer();
    t = await startTestHub({
      auth: {
        kind: 'jwt-header',
        header: 'X-Zenith-Id-Token',
        oidc_server: issuer.issuer,
        jwt_audience: issuer.audience,
        platform: TEST_PLATFORM,
        invalid_jwt_logout: true,
        logout_redirect_url: SIGN_OUT,
        login_rate_limit: { attempts: 0 },
      },
    });
  });
  after(async () => {
    await t?.stop();
    await issuer?.stop();
    if (savedKey === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
    else process.env['GANYMEDE_CRYPT_KEY'] = savedKey;
  });

  it('an invalid token while a session exists: redirected to logout, which ends the session and goes to the sign-out URL', async () => {
    const jar = new Map<string, string>();
    const header = 'X-Zenith-Id-Token';
    assert.equal((await get(t.hubUrl, '/hub/login', { token: await issuer.token(), jar, header })).status, 302);
    assert.ok(jar.has(COOKIE));
    const now = Math.floor(Date.now() / 1000);
    const r = await get(t.hubUrl, '/hub/login', { token: await issuer.token({ iat: now - 600, exp: now - 60 }), jar, header });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), '/hub/logout');
    const out = await get(t.hubUrl, '/hub/logout', { jar });
    assert.equal(out.headers.get('location'), SIGN_OUT);
    assert.ok(!jar.has(COOKIE));
    assert.equal((await get(t.hubUrl, '/hub/home', { jar })).status, 302, 'the session is gone');
  });

  it('a valid token, or none, with a session keeps it; without a session an invalid token gets its page', async () => {
    const jar = new Map<string, string>();
    const header = 'X-Zenith-Id-Token';
    assert.equal((await get(t.hubUrl, '/hub/login', { token: await issuer.token(), jar, header })).status, 302);
    assert.equal((await get(t.hubUrl, '/hub/login?next=%2Fhub%2Fhome', { token: await issuer.token(), jar, header })).headers.get('location'), '/hub/home');
    assert.equal((await get(t.hubUrl, '/hub/login?next=%2Fhub%2Fhome', { jar })).headers.get('location'), '/hub/home');
    const r = await get(t.hubUrl, '/hub/login', { token: await issuer.token({ aud: 'x' }), header });
    assert.equal(r.status, 401);
    assert.match(await r.text(), /Invalid X-Zenith-Id-Token header/);
  });

  it('the configured header, not the default one', async () => {
    const r = await get(t.hubUrl, '/hub/login', { token: await issuer.token() });
    assert.equal(r.status, 401);
    assert.match(await r.text(), /X-Zenith-Id-Token/);
  });
});

describe('jwt-header login through the hub: the projects reach the spawn', () => {
  let issuer: TestIssuer;
  let t: TestHub;
  let spawner: TrivialSpawner;
  const hookSaw: Array<Record<string, unknown> | null> = [];
  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = randomBytes(32).toString('hex');
    issuer = await startTestIssuer();
    spawner = trivialSpawner();
    t = await startTestHub(
      { auth: { kind: 'jwt-header', oidc_server: issuer.issuer, jwt_audience: issuer.audience, platform: TEST_PLATFORM, login_rate_limit: { attempts: 0 } } },
      { spawner, hooks: { preSpawnStart: (ctx) => void hookSaw.push(ctx.authState) } },
    );
  });
  after(async () => {
    await spawner?.killAll();
    await t?.stop();
    await issuer?.stop();
    if (savedKey === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
    else process.env['GANYMEDE_CRYPT_KEY'] = savedKey;
  });

  it('SpawnRequest.authState and preSpawnStart get {project_id: {name, username}}', async () => {
    assert.equal((await get(t.hubUrl, '/hub/login', { token: await issuer.token() })).status, 302);
    const r = await t.api('POST', '/users/test_user/server', { token: await t.tokenFor('test_user') });
    assert.ok(r.status === 201 || r.status === 202, `spawn: ${r.status} ${r.text}`);
    const expected = { 'project1.portal': { name: 'Project 1', username: 'test_user.project1' } };
    assert.deepEqual(spawner.calls.at(-1)?.request.authState, expected);
    assert.deepEqual(hookSaw.at(-1), expected);
  });
});

describe('jwt-header login: GANYMEDE_CRYPT_KEY', () => {
  it('the hub refuses to start without it, naming the variable', async () => {
    const saved = { g: process.env['GANYMEDE_CRYPT_KEY'], j: process.env['JUPYTERHUB_CRYPT_KEY'] };
    delete process.env['GANYMEDE_CRYPT_KEY'];
    delete process.env['JUPYTERHUB_CRYPT_KEY'];
    try {
      const auth = { kind: 'jwt-header', oidc_server: 'https://idp.example.org/realms/brics', jwt_audience: 'a', platform: TEST_PLATFORM };
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-test-'));
      await assert.rejects(buildHub({ config: testHubConfig(dataDir, 1, { auth }), log: pino({ level: 'silent' }) }), /jwt-header login keeps auth state.*GANYMEDE_CRYPT_KEY/s);
      rmSync(dataDir, { recursive: true, force: true });
    } finally {
      if (saved.g !== undefined) process.env['GANYMEDE_CRYPT_KEY'] = saved.g;
      if (saved.j !== undefined) process.env['JUPYTERHUB_CRYPT_KEY'] = saved.j;
    }
  });
});
