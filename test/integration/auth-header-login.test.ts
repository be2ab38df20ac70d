import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import { AuthError, type Authenticator, type AuthResult } from '../../src/auth/authenticator.js';
import { getUser } from '../../src/db/repos/users.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

/**
 * A header login (as the JWT-from-a-tunnel login does): `X-Test-User: <name>`
 * says who the request is; no header: null; `X-Test-User: expired`: a 401
 * AuthError; `X-Test-User: outsider`: a 403 AuthError.
 */
class HeaderAuthenticator implements Authenticator {
  readonly kind = 'test-header';
  readonly loginHeader = 'X-Test-User';
  async authenticateRequest(req: FastifyRequest): Promise<AuthResult | null> {
    const value = req.headers['x-test-user'];
    if (typeof value !== 'string' || !value) return null;
    if (value === 'expired') throw new AuthError(401, 'The token in X-Test-User has expired.');
    if (value === 'crash') throw new SyntaxError('Unexpected token in JSON');
    if (value === 'outsider') throw new AuthError(403, 'You have no project on this platform.');
    return { name: value };
  }
}

async function get(t: TestHub, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${t.hubUrl}${path}`, { headers, redirect: 'manual' });
}

function loginCookie(r: Response): string | undefined {
  return r.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('jupyterhub-hub-login='));
}

describe('header login (authenticateRequest) through the hub', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub({}, { authenticator: new HeaderAuthenticator() });
  });
  after(async () => t.stop());

  it('a valid header logs the user in and goes to next', async () => {
    const r = await get(t, '/hub/login?next=%2Fhub%2Ftoken', { 'X-Test-User': 'carol' });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), '/hub/token');
    const cookie = loginCookie(r);
    assert.ok(cookie, 'a login cookie is set');
    assert.ok(await getUser(t.hub.db, 'carol'));
    assert.equal((await get(t, '/hub/home', { Cookie: cookie })).status, 200);
  });

  it('a missing header is a 401 page naming it, nothing stored', async () => {
    const before = await t.hub.db.selectFrom('users').select('id').execute();
    const r = await get(t, '/hub/login');
    assert.equal(r.status, 401);
    assert.match(await r.text(), /X-Test-User/);
    assert.equal(loginCookie(r), undefined);
    assert.equal((await t.hub.db.selectFrom('users').select('id').execute()).length, before.length);
  });

  for (const [value, status, message] of [
    ['expired', 401, /has expired/],
    ['outsider', 403, /no project on this platform/],
    ['crash', 401, /could not be checked/],
  ] as const) {
    it(`bad credentials (${value}) are a ${status} page with the backend's message, nothing stored`, async () => {
      const r = await get(t, '/hub/login', { 'X-Test-User': value });
      assert.equal(r.status, status);
      assert.match(await r.text(), message);
      assert.equal(loginCookie(r), undefined);
      assert.equal(await getUser(t.hub.db, value), undefined);
    });
  }

  it('a page that needs login sends a request without a session to the login, which logs it in from the header', async () => {
    const first = await get(t, '/hub/token', { 'X-Test-User': 'dave' });
    assert.equal(first.status, 302);
    const login = first.headers.get('location')!;
    assert.match(login, /^\/hub\/login\?next=%2Fhub%2Ftoken$/);
    const r = await get(t, login, { 'X-Test-User': 'dave' });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), '/hub/token');
    assert.equal((await get(t, '/hub/token', { Cookie: loginCookie(r)! })).status, 200);
  });

  it('the header wins over an existing session: another person behind the tunnel gets their own session', async () => {
    const first = loginCookie(await get(t, '/hub/login', { 'X-Test-User': 'erin' }))!;
    const same = await get(t, '/hub/login', { 'X-Test-User': 'erin', Cookie: first });
    assert.equal(same.status, 302);
    assert.equal(loginCookie(same), undefined, 'the same person keeps the session');
    const other = await get(t, '/hub/login?next=%2Fhub%2Fhome', { 'X-Test-User': 'frank', Cookie: first });
    assert.equal(other.status, 302);
    const second = loginCookie(other)!;
    assert.ok(second && second !== first, 'a new session for the other person');
    assert.equal((await get(t, '/hub/home', { Cookie: first })).status, 302, "the first person's session is ended");
    assert.equal((await get(t, '/hub/login', { Cookie: second })).status, 401, 'a session without the header is not a login');
  });

  it('the login form is not offered (POST /hub/login is 404)', async () => {
    const r = await fetch(`${t.hubUrl}/hub/login`, { method: 'POST', body: 'username=a&password=b', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
    assert.equal(r.status, 404);
  });
});
