/**
 * Several requests of one user arriving together when the login is due for a
 * refresh (`auth_refresh_age`, `refresh_pre_spawn`): the hub refreshes once
 * and every request uses that outcome. Identity providers that rotate refresh
 * tokens (Keycloak's "revoke refresh token", oidc-provider) refuse a refresh
 * token used twice, so two refreshes at once would log the user out.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import type { Authenticator, AuthResult } from '../../src/auth/authenticator.js';
import { getUser } from '../../src/db/repos/users.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { refreshAuth } from '../../src/auth/refresh.js';

/** A header login whose refresh token is single-use: a second use of a spent token is refused (null). */
class RotatingAuthenticator implements Authenticator {
  readonly kind = 'test-rotating';
  readonly loginHeader = 'X-Test-User';
  private serial = 0;
  private readonly valid = new Set<string>();
  refreshes = 0;
  async authenticateRequest(req: FastifyRequest): Promise<AuthResult | null> {
    const name = req.headers['x-test-user'];
    if (typeof name !== 'string') return null;
    const token = `rt-${++this.serial}`;
    this.valid.add(token);
    return { name, authState: { refresh_token: token } };
  }
  async refreshUser(user: { name: string; authState: Record<string, unknown> | null }): Promise<AuthResult | 'unchanged' | null> {
    this.refreshes += 1;
    const token = String(user.authState?.['refresh_token']);
    await new Promise((r) => setTimeout(r, 150)); // the provider takes a moment
    if (!this.valid.delete(token)) return null; // spent: the provider revokes it
    const next = `rt-${++this.serial}`;
    this.valid.add(next);
    return { name: user.name, authState: { refresh_token: next } };
  }
}

describe('concurrent requests due for a refresh', () => {
  let t: TestHub;
  const auth = new RotatingAuthenticator();
  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = 'ef'.repeat(32);
    t = await startTestHub({ auth: { kind: 'shared-password', auth_refresh_age: 60, login_rate_limit: { attempts: 0 } } }, { authenticator: auth });
  });
  after(async () => {
    await t?.stop();
    delete process.env['GANYMEDE_CRYPT_KEY'];
  });

  it('refresh once: every request succeeds and the user stays logged in', async () => {
    const r = await fetch(`${t.hubUrl}/hub/login`, { headers: { 'X-Test-User': 'rita' }, redirect: 'manual' });
    assert.equal(r.status, 302);
    const cookie = r.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('jupyterhub-hub-login='))!;
    await t.hub.db.updateTable('users').set({ last_refresh: '2000-01-01T00:00:00.000Z' }).where('name', '=', 'rita').execute();
    t.hub.identities.clear();
    const answers = await Promise.all(
      Array.from({ length: 4 }, (_, i) => fetch(`${t.hubUrl}${i % 2 ? '/hub/api/user' : '/hub/home'}`, { headers: { Cookie: cookie }, redirect: 'manual' })),
    );
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200]);
    assert.equal(auth.refreshes, 1);
    const user = await getUser(t.hub.db, 'rita');
    assert.ok(user?.last_refresh && user.last_refresh > '2020');
    assert.equal((await fetch(`${t.hubUrl}/hub/api/user`, { headers: { Cookie: cookie } })).status, 200);
  });

  it('a request holding the user as read before a refresh that has just ended does not refresh again with the spent token', async () => {
    const r = await fetch(`${t.hubUrl}/hub/login`, { headers: { 'X-Test-User': 'sam' }, redirect: 'manual' });
    assert.equal(r.status, 302);
    await t.hub.db.updateTable('users').set({ last_refresh: '2000-01-01T00:00:00.000Z' }).where('name', '=', 'sam').execute();
    const stale = (await getUser(t.hub.db, 'sam'))!;
    const before = auth.refreshes;
    assert.ok(await refreshAuth(t.hub, stale, { force: false, log: t.hub.log }));
    const again = await refreshAuth(t.hub, stale, { force: false, log: t.hub.log });
    assert.ok(again, 'the second caller gets the refreshed user, not a logout');
    assert.equal(auth.refreshes - before, 1);
    assert.equal((await t.hub.db.selectFrom('sessions').select('id').where('user_id', '=', stale.id).execute()).length, 1);
  });
});
