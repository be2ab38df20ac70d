/**
 * The OIDC login through the whole hub (issue 10 §1): a real OpenID provider
 * (npm oidc-provider, test/helpers/oidc-provider.ts) with Keycloak-like
 * claims, the hub's `oauth_login`/`oauth_callback` routes, its policy
 * (allowed_groups, admin_groups, manage_groups), auth state, refresh before
 * a spawn and RP-initiated logout. Refusals store nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser } from '../helpers/browser.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { freePort } from '../../src/lib/free-port.js';
import { getUser } from '../../src/db/repos/users.js';

const USERS = {
  alice: { password: 'alice-pw', groups: ['/hpc-users'] },
  bob: { password: 'bob-pw', groups: ['/hpc-users', '/hpc-admins'] },
  carol: { password: 'carol-pw', groups: ['/guests'] },
  dave: { password: 'dave-pw', groups: ['/hpc-users'] },
  erin: { password: 'erin-pw', groups: ['/hpc-users'] },
};

/** Logs `login` in through the hub: oauth_login, the provider, the callback. Returns the callback's answer. */
async function oidcLogin(b: Browser, op: TestOidcProvider, login: string, opts: { next?: string; rewriteAuth?: (u: URL) => void; rewriteCallback?: (u: URL) => void } = {}) {
  const start = await b.get(`/hub/oauth_login${opts.next ? `?next=${encodeURIComponent(opts.next)}` : ''}`);
  assert.equal(start.status, 302, await start.text());
  const auth = new URL(start.headers.get('location')!);
  opts.rewriteAuth?.(auth);
  const callback = new URL(await op.authorize(auth.href, login));
  opts.rewriteCallback?.(callback);
  const res = await b.get(callback.href);
  return { res, callback: callback.href, text: await res.text() };
}

async function sessionCount(t: TestHub): Promise<number> {
  const r = await t.hub.db.selectFrom('sessions').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

describe('OIDC login through the hub', () => {
  let op: TestOidcProvider;
  let t: TestHub;
  let hubBase: string;
  const savedKey = process.env['GANYMEDE_CRYPT_KEY'];

  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = 'ab'.repeat(32);
    const hubPort = await freePort('127.0.0.1');
    hubBase = `http://127.0.0.1:${hubPort}`;
    op = await startOidcProvider({
      redirectUris: [`${hubBase}/hub/oauth_callback`],
      postLogoutRedirectUris: [`${hubBase}/hub/login`],
      users: USERS,
      accessTokenTtl: 2,
    });
    t = await startTestHub(
      {
        auth: {
          kind: 'oidc',
          login_rate_limit: { attempts: 0 },
          issuer: op.issuer,
          client_id: op.clientId,
          client_secret: op.clientSecret,
          allow_insecure_http: true,
          login_service: 'Keycloak',
          strip_group_path: true,
          allowed_groups: ['hpc-users'],
          admin_groups: ['hpc-admins'],
          manage_groups: true,
          enable_auth_state: true,
          refresh_pre_spawn: true,
          logout_redirect_url: `${hubBase}/hub/login`,
        },
      },
      { hubPort },
    );
  });
  after(async () => {
    await t?.stop();
    await op?.stop();
    if (savedKey === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
    else process.env['GANYMEDE_CRYPT_KEY'] = savedKey;
  });

  it("shows the provider's button and no password field", async () => {
    const res = await fetch(`${hubBase}/hub/login?next=%2Fhub%2Fhome`);
    const html = await res.text();
    assert.match(html, /Sign in with Keycloak/);
    assert.match(html, /oauth_login\?next=%2Fhub%2Fhome/);
    assert.doesNotMatch(html, /type="password"/);
  });

  it('logs a user in (discovery), keeps the tokens encrypted, syncs groups, goes to next', async () => {
    const b = new Browser(hubBase);
    const { res } = await oidcLogin(b, op, 'alice', { next: '/hub/token' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/hub/token');
    const home = await b.get('/hub/home');
    assert.equal(home.status, 200);
    assert.match(await home.text(), /alice/);
    const row = (await getUser(t.hub.db, 'alice'))!;
    assert.equal(!!row.admin, false);
    assert.ok(row.auth_state && !row.auth_state.includes('eyJ'), 'auth state stored encrypted');
    const state = t.hub.crypt.decrypt(row.auth_state) as Record<string, unknown>;
    assert.equal(typeof state['access_token'], 'string');
    assert.equal(typeof state['refresh_token'], 'string');
    assert.equal(typeof state['id_token'], 'string');
    const groups = await t.api('GET', '/users/alice', { token: await t.tokenFor('admin-reader', { admin: true }) });
    assert.deepEqual((groups.body as { groups: string[] }).groups, ['hpc-users']);
  });

  it('makes a member of admin_groups admin', async () => {
    const b = new Browser(hubBase);
    const { res } = await oidcLogin(b, op, 'bob');
    assert.equal(res.status, 302);
    assert.equal(!!(await getUser(t.hub.db, 'bob'))!.admin, true);
  });

  it('refuses a user outside allowed_groups with a page, storing nothing', async () => {
    const b = new Browser(hubBase);
    const sessions = await sessionCount(t);
    const { res, text } = await oidcLogin(b, op, 'carol');
    assert.equal(res.status, 403);
    assert.match(res.headers.get('content-type') ?? '', /html/);
    assert.match(text, /not in a group allowed/);
    assert.equal(await getUser(t.hub.db, 'carol'), undefined);
    assert.equal(await sessionCount(t), sessions);
    assert.equal(b.cookies.has('jupyterhub-hub-login'), false);
  });

  it('refuses a tampered state, a wrong nonce and a replayed code, with a page, storing nothing', async () => {
    const sessions = await sessionCount(t);
    const tampered = await oidcLogin(new Browser(hubBase), op, 'dave', { rewriteCallback: (u) => u.searchParams.set('state', 'forged') });
    assert.equal(tampered.res.status, 400);
    assert.match(tampered.text, /state/);
    const nonce = await oidcLogin(new Browser(hubBase), op, 'dave', { rewriteAuth: (u) => u.searchParams.set('nonce', 'other-nonce') });
    assert.equal(nonce.res.status, 403);
    assert.match(nonce.text, /nonce/);
    assert.equal(await getUser(t.hub.db, 'dave'), undefined);
    assert.equal(await sessionCount(t), sessions);
    // a code used once: the same callback (with the same login cookie) again is refused by the provider
    const b = new Browser(hubBase);
    const start = await b.get('/hub/oauth_login');
    const loginCookie = b.cookies.get('ganymede-oidc-login')!;
    const callback = await op.authorize(start.headers.get('location')!, 'erin');
    assert.equal((await b.get(callback)).status, 302);
    const afterFirst = await sessionCount(t);
    const replay = new Browser(hubBase);
    replay.cookies.set('ganymede-oidc-login', loginCookie);
    const again = await replay.get(callback);
    assert.equal(again.status, 403);
    assert.match(await again.text(), /invalid_grant/);
    assert.equal(await sessionCount(t), afterFirst);
    assert.equal(replay.cookies.has('jupyterhub-hub-login'), false);
  });

  it("shows the provider's error with its description escaped and clipped", async () => {
    const b = new Browser(hubBase);
    const start = await b.get('/hub/oauth_login');
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const evil = `<script>alert(1)</script>${'x'.repeat(500)}`;
    const res = await b.get(`/hub/oauth_callback?error=access_denied&error_description=${encodeURIComponent(evil)}&state=${state}&iss=${encodeURIComponent(op.issuer)}`);
    assert.equal(res.status, 403);
    const text = await res.text();
    assert.match(text, /access_denied/);
    assert.doesNotMatch(text, /<script>alert/);
    assert.match(text, /&lt;script&gt;/);
    assert.doesNotMatch(text, /x{300}/);
  });

  it('refreshes an expired access token before a spawn and hands the new one to the spawner', async () => {
    const b = new Browser(hubBase);
    assert.equal((await oidcLogin(b, op, 'bob')).res.status, 302);
    const before = t.hub.crypt.decrypt((await getUser(t.hub.db, 'bob'))!.auth_state!) as Record<string, unknown>;
    let seen: Record<string, unknown> | null = null;
    t.hub.hooks.preSpawnStart = ({ authState }) => {
      seen = authState;
    };
    try {
      await new Promise((r) => setTimeout(r, 2100)); // the access token (TTL 2 s) expires
      const token = await t.tokenFor('bob');
      const spawn = await t.api('POST', '/users/bob/server', { token });
      assert.ok([201, 202].includes(spawn.status), spawn.text);
      assert.ok(seen, 'preSpawnStart saw the auth state');
      const s = seen as Record<string, unknown>;
      assert.notEqual(s['access_token'], before['access_token']);
      assert.ok(Number(s['expires_at']) > Math.floor(Date.now() / 1000));
      await t.api('DELETE', '/users/bob/server', { token });
    } finally {
      delete t.hub.hooks.preSpawnStart;
    }
  });

  it('logs out at the hub and at the provider (RP-initiated logout)', async () => {
    const b = new Browser(hubBase);
    assert.equal((await oidcLogin(b, op, 'alice')).res.status, 302);
    const idToken = (t.hub.crypt.decrypt((await getUser(t.hub.db, 'alice'))!.auth_state!) as Record<string, unknown>)['id_token'];
    const out = await b.get('/hub/logout');
    assert.equal(out.status, 302);
    const to = new URL(out.headers.get('location')!);
    assert.equal(`${to.origin}${to.pathname}`, `${op.issuer}/session/end`);
    assert.equal(to.searchParams.get('id_token_hint'), idToken);
    assert.equal(to.searchParams.get('post_logout_redirect_uri'), `${hubBase}/hub/login`);
    assert.equal((await fetch(to)).status, 200); // the provider's sign-out confirmation
    const home = await b.get('/hub/home');
    assert.equal(home.status, 302);
  });

  it('a refused refresh ends the session with a "please log in again" answer', async () => {
    const b = new Browser(hubBase);
    assert.equal((await oidcLogin(b, op, 'alice')).res.status, 302);
    await op.forgetTokens(); // the provider no longer knows the refresh token
    await new Promise((r) => setTimeout(r, 2100));
    // the browser starts the server: the refresh before the spawn fails, the page says to log in again
    const page = await b.get('/hub/spawn/alice');
    assert.equal(page.status, 401);
    assert.match(page.headers.get('content-type') ?? '', /html/);
    assert.match(await page.text(), /please log in again/);
    assert.equal((await b.get('/hub/home')).status, 302, 'the session has ended');
    // the same through the API: a JSON 401
    const b2 = new Browser(hubBase);
    assert.equal((await oidcLogin(b2, op, 'erin')).res.status, 302);
    await op.forgetTokens();
    await new Promise((r) => setTimeout(r, 2100));
    const spawn = await t.api('POST', '/users/erin/server', { token: await t.tokenFor('erin') });
    assert.equal(spawn.status, 401, spawn.text);
    assert.match((spawn.body as { message: string }).message, /log in again/);
  });
});

describe('OIDC login through the hub with explicit endpoints', () => {
  let op: TestOidcProvider;
  let other: TestOidcProvider;
  let hubPort: number;
  let wrongPort: number;

  before(async () => {
    [hubPort, wrongPort] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
    const callbacks = [`http://127.0.0.1:${hubPort}/hub/oauth_callback`, `http://127.0.0.1:${wrongPort}/hub/oauth_callback`];
    op = await startOidcProvider({ redirectUris: callbacks, users: USERS });
    other = await startOidcProvider({ redirectUris: callbacks, users: USERS });
  });
  after(async () => {
    await op?.stop();
    await other?.stop();
  });

  it('logs in as Up2U does with eduTEAMS (authorize/token/userdata URLs, scope openid, username_claim sub)', async () => {
    const t = await startTestHub(
      {
        auth: {
          kind: 'oidc',
          login_rate_limit: { attempts: 0 },
          client_id: op.clientId,
          client_secret: op.clientSecret,
          allow_insecure_http: true,
          issuer: op.issuer,
          authorize_url: `${op.issuer}/auth`,
          token_url: `${op.issuer}/token`,
          userdata_url: `${op.issuer}/me`,
          scope: ['openid'],
          username_claim: 'sub',
          login_service: 'eduTEAMS',
        },
      },
      { hubPort },
    );
    try {
      const b = new Browser(t.hubUrl);
      const { res } = await oidcLogin(b, op, 'alice');
      assert.equal(res.status, 302);
      assert.ok(await getUser(t.hub.db, 'alice-sub'));
      assert.equal((await b.get('/hub/home')).status, 200);
    } finally {
      await t.stop();
    }
  });

  it('refuses an ID token from another issuer than the configured one, storing nothing', async () => {
    // the hub trusts `op`, but its endpoints lead to a second provider
    const t = await startTestHub(
      {
        auth: {
          kind: 'oidc',
          login_rate_limit: { attempts: 0 },
          client_id: other.clientId,
          client_secret: other.clientSecret,
          allow_insecure_http: true,
          issuer: op.issuer,
          jwks_url: `${op.issuer}/jwks`,
          authorize_url: `${other.issuer}/auth`,
          token_url: `${other.issuer}/token`,
        },
      },
      { hubPort: wrongPort },
    );
    try {
      const b = new Browser(t.hubUrl);
      const { res, text } = await oidcLogin(b, other, 'alice');
      assert.equal(res.status, 403);
      assert.match(text, /iss/);
      assert.equal(await getUser(t.hub.db, 'alice'), undefined);
      assert.equal(await sessionCount(t), 0);
    } finally {
      await t.stop();
    }
  });
});
