import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Writable } from 'node:stream';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { builtinRoles } from '../../src/rbac/roles.js';

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

/** Section 2: knowing the shared password must not make anyone admin. */
describe('shared password and admins', () => {
  const hubs: TestHub[] = [];
  after(async () => {
    for (const t of hubs) await t.stop();
  });

  it('without admin_password, admin_users cannot log in with the shared password (clear message, start-up warning)', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const { SharedPasswordAuthenticator } = await import('../../src/auth/shared-password.js');
    const t = await startTestHub({ admin_users: ['boss'] });
    hubs.push(t);
    const auth = new SharedPasswordAuthenticator({ db: t.hub.db, log: pino(sink), password: 'test-password', adminPassword: undefined, adminUsers: ['boss'] });
    await auth.init();
    assert.ok(lines.some((l) => /admin_users cannot log in/.test(l) && /admin_password/.test(l)), lines.join(''));
    for (const name of ['boss', 'Boss', ' boss ']) {
      const r = await tryLogin(t, name, 'test-password');
      assert.equal(r.status, 403, name);
      assert.equal(r.loggedIn, false, name);
      assert.match(r.text, /admins cannot log in with the shared password/);
    }
    // the wrong password says nothing about who is admin
    const wrong = await tryLogin(t, 'boss', 'not-the-password');
    assert.equal(wrong.loggedIn, false);
    assert.doesNotMatch(wrong.text, /admin/i);
    // nobody became admin
    const row = await t.hub.db.selectFrom('users').select('admin').where('name', '=', 'boss').executeTakeFirst();
    assert.ok(!row || row.admin === 0);
    // plain users still log in
    assert.equal((await tryLogin(t, 'plain', 'test-password')).loggedIn, true);
  });

  it('with admin_password, admins log in only with it; others cannot use it', async () => {
    const t = await startTestHub({ admin_users: ['boss'], auth: { kind: 'shared-password', shared_password: 'test-password', admin_password: 'admin-password' } });
    hubs.push(t);
    const shared = await tryLogin(t, 'boss', 'test-password');
    assert.equal(shared.loggedIn, false);
    assert.match(shared.text, /admin password/);
    const ok = await tryLogin(t, 'boss', 'admin-password');
    assert.equal(ok.loggedIn, true);
    const row = await t.hub.db.selectFrom('users').select('admin').where('name', '=', 'boss').executeTakeFirstOrThrow();
    assert.equal(row.admin, 1);
    assert.equal((await tryLogin(t, 'plain', 'admin-password')).loggedIn, false);
  });

  it('users made admin by the API or by the admin role are protected the same way', async () => {
    const t = await startTestHub({ roles: [{ name: 'admin', groups: ['wheel'] }] });
    hubs.push(t);
    const admin = await t.tokenFor('root', { admin: true });
    await t.tokenFor('viaapi');
    await t.tokenFor('viagroup');
    assert.equal((await t.api('PATCH', '/users/viaapi', { token: admin, body: { admin: true } })).status, 200);
    assert.equal((await t.api('POST', '/groups/wheel/users', { token: admin, body: { users: ['viagroup'] } })).status, 200);
    for (const name of ['root', 'viaapi', 'viagroup']) {
      const r = await tryLogin(t, name, 'test-password');
      assert.equal(r.loggedIn, false, name);
      assert.equal(r.status, 403, name);
    }
  });

  it("users whose roles give every admin scope, under another role's name, are admins here too", async () => {
    const t = await startTestHub({
      roles: [
        { name: 'superuser', scopes: [...builtinRoles.admin.scopes], users: ['ops'] },
        { name: 'super-group', scopes: [...builtinRoles.admin.scopes], groups: ['ops-team'] },
        { name: 'helper', scopes: ['read:users'], users: ['helper'] },
      ],
    });
    hubs.push(t);
    const admin = await t.tokenFor('root', { admin: true });
    await t.tokenFor('teammate');
    assert.equal((await t.api('POST', '/groups/ops-team/users', { token: admin, body: { users: ['teammate'] } })).status, 200);
    for (const name of ['ops', 'teammate']) {
      const r = await tryLogin(t, name, 'test-password');
      assert.equal(r.loggedIn, false, name);
      assert.equal(r.status, 403, name);
      assert.match(r.text, /admin/, name);
    }
    // a role short of admin keeps the shared password
    assert.equal((await tryLogin(t, 'helper', 'test-password')).loggedIn, true);
  });
});
