import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { AuthError, type Authenticator, type AuthResult, type LoginContext } from '../../src/auth/authenticator.js';
import { addressKey, LoginRateLimiter } from '../../src/auth/login-rate-limit.js';

/** Posts the login form as client `ip` (X-Forwarded-For, believed from loopback); returns status, Retry-After and whether a login cookie was set. */
async function tryLogin(t: TestHub, name: string, password: string, ip = '192.0.2.1'): Promise<{ status: number; retryAfter: string | null; text: string; loggedIn: boolean }> {
  return (await loginForm(t, ip))(name, password);
}

/** Fetches the login form as client `ip`; returns a function that posts it. */
async function loginForm(t: TestHub, ip: string) {
  const page = await fetch(`${t.hubUrl}/hub/login`, { headers: { 'X-Forwarded-For': ip } });
  const cookies = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const xsrf = /name="_xsrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  return async (name: string, password: string) => {
    const res = await fetch(`${t.hubUrl}/hub/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookies, 'X-Forwarded-For': ip },
      body: new URLSearchParams({ _xsrf: xsrf, username: name, password }).toString(),
    });
    const loggedIn = res.headers.getSetCookie().some((c) => c.startsWith('jupyterhub-hub-login=') && !c.startsWith('jupyterhub-hub-login=;'));
    return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text(), loggedIn };
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Issue 10 §4: login attempts limited per client address and per user name. */
describe('login rate limit', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub({ auth: { kind: 'shared-password', shared_password: 'test-password', login_rate_limit: { attempts: 3, window_seconds: 1.5 } } });
  });
  after(async () => {
    await t.stop();
  });

  it('N+1 wrong passwords get 429 with Retry-After, even with the right password; the window expires', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await tryLogin(t, 'victim', 'wrong-password', `192.0.2.${10 + i}`);
      assert.equal(r.status, 403, `attempt ${i + 1}`);
    }
    // the user name is blocked, from any address, and the right password does not get through
    const blocked = await tryLogin(t, 'Victim', 'test-password', '192.0.2.99');
    assert.equal(blocked.status, 429);
    assert.equal(blocked.loggedIn, false);
    assert.ok(Number(blocked.retryAfter) >= 1 && Number(blocked.retryAfter) <= 2, `Retry-After ${blocked.retryAfter}`);
    assert.match(blocked.text, /Too many failed logins/);
    // another user is not blocked
    assert.equal((await tryLogin(t, 'someone-else', 'test-password', '192.0.2.99')).loggedIn, true);
    await sleep(1600);
    assert.equal((await tryLogin(t, 'victim', 'test-password', '192.0.2.99')).loggedIn, true);
  });

  it('per client address: one address guessing many names is blocked, another address is not', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await tryLogin(t, `name${i}`, 'wrong-password', '198.51.100.7')).status, 403);
    const blocked = await tryLogin(t, 'fresh-name', 'test-password', '198.51.100.7');
    assert.equal(blocked.status, 429);
    assert.ok(blocked.retryAfter);
    assert.equal((await tryLogin(t, 'fresh-name', 'test-password', '198.51.100.8')).loggedIn, true);
    await sleep(1600);
  });

  it('wrong passwords sent all at once get no more tries than one by one', async () => {
    const forms = await Promise.all(Array.from({ length: 10 }, () => loginForm(t, '198.51.100.20')));
    const results = await Promise.all(forms.map((post) => post('burst', 'wrong-password')));
    assert.equal(results.filter((r) => r.status === 403).length, 3, results.map((r) => r.status).join(','));
    assert.equal(results.filter((r) => r.status === 429).length, 7);
    await sleep(1600);
  });

  it('addresses of one IPv6 /64 count together; another /64 does not', async () => {
    for (let i = 1; i <= 3; i++) assert.equal((await tryLogin(t, `six${i}`, 'wrong-password', `2001:db8:1:2::${i}`)).status, 403);
    assert.equal((await tryLogin(t, 'six9', 'test-password', '2001:db8:1:2:ffff::9')).status, 429);
    assert.equal((await tryLogin(t, 'six9', 'test-password', '2001:db8:1:3::1')).loggedIn, true);
    await sleep(1600);
  });

  it('a success clears the user name\'s count', async () => {
    for (let i = 0; i < 2; i++) await tryLogin(t, 'forgetful', 'wrong-password', `203.0.113.${i}`);
    assert.equal((await tryLogin(t, 'forgetful', 'test-password', '203.0.113.50')).loggedIn, true);
    for (let i = 0; i < 2; i++) assert.equal((await tryLogin(t, 'forgetful', 'wrong-password', `203.0.113.${60 + i}`)).status, 403);
    // 2 failures since the success: still under the limit of 3
    assert.equal((await tryLogin(t, 'forgetful', 'test-password', '203.0.113.70')).loggedIn, true);
  });
});

/** A header login: `X-Test-User: <name>` logs in, `bad` is a refused token (401), no header: null. */
class HeaderAuthenticator implements Authenticator {
  readonly kind = 'test-header';
  readonly loginHeader = 'X-Test-User';
  async authenticateRequest(req: FastifyRequest): Promise<AuthResult | null> {
    const value = req.headers['x-test-user'];
    if (typeof value !== 'string' || !value) return null;
    if (value === 'bad') throw new AuthError(401, 'The token in X-Test-User is not valid.');
    return { name: value };
  }
}

describe('login rate limit on header logins', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub(
      { auth: { kind: 'shared-password', shared_password: 'test-password', login_rate_limit: { attempts: 2, window_seconds: 60 } } },
      { authenticator: new HeaderAuthenticator() },
    );
  });
  after(async () => {
    await t.stop();
  });
  const get = (ip: string, headers: Record<string, string> = {}) =>
    fetch(`${t.hubUrl}/hub/login`, { headers: { 'X-Forwarded-For': ip, ...headers }, redirect: 'manual' });

  it('refused tokens count against the address (429 with Retry-After); requests without one do not; other addresses log in', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await get('192.0.2.40')).status, 401, 'no header: not counted');
    assert.equal((await get('192.0.2.40', { 'X-Test-User': 'bad' })).status, 401);
    assert.equal((await get('192.0.2.40', { 'X-Test-User': 'bad' })).status, 401);
    const blocked = await get('192.0.2.40', { 'X-Test-User': 'carol' });
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
    assert.match(await blocked.text(), /Too many failed logins/);
    assert.equal((await get('192.0.2.41', { 'X-Test-User': 'carol' })).status, 302);
  });
});

/** A redirect login whose callback takes `?user=`: `forged` is refused (400, as a tampered state is), `boom` is a library error. */
class CallbackAuthenticator implements Authenticator {
  readonly kind = 'test-redirect';
  readonly loginService = 'Test IdP';
  async startLogin(ctx: LoginContext): Promise<string> {
    return `${ctx.hubUrl}oauth_callback?user=alice`;
  }
  async finishLogin(ctx: LoginContext) {
    const user = (ctx.req.query as Record<string, string>)['user'] ?? '';
    if (user === 'forged') throw new AuthError(400, 'The login state does not match: start the login again.');
    if (user === 'boom') throw new TypeError('a library error');
    return { result: { name: user } };
  }
}

describe('login rate limit on redirect-login callbacks', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub(
      { auth: { kind: 'shared-password', shared_password: 'test-password', login_rate_limit: { attempts: 2, window_seconds: 60 } } },
      { authenticator: new CallbackAuthenticator() },
    );
  });
  after(async () => {
    await t.stop();
  });
  const callback = (ip: string, user: string) =>
    fetch(`${t.hubUrl}/hub/oauth_callback?user=${user}`, { headers: { 'X-Forwarded-For': ip }, redirect: 'manual' });

  it('refused callbacks (AuthError or a library error) count against the address; other addresses still log in', async () => {
    assert.equal((await callback('192.0.2.50', 'forged')).status, 400);
    assert.equal((await callback('192.0.2.50', 'boom')).status, 400);
    const blocked = await callback('192.0.2.50', 'alice');
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
    assert.equal((await callback('192.0.2.51', 'alice')).status, 302);
  });
});

describe('login rate limiter (unit)', () => {
  it('keeps at most max_tracked keys per table, dropping expired ones first, then the oldest', () => {
    let now = 0;
    const l = new LoginRateLimiter({ attempts: 2, window_seconds: 10, max_tracked: 100 }, () => now);
    for (let i = 0; i < 1000; i++) l.recordFailure(`10.0.${i >> 8}.${i & 255}`, `user${i}`);
    assert.deepEqual(l.size, { ips: 100, names: 100 });
    // a name spray does not evict a blocked address
    l.recordFailure('10.9.9.9', 'a');
    l.recordFailure('10.9.9.9', 'b');
    for (let i = 0; i < 50; i++) l.recordFailure('10.0.0.1', `spray${i}`);
    assert.equal(l.check('10.9.9.9', 'c').ok, false);
    now += 10_000;
    assert.deepEqual(l.check('10.9.9.9', 'c'), { ok: true });
  });

  it('IPv6 addresses count by /64, IPv4-mapped ones as IPv4', () => {
    assert.equal(addressKey('2001:db8:1:2::5'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:0DB8:0001:0002:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
    // the same IPv4 address in every IPv6 spelling counts as it, not with ::1 and every other mapped address
    for (const v of ['::ffff:c000:207', '::FFFF:C000:0207', '0:0:0:0:0:ffff:192.0.2.7', '0000:0000:0000:0000:0000:ffff:c000:0207']) assert.equal(addressKey(v), '192.0.2.7', v);
    assert.equal(addressKey('::ffff:c000:208'), '192.0.2.8');
    assert.equal(addressKey('2001:db8:1:2::1.2.3.4'), '2001:db8:1:2::/64');
  });

  it('a login let through and never recorded stays counted until the window ends', () => {
    let now = 0;
    const l = new LoginRateLimiter({ attempts: 2, window_seconds: 10, max_tracked: 10 }, () => now);
    assert.equal(l.check('10.0.0.1', 'x').ok, true);
    assert.equal(l.check('10.0.0.1', 'x').ok, true);
    assert.equal(l.check('10.0.0.1', 'x').ok, false);
    now += 10_000;
    assert.equal(l.check('10.0.0.1', 'x').ok, true);
  });

  it('attempts 0 turns the limit off', () => {
    const l = new LoginRateLimiter({ attempts: 0, window_seconds: 10, max_tracked: 10 });
    for (let i = 0; i < 20; i++) l.recordFailure('10.0.0.1', 'x');
    assert.deepEqual(l.check('10.0.0.1', 'x'), { ok: true });
    assert.deepEqual(l.size, { ips: 0, names: 0 });
  });

  it('Retry-After counts down to the end of the window', () => {
    let now = 1_000_000;
    const l = new LoginRateLimiter({ attempts: 1, window_seconds: 60, max_tracked: 10 }, () => now);
    l.recordFailure('10.0.0.1', 'x');
    assert.deepEqual(l.check('10.0.0.2', 'X '), { ok: false, retryAfter: 60 });
    now += 59_500;
    assert.deepEqual(l.check('10.0.0.1', 'y'), { ok: false, retryAfter: 1 });
    now += 500;
    assert.deepEqual(l.check('10.0.0.1', 'x'), { ok: true });
  });
});

describe('login rate limit: X-Forwarded-For from a peer that is not a trusted proxy', () => {
  let t: TestHub;
  before(async () => {
    // loopback (the test) is not trusted: its X-Forwarded-For is ignored
    t = await startTestHub({
      trusted_downstream_ips: ['192.0.2.250'],
      auth: { kind: 'shared-password', shared_password: 'test-password', login_rate_limit: { attempts: 3, window_seconds: 30 } },
    });
  });
  after(async () => {
    await t.stop();
  });

  it('a new forged address per attempt neither dodges nor resets the per-address count', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await tryLogin(t, `spray${i}`, 'wrong-password', `203.0.113.${i}, 10.0.0.${i}`)).status, 403);
    for (const forged of ['203.0.113.200', '::ffff:203.0.113.201', '127.0.0.1', 'unknown']) {
      const r = await tryLogin(t, 'other-name', 'test-password', forged);
      assert.equal(r.status, 429, forged);
      assert.equal(r.loggedIn, false);
    }
  });
});
