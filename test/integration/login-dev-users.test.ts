import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { loadConfig, validateConfig } from '../../src/config/load.js';
import { devUserProjects } from '../../src/auth/dev-users.js';
import { projectsForPlatform } from '../../src/auth/projects.js';
import { createAuthenticator } from '../../src/auth/registry.js';
import { checkAuthStateKey } from '../../src/auth/auth-state.js';
import { CryptKeeper } from '../../src/lib/crypto.js';
import pino from 'pino';

/** Posts the login form; returns the status, page text and whether a login cookie was set. */
async function tryLogin(t: TestHub, name: string, password: string): Promise<{ status: number; text: string; loggedIn: boolean }> {
  const page = await fetch(`${t.hubUrl}/hub/login`);
  const cookies = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const xsrf = /name="_xsrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  const res = await fetch(`${t.hubUrl}/hub/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookies },
    body: new URLSearchParams({ _xsrf: xsrf, username: name, password }).toString(),
  });
  const loggedIn = res.headers.getSetCookie().some((c) => c.startsWith('jupyterhub-hub-login=') && !c.startsWith('jupyterhub-hub-login=;'));
  return { status: res.status, text: await res.text(), loggedIn };
}

const DEV_USERS = ['alice.proj1', 'alice.proj2', 'bob.proj1'];

/**
 * The projects auth state the JWT-header login keeps for a token whose
 * `projects` claim has alice's dev projects with a resource on the platform
 * (and one more project on another platform only): made by the JWT login's own
 * filter (src/auth/projects.ts), so the two logins are compared, not copied.
 */
const JWT_AUTH_STATE_ALICE = projectsForPlatform(
  {
    proj1: { name: 'proj1', resources: [{ name: 'notebooks', username: 'alice.proj1' }] },
    proj2: { name: 'proj2', resources: [{ name: 'cluster', username: 'alice.proj2c' }, { name: 'notebooks', username: 'alice.proj2' }] },
    proj3: { name: 'proj3', resources: [{ name: 'cluster', username: 'alice.proj3' }] },
  },
  'notebooks',
);

/** Issue 10 §3: the dev mode that mimics the BriCS login. */
describe('dev mode: shared password with dev_users', () => {
  let t: TestHub;
  const savedKey = process.env['GANYMEDE_CRYPT_KEY'];
  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = randomBytes(32).toString('hex');
    t = await startTestHub({ auth: { kind: 'shared-password', shared_password: 'test-password', admin_password: 'admin-password', dev_users: DEV_USERS }, admin_users: ['bob'] });
  });
  after(async () => {
    await t.stop();
    if (savedKey === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
    else process.env['GANYMEDE_CRYPT_KEY'] = savedKey;
  });

  const authStateOf = async (name: string): Promise<unknown> => {
    const row = await t.hub.db.selectFrom('users').select('auth_state').where('name', '=', name).executeTakeFirst();
    return row?.auth_state ? t.hub.crypt.decrypt(row.auth_state) : null;
  };

  it('logs in the user typed when it is a dev user, with the JWT login\'s projects auth state', async () => {
    const r = await tryLogin(t, 'Alice', 'test-password');
    assert.equal(r.loggedIn, true, r.text);
    assert.deepEqual(await authStateOf('alice'), JWT_AUTH_STATE_ALICE);
  });

  it('the typed name may differ in case and surrounding spaces; a look-alike of a dev user is refused, storing nothing', async () => {
    const r = await tryLogin(t, '  ALICE\t', 'test-password');
    assert.equal(r.loggedIn, true, r.text);
    // fullwidth a, a small capital B: never a dev user's projects
    for (const name of ['\uFF41lice', 'bo\u0299', '\u00A0alice\u200B']) {
      const before = await t.hub.db.selectFrom('users').select('name').execute();
      const bad = await tryLogin(t, name, 'test-password');
      assert.equal(bad.loggedIn, false, name);
      assert.ok(bad.status === 400 || bad.status === 403, `${name}: ${bad.status}`);
      assert.deepEqual(await t.hub.db.selectFrom('users').select('name').execute(), before);
    }
  });

  it('refuses any other name with a clear message, and stores nothing', async () => {
    for (const name of ['carol', 'proj1', 'alice.proj1', 'alic']) {
      const r = await tryLogin(t, name, 'test-password');
      assert.equal(r.status, 403, name);
      assert.equal(r.loggedIn, false, name);
      assert.match(r.text, /is not one of the dev users \(auth\.dev_users\)/, name);
      const row = await t.hub.db.selectFrom('users').select('name').where('name', '=', name.toLowerCase()).executeTakeFirst();
      assert.equal(row, undefined, name);
    }
    // the wrong password says nothing about who the dev users are
    const wrong = await tryLogin(t, 'carol', 'wrong-password');
    assert.equal(wrong.loggedIn, false);
    assert.doesNotMatch(wrong.text, /dev users/);
  });

  it('admins still need admin_password, and get their projects', async () => {
    const shared = await tryLogin(t, 'bob', 'test-password');
    assert.equal(shared.loggedIn, false);
    assert.match(shared.text, /admin password/);
    assert.equal((await tryLogin(t, 'bob', 'admin-password')).loggedIn, true);
    assert.deepEqual(await authStateOf('bob'), { proj1: { name: 'proj1', username: 'bob.proj1' } });
  });

  it('the authenticator says it needs auth state (so the hub wants GANYMEDE_CRYPT_KEY)', () => {
    assert.equal(t.hub.authenticator.needsAuthState, true);
  });
});

describe('dev mode without GANYMEDE_CRYPT_KEY', () => {
  it('the hub refuses to start, naming the variable (auth state is never dropped)', () => {
    const noKey = CryptKeeper.fromEnv({});
    const log = pino({ level: 'silent' });
    const dev = validateConfig({ auth: { kind: 'shared-password', shared_password: 'test-password', dev_users: DEV_USERS } });
    const devAuth = createAuthenticator(dev, undefined as never, log);
    assert.equal(devAuth.needsAuthState, true);
    assert.throws(() => checkAuthStateKey(dev, devAuth, noKey), /shared-password login keeps auth state.*GANYMEDE_CRYPT_KEY is not set/);
    // without dev_users, the shared password needs no key
    const plain = validateConfig({ auth: { kind: 'shared-password', shared_password: 'test-password' } });
    const plainAuth = createAuthenticator(plain, undefined as never, log);
    assert.equal(plainAuth.needsAuthState, false);
    checkAuthStateKey(plain, plainAuth, noKey);
  });
});

describe('dev_users at config load', () => {
  it('builds the projects of one user only; projects may hold dots', () => {
    assert.deepEqual(devUserProjects(['alice.proj1', 'bob.proj1', 'ALICE.p.portal'], 'alice'), {
      proj1: { name: 'proj1', username: 'alice.proj1' },
      'p.portal': { name: 'p.portal', username: 'ALICE.p.portal' },
    });
    assert.equal(devUserProjects(['alice.proj1'], 'bob'), null);
    assert.equal(devUserProjects([], 'alice'), null);
  });

  it('a project named like an Object.prototype member is a plain key, the same as the JWT login gives', () => {
    const got = devUserProjects(['alice.__proto__', 'alice.constructor', 'alice.toString'], 'alice')!;
    assert.equal(Object.getPrototypeOf(got), Object.prototype);
    assert.deepEqual(Object.keys(got), ['__proto__', 'constructor', 'toString']);
    const jwt = projectsForPlatform(
      JSON.parse(
        '{"__proto__": {"name": "__proto__", "resources": [{"name": "nb", "username": "alice.__proto__"}]},' +
          ' "constructor": {"name": "constructor", "resources": [{"name": "nb", "username": "alice.constructor"}]},' +
          ' "toString": {"name": "toString", "resources": [{"name": "nb", "username": "alice.toString"}]}}',
      ),
      'nb',
    );
    assert.deepEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(jwt)));
    assert.equal(JSON.stringify(got), JSON.stringify(jwt));
  });

  it('reports every bad entry with its index', () => {
    assert.throws(
      () => validateConfig({ auth: { kind: 'shared-password', dev_users: ['alice.proj1', 'noproject', 'bob.', '..x.proj', 'a/b.proj', '.proj', 'ok.p', ' x.p'] } }),
      (err: Error) => {
        for (const [i, what] of [
          [1, /no dot/],
          [2, /project after the first dot is empty/],
          [4, /user part "a\/b"/],
          [5, /user part ""/],
          [7, /user part " x"/],
        ] as const) {
          assert.match(err.message, new RegExp(`auth\\.dev_users\\[${i}\\]: .*${what.source}`), err.message);
        }
        assert.doesNotMatch(err.message, /dev_users\[(0|6)\]/);
        return true;
      },
    );
    // project ids and account names are safe as paths and sudo arguments
    for (const bad of ['alice.-rf', 'alice.p j', 'alice.p/x', 'alice.p;id', 'alice..p', `alice.${'p'.repeat(130)}`]) {
      assert.throws(() => validateConfig({ auth: { kind: 'shared-password', dev_users: [bad] } }), /dev_users\[0\]: the project/, bad);
    }
    assert.throws(() => validateConfig({ auth: { kind: 'shared-password', dev_users: ['al ice.p'] } }), /dev_users\[0\]: "al ice\.p" is used as a unix account name/);
    // "..x.proj": user part "" (split at the first dot)
    assert.throws(() => validateConfig({ auth: { kind: 'shared-password', dev_users: ['..x.proj'] } }), /dev_users\[0\]: the user part ""/);
  });

  it('one space-separated variable gives the list (BriCS DEPLOY_CONFIG_DEV_USERS)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-dev-users-'));
    process.env['GTEST_DEPLOY_CONFIG_DEV_USERS'] = 'alice.proj1 alice.proj2 bob.proj1';
    try {
      const file = path.join(dir, 'c.yaml');
      writeFileSync(file, 'auth:\n  kind: shared-password\n  dev_users: ["${GTEST_DEPLOY_CONFIG_DEV_USERS}"]\n');
      const { config } = await loadConfig(file);
      assert.deepEqual(config.auth.kind === 'shared-password' && config.auth.dev_users, DEV_USERS);
    } finally {
      delete process.env['GTEST_DEPLOY_CONFIG_DEV_USERS'];
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
