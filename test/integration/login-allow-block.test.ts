import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyLoginPolicy } from '../../src/auth/policy.js';
import { getUser } from '../../src/db/repos/users.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser } from '../helpers/browser.js';

/**
 * `allowed_users` and `blocked_users` at login, as JupyterHub applies them:
 * with an allow list only its users (and admins) get in, a blocked user never
 * does (even when also allowed), names are compared after normalisation, and
 * a refused login creates no user and sets no login cookie.
 */
describe('allowed_users and blocked_users at login', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub({ allowed_users: ['ann', 'Bob', 'eve'], blocked_users: ['eve', 'mallory'] });
  });
  after(async () => t.stop());

  it('lets an allowed user in', async () => {
    const b = new Browser(t.hubUrl);
    const r = await b.login('ann', 'test-password');
    assert.equal(r.status, 302);
    assert.ok(b.cookies.has('jupyterhub-hub-login'));
  });

  it('compares names after normalisation (Bob in the list, bob and BOB at the form)', async () => {
    for (const name of ['bob', 'BOB']) {
      const b = new Browser(t.hubUrl);
      assert.equal((await b.login(name, 'test-password')).status, 302, name);
    }
    assert.ok(await getUser(t.hub.db, 'bob'));
  });

  for (const [who, why] of [
    ['carl', 'not in allowed_users'],
    ['eve', 'blocked although allowed'],
    ['mallory', 'blocked'],
    ['EVE', 'blocked, in another case'],
  ] as const) {
    it(`refuses ${who} (${why}) with a page naming the refusal, no cookie and no user`, async () => {
      const b = new Browser(t.hubUrl);
      const r = await b.login(who, 'test-password');
      assert.equal(r.status, 403);
      assert.match(await r.text(), /not allowed to use this hub/);
      assert.ok(!b.cookies.has('jupyterhub-hub-login'), 'a refused login got a login cookie');
      assert.equal(await getUser(t.hub.db, who.toLowerCase()), undefined, 'a refused login created a user');
      assert.equal((await b.get('/hub/home')).status, 302);
    });
  }

  it('the policy: blocked wins over allowed and admin; admins need no allow-list entry', () => {
    const config = { allowed_users: ['ann'], blocked_users: ['boss2'], admin_users: ['boss', 'boss2'] };
    assert.deepEqual(applyLoginPolicy({ name: 'boss' }, config), { ok: true, name: 'boss', admin: true });
    assert.equal(applyLoginPolicy({ name: 'boss2' }, config).ok, false);
    assert.equal(applyLoginPolicy({ name: 'zed' }, config).ok, false);
    assert.equal(applyLoginPolicy({ name: 'zed' }, { ...config, allowed_users: [] }).ok, true);
  });
});
