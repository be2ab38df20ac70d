/**
 * The OIDC login against an identity provider whose answers are hostile:
 * a plain HTTP server playing the token and userinfo endpoints (explicit
 * endpoints, no ID token) answers what each test sets. Every bad answer is
 * a page naming the problem (never a 500), and nothing is stored.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser } from '../helpers/browser.js';
import { freePort } from '../../src/lib/free-port.js';

interface Answer {
  status?: number;
  type?: string;
  body: string;
  delayMs?: number;
}

const json = (v: unknown): Answer => ({ body: JSON.stringify(v) });

describe('OIDC login against a hostile identity provider', () => {
  let server: Server;
  let base: string;
  let t: TestHub;
  let token: Answer;
  let userinfo: Answer;

  before(async () => {
    const port = await freePort('127.0.0.1');
    base = `http://127.0.0.1:${port}`;
    server = createServer((req, res) => {
      const a = req.url?.startsWith('/token') ? token : req.url?.startsWith('/userinfo') ? userinfo : { status: 404, body: 'no' };
      req.resume();
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(a.status ?? 200, { 'content-type': a.type ?? 'application/json' }).end(a.body);
      }, a.delayMs ?? 0);
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    t = await startTestHub({
      auth: {
        kind: 'oidc',
        login_rate_limit: { attempts: 0 },
        client_id: 'hub',
        client_secret: 'hub-secret',
        allow_insecure_http: true,
        authorize_url: `${base}/authorize`,
        token_url: `${base}/token`,
        userdata_url: `${base}/userinfo`,
        scope: ['profile'],
        username_claim: 'preferred_username',
        manage_groups: true,
        admin_groups: ['admins'],
        http_timeout: 1,
      },
      admin_users: ['kate'],
    });
  });
  after(async () => {
    await t?.stop();
    server?.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  async function login(): Promise<{ status: number; text: string; b: Browser }> {
    const b = new Browser(t.hubUrl);
    const start = await b.get('/hub/oauth_login');
    assert.equal(start.status, 302, await start.text());
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const res = await b.get(`/hub/oauth_callback?code=c0de&state=${encodeURIComponent(state)}`);
    return { status: res.status, text: await res.text(), b };
  }

  async function userCount(): Promise<number> {
    const r = await t.hub.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  const tokenOk = json({ access_token: 'at', token_type: 'Bearer', expires_in: 300 });

  const badNames: Array<[string, unknown]> = [
    ['missing', undefined],
    ['empty', ''],
    ['a number', 42],
    ['an array', ['alice']],
    ['an object', { name: 'alice' }],
    ['10 kB long', 'a'.repeat(10_000)],
    ['..', '..'],
    ['with /', 'a/b'],
    ['null', null],
    ['true', true],
  ];
  for (const [what, name] of badNames) {
    it(`a user name claim that is ${what} is a page, nothing stored`, async () => {
      token = tokenOk;
      userinfo = json(name === undefined ? { sub: 's' } : { sub: 's', preferred_username: name });
      const before = await userCount();
      const r = await login();
      assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text.slice(0, 300)}`);
      assert.match(r.text, /<html/i);
      assert.equal(await userCount(), before);
    });
  }

  const badAnswers: Array<[string, () => void]> = [
    ['the token endpoint answers 500', () => { token = { status: 500, body: 'boom', type: 'text/plain' }; }],
    ['the token endpoint answers HTML', () => { token = { body: '<html>hi</html>', type: 'text/html' }; }],
    ['the token endpoint answers invalid JSON', () => { token = { body: '{"access_token":' }; }],
    ['the token endpoint answers a JSON list', () => { token = { body: '[1,2]' }; }],
    ['the token endpoint answers no access token', () => { token = json({ token_type: 'Bearer' }); }],
    ['the token endpoint is slower than http_timeout', () => { token = { ...tokenOk, delayMs: 3000 }; }],
    ['userinfo answers 500', () => { token = tokenOk; userinfo = { status: 500, body: 'x' }; }],
    ['userinfo answers HTML', () => { token = tokenOk; userinfo = { body: '<html/>', type: 'text/html' }; }],
    ['userinfo answers a list', () => { token = tokenOk; userinfo = { body: '[]' }; }],
    ['userinfo answers null', () => { token = tokenOk; userinfo = { body: 'null' }; }],
    ['userinfo is slower than http_timeout', () => { token = tokenOk; userinfo = { ...json({ preferred_username: 'slow' }), delayMs: 3000 }; }],
  ];
  for (const [what, set] of badAnswers) {
    it(`${what}: a page, not a 500, nothing stored`, async () => {
      set();
      const before = await userCount();
      const started = Date.now();
      const r = await login();
      assert.ok(r.status >= 400 && r.status < 500 || r.status === 502 || r.status === 503, `${r.status} ${r.text.slice(0, 300)}`);
      assert.match(r.text, /<html/i);
      assert.ok(Date.now() - started < 2900, 'bounded by http_timeout');
      assert.equal(await userCount(), before);
    });
  }

  // Lower-casing maps the Kelvin sign to "k" and the Angstrom sign to "å": another person's name at
  // the provider must not become an existing hub user (here the admin "kate"); compatibility forms
  // (fullwidth, mathematical letters, ligatures) that look like another name are refused alike.
  for (const lookalike of ['\u212Aate', '\u212Bsa', '\uFF4Bate', '\u{1D424}ate', 'ka\uFB01', 'kate\u200B', '\u00ADkate', 'ka\u2060te', '\uFEFFkate', 'k\u200Date', 'k\u0430te', '\u03BAate']) {
    it(`a look-alike user name (${JSON.stringify(lookalike)}) is refused with a page, nothing stored`, async () => {
      token = tokenOk;
      userinfo = json({ sub: 's', preferred_username: lookalike });
      const before = await userCount();
      const r = await login();
      assert.equal(r.status, 400, r.text.slice(0, 300));
      assert.match(r.text, /compatibility|invisible|mixes/);
      assert.equal(await userCount(), before);
      const sessions = await t.hub.db.selectFrom('sessions').selectAll().execute();
      assert.deepEqual(sessions, []);
    });
  }

  it('groups as a string, with non-strings, thousands, and path-like names', async () => {
    token = tokenOk;
    const many = Array.from({ length: 5000 }, (_, i) => `g${i}`);
    userinfo = json({ sub: 'g', preferred_username: 'gina', groups: [...many, 1, null, { a: 1 }, ['admins'], '..', '/x/y', 'admins/..'] });
    const r = await login();
    assert.equal(r.status, 302, r.text.replace(/[\s\S]*<body>/, "").slice(0, 600));
    const u = await t.hub.db.selectFrom('users').selectAll().where('name', '=', 'gina').executeTakeFirstOrThrow();
    assert.equal(u.admin, 0);
    const bad = await t.hub.db.selectFrom('groups').select('name').where('name', 'in', ['..', '/x/y', 'admins/..', '1', 'admins']).execute();
    assert.deepEqual(bad, []);
    // a single string is one group: admin through admin_groups, and taken away at the next login without it
    userinfo = json({ sub: 'g', preferred_username: 'gina', groups: 'admins' });
    assert.equal((await login()).status, 302);
    assert.equal((await t.hub.db.selectFrom('users').select('admin').where('name', '=', 'gina').executeTakeFirstOrThrow()).admin, 1);
    userinfo = json({ sub: 'g', preferred_username: 'gina', groups: [] });
    assert.equal((await login()).status, 302);
    assert.equal((await t.hub.db.selectFrom('users').select('admin').where('name', '=', 'gina').executeTakeFirstOrThrow()).admin, 0);
  });

  it('the callback: with an iss parameter naming another issuer (RFC 9207), twice, without the login cookie, without state: pages, nothing stored', async () => {
    token = tokenOk;
    userinfo = json({ sub: 'h', preferred_username: 'hugo' });
    const before = await userCount();
    const b = new Browser(t.hubUrl);
    const start = await b.get('/hub/oauth_login');
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const forged = await b.get(`/hub/oauth_callback?code=c0de&state=${encodeURIComponent(state)}&iss=${encodeURIComponent('https://evil.example.org')}`);
    const text = await forged.text();
    assert.ok(forged.status >= 400 && forged.status < 500, `${forged.status} ${text.slice(0, 200)}`);
    assert.match(text, /iss/);
    // the attempt is used up: the same callback again, or with no cookie, or no state, is refused
    const again = await b.get(`/hub/oauth_callback?code=c0de&state=${encodeURIComponent(state)}`);
    assert.equal(again.status, 400);
    const bare = await new Browser(t.hubUrl).get(`/hub/oauth_callback?code=c0de&state=${encodeURIComponent(state)}`);
    assert.equal(bare.status, 400);
    const b2 = new Browser(t.hubUrl);
    await b2.get('/hub/oauth_login');
    assert.equal((await b2.get('/hub/oauth_callback?code=c0de')).status, 400);
    assert.equal(await userCount(), before);
    // the right flow still works afterwards
    assert.equal((await login()).status, 302);
  });

  it("the token endpoint's OAuth error with a hostile, long error_description: shown escaped and clipped", async () => {
    token = { status: 400, body: JSON.stringify({ error: 'invalid_grant<b>', error_description: `<script>alert(1)</script>\u2028${'x'.repeat(10_000)}` }) };
    const r = await login();
    assert.equal(r.status, 403);
    assert.ok(!r.text.includes('<script>alert'), 'escaped');
    assert.ok(!r.text.includes('invalid_grant<b>'), 'escaped');
    assert.match(r.text, /invalid_grant&lt;b&gt;/);
    assert.ok(r.text.length < 8000, `page of ${r.text.length} characters`);
  });
});

describe('OIDC refresh against a hostile identity provider', () => {
  let server: Server;
  let t: TestHub;
  let token: Answer;
  let userinfo: Answer;
  const savedKey = process.env['GANYMEDE_CRYPT_KEY'];

  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = '9a'.repeat(32);
    const port = await freePort('127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    server = createServer((req, res) => {
      const a = req.url?.startsWith('/token') ? token : req.url?.startsWith('/userinfo') ? userinfo : { status: 404, body: 'no' };
      req.resume();
      res.writeHead(a.status ?? 200, { 'content-type': a.type ?? 'application/json' }).end(a.body);
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    t = await startTestHub({
      auth: {
        kind: 'oidc',
        login_rate_limit: { attempts: 0 },
        client_id: 'hub',
        client_secret: 'hub-secret',
        allow_insecure_http: true,
        authorize_url: `${base}/authorize`,
        token_url: `${base}/token`,
        userdata_url: `${base}/userinfo`,
        scope: ['profile'],
        admin_groups: ['admins'],
        enable_auth_state: true,
        auth_refresh_age: 1,
        http_timeout: 1,
      },
    });
  });
  after(async () => {
    await t?.stop();
    server?.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    if (savedKey === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
    else process.env['GANYMEDE_CRYPT_KEY'] = savedKey;
  });

  // access tokens that are already within the hub's expiry margin: every stale request refreshes
  const tokens = (n: number) => json({ access_token: `at${n}`, refresh_token: `rt${n}`, token_type: 'Bearer', expires_in: 2 });

  async function loggedIn(): Promise<Browser> {
    token = tokens(1);
    userinfo = json({ sub: 'ivy-sub', preferred_username: 'ivy', groups: ['admins'] });
    const b = new Browser(t.hubUrl);
    const start = await b.get('/hub/oauth_login');
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    assert.equal((await b.get(`/hub/oauth_callback?code=c&state=${encodeURIComponent(state)}`)).status, 302);
    return b;
  }
  const stale = async () => {
    await t.hub.db.updateTable('users').set({ last_refresh: '2000-01-01T00:00:00.000Z' }).where('name', '=', 'ivy').execute();
    t.hub.identities.clear();
  };
  const admin = async () => (await t.hub.db.selectFrom('users').select('admin').where('name', '=', 'ivy').executeTakeFirstOrThrow()).admin;

  it('admin from admin_groups is taken away at the refresh that no longer lists the group', async () => {
    const b = await loggedIn();
    assert.equal(await admin(), 1);
    await stale();
    token = tokens(2);
    userinfo = json({ sub: 'ivy-sub', preferred_username: 'ivy', groups: [] });
    assert.equal((await b.get('/hub/home')).status, 200);
    assert.equal(await admin(), 0);
  });

  const failures: Array<[string, () => void]> = [
    ['the provider names another user', () => { token = tokens(3); userinfo = json({ sub: 'ivy-sub', preferred_username: 'mallory' }); }],
    ['the provider names a look-alike', () => { token = tokens(3); userinfo = json({ sub: 'ivy-sub', preferred_username: '\u0131vy' }); }],
    ['the user name claim is gone', () => { token = tokens(3); userinfo = json({ sub: 'ivy-sub' }); }],
    ['the refresh token is revoked', () => { token = { status: 400, body: JSON.stringify({ error: 'invalid_grant' }) }; }],
    ['the token endpoint answers 500 HTML', () => { token = { status: 500, body: '<html>down</html>', type: 'text/html' }; }],
    ['userinfo answers garbage', () => { token = tokens(3); userinfo = { body: 'not json', type: 'application/json' }; }],
  ];
  for (const [what, set] of failures) {
    it(`${what} at a refresh: "please log in again" (401), the session ends, nothing else stored`, async () => {
      const b = await loggedIn();
      await stale();
      set();
      const before = await t.hub.db.selectFrom('users').select('name').orderBy('name').execute();
      const r = await b.get('/hub/home');
      assert.equal(r.status, 401, (await r.text()).slice(0, 200));
      const api = await b.get('/hub/api/user');
      assert.ok(api.status === 401 || api.status === 403, `${api.status}`);
      assert.deepEqual(await t.hub.db.selectFrom('users').select('name').orderBy('name').execute(), before);
    });
  }
});

describe('OIDC discovery against a slow identity provider', () => {
  it('logins arriving together while discovery hangs share one discovery request, each bounded by http_timeout', async () => {
    let discoveries = 0;
    const hanging = new Set<import('node:http').ServerResponse>();
    const server = createServer((req, res) => {
      req.resume();
      if (req.url?.includes('/.well-known/')) discoveries += 1;
      hanging.add(res);
    });
    const port = await freePort('127.0.0.1');
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    const t = await startTestHub({
      auth: { kind: 'oidc', login_rate_limit: { attempts: 0 }, client_id: 'hub', client_secret: 'hub-secret', allow_insecure_http: true, issuer: `http://127.0.0.1:${port}/realms/x`, http_timeout: 1 },
    });
    try {
      await new Promise((r) => setTimeout(r, 1200)); // the start-up attempt has timed out
      discoveries = 0;
      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: 6 }, () => new Browser(t.hubUrl).get('/hub/oauth_login')));
      for (const a of answers) {
        assert.ok(a.status === 502 || a.status === 503, `${a.status}`);
        assert.match(await a.text(), /identity provider|login service/);
      }
      assert.ok(Date.now() - started < 2500, 'bounded by http_timeout');
      assert.equal(discoveries, 1);
    } finally {
      await t.stop();
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

