import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { loadServices } from '../../src/hub/services-loader.js';
import { loadRoles } from '../../src/hub/roles-loader.js';
import { validateConfig } from '../../src/config/load.js';
import { createServiceToken } from '../../src/db/repos/services.js';

const CULLER_TOKEN = 'culler-token-0123456789abcdef';
const LEGACY_TOKEN = 'legacy-token-0123456789abcdef';
const BARE_TOKEN = 'bare-service-token-0123456789';
const CULLER_SCOPES = ['list:users', 'read:users:activity', 'read:servers', 'delete:servers', 'admin:servers', 'users:activity'];
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const quiet = pino({ level: 'silent' });

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

/** Section 2: services (the culler) have their own tokens and roles and are never users. */
describe('services', () => {
  let t: TestHub;
  let admin: string;
  const services = [
    { name: 'culler', api_token: CULLER_TOKEN },
    { name: 'legacy', api_token: LEGACY_TOKEN, admin: true, url: 'http://127.0.0.1:10101' },
    { name: 'bare', api_token: BARE_TOKEN },
  ];
  const roles = [{ name: 'idle-culler', scopes: CULLER_SCOPES, services: ['culler'] }];

  before(async () => {
    t = await startTestHub({ services, roles });
    admin = await t.tokenFor('root', { admin: true });
    await t.tokenFor('bob');
    assert.equal((await t.api('POST', '/users/bob/server', { token: admin })).status, 201);
  });
  after(async () => t.stop());

  it('a service token identifies as a service (GET /user kind service)', async () => {
    const r = await t.api('GET', '/user', { token: CULLER_TOKEN });
    assert.equal(r.status, 200);
    const me = r.body as { kind: string; name: string; roles: string[]; admin: boolean; scopes: string[] };
    assert.equal(me.kind, 'service');
    assert.equal(me.name, 'culler');
    assert.deepEqual(me.roles, ['idle-culler']);
    assert.equal(me.admin, false);
    assert.ok(me.scopes.includes('list:users'));
    assert.ok(!me.scopes.includes('admin:users'));
  });

  it('does what its role allows: the culler lists users and stops idle servers', async () => {
    const users = await t.api('GET', '/users?state=ready', { token: CULLER_TOKEN });
    assert.equal(users.status, 200);
    assert.ok((users.body as { name: string; last_activity?: string }[]).some((u) => u.name === 'bob'));
    assert.equal((await t.api('DELETE', '/users/bob/server', { token: CULLER_TOKEN })).status, 204);
  });

  it('and nothing else', async () => {
    assert.equal((await t.api('PATCH', '/users/bob', { token: CULLER_TOKEN, body: { admin: true } })).status, 403);
    assert.equal((await t.api('POST', '/users/mallory', { token: CULLER_TOKEN })).status, 403);
    assert.equal((await t.api('POST', '/users/bob/tokens', { token: CULLER_TOKEN, body: {} })).status, 403);
    assert.equal((await t.api('GET', '/groups', { token: CULLER_TOKEN })).status, 403);
    // a service with no role only identifies itself
    const bare = await t.api('GET', '/user', { token: BARE_TOKEN });
    assert.equal(bare.status, 200);
    assert.equal((bare.body as { kind: string }).kind, 'service');
    assert.equal((await t.api('GET', '/users', { token: BARE_TOKEN })).status, 403);
  });

  it('the deprecated admin flag maps to the admin role', async () => {
    const me = (await t.api('GET', '/user', { token: LEGACY_TOKEN })).body as { admin: boolean; roles: string[]; url: string };
    assert.equal(me.admin, true);
    assert.deepEqual(me.roles, ['admin']);
    assert.equal(me.url, 'http://127.0.0.1:10101');
    assert.equal((await t.api('GET', '/users', { token: LEGACY_TOKEN })).status, 200);
  });

  it('no service is a user, and nobody logs in as one', async () => {
    for (const name of ['culler', 'legacy', 'bare']) {
      assert.equal((await t.api('GET', `/users/${name}`, { token: admin })).status, 404, name);
      const r = await tryLogin(t, name, 'test-password');
      assert.equal(r.loggedIn, false, name);
      assert.equal(r.status, 403, name);
      assert.equal((await t.api('GET', `/users/${name}`, { token: admin })).status, 404, `${name} after login attempt`);
    }
    // a service token does not open hub pages
    const home = await fetch(`${t.hubUrl}/hub/home`, { headers: { Authorization: `token ${CULLER_TOKEN}` }, redirect: 'manual' });
    assert.equal(home.status, 302);
    assert.match(home.headers.get('location') ?? '', /login/);
  });

  it('GET /services and /services/{name} follow the spec and the scopes', async () => {
    const list = await t.api('GET', '/services', { token: admin });
    assert.equal(list.status, 200);
    assert.deepEqual((list.body as { name: string }[]).map((s) => s.name), ['bare', 'culler', 'legacy']);
    const one = await t.api('GET', '/services/culler', { token: admin });
    assert.equal(one.status, 200);
    assert.deepEqual((one.body as { roles: string[] }).roles, ['idle-culler']);
    assert.equal((await t.api('GET', '/services/nope', { token: admin })).status, 404);
    const bob = await t.tokenFor('bob');
    assert.equal((await t.api('GET', '/services', { token: bob })).status, 403);
    assert.equal((await t.api('GET', '/services/culler', { token: bob })).status, 403);
  });

  it('ganymede token --service makes a service token, limited to the role', async () => {
    const config = path.join(t.dataDir, 'cli-config.json');
    writeFileSync(config, JSON.stringify({ data_dir: t.dataDir, services, roles }));
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `const { main } = await import(${JSON.stringify(MAIN)}); await main(process.argv.slice(1));`, ...args], {
        cwd: path.dirname(MAIN),
      });
    const { stdout } = await run('token', '--service', 'culler', '--scopes', 'list:users,admin:users', '--config', config);
    const token = stdout.trim();
    assert.match(token, /^[0-9a-f]{32}$/);
    const me = (await t.api('GET', '/user', { token })).body as { kind: string; name: string; scopes: string[] };
    assert.equal(me.kind, 'service');
    assert.equal(me.name, 'culler');
    assert.ok(me.scopes.includes('list:users'));
    assert.ok(!me.scopes.includes('admin:users'), 'a token scope beyond the role is dropped');
    assert.equal((await t.api('GET', '/users/culler', { token: admin })).status, 404);
    await assert.rejects(run('token', '--service', 'ghost', '--config', config), /no service named "ghost"/);
    await assert.rejects(run('token', 'someone', '--service', 'culler', '--config', config), /either a user name or --service/);
  });

  it('config changes: a new api_token replaces the old one; a removed service loses its tokens', async () => {
    const rotated = 'rotated-token-0123456789abcdef';
    const cfg = validateConfig({ services: [{ name: 'culler', api_token: rotated }, { name: 'bare' }] });
    await loadServices(t.hub.db, cfg.services, quiet);
    t.hub.identities.clear();
    assert.equal((await t.api('GET', '/user', { token: CULLER_TOKEN })).status, 403);
    assert.equal((await t.api('GET', '/user', { token: rotated })).status, 200);
    assert.equal((await t.api('GET', '/user', { token: LEGACY_TOKEN })).status, 403);
    assert.equal((await t.api('GET', '/user', { token: BARE_TOKEN })).status, 403, 'api_token dropped from config');
    assert.equal((await t.api('GET', '/services/legacy', { token: admin })).status, 404);
  });

  it('bad services config is refused with the problem named', async () => {
    assert.throws(() => validateConfig({ services: [{ name: '..' }] }), /services/);
    assert.throws(() => validateConfig({ services: [{ name: 'x', api_token: 'short' }] }), /api_token/);
    assert.throws(() => validateConfig({ services: [{ name: 'x', password: 'p' }] }), /password/);
    const dup = validateConfig({ services: [{ name: 'x' }, { name: 'x' }] });
    await assert.rejects(loadServices(t.hub.db, dup.services, quiet), /listed twice/);
    const ghost = validateConfig({ roles: [{ name: 'r-ghost', scopes: ['list:users'], services: ['ghost'] }] });
    await assert.rejects(loadRoles(t.hub.db, ghost.roles, ghost.services), /no service named "ghost"/);
  });
});

describe('a service token limited to a group member, under a group-filtered role', () => {
  it("keeps the member's scopes (and not an outsider's)", async () => {
    const t = await startTestHub({
      services: [{ name: 'teamsvc', api_token: 'teamsvc-config-token-0123456789' }],
      roles: [{ name: 'team-reader', scopes: ['read:users!group=team', 'list:users!group=team'], services: ['teamsvc'] }],
    });
    try {
      const admin = await t.tokenFor('root', { admin: true });
      await t.tokenFor('alice');
      await t.tokenFor('carol');
      assert.equal((await t.api('POST', '/groups/team', { token: admin, body: { users: ['alice'] } })).status, 201);
      const svc = await t.hub.db.selectFrom('services').select('id').where('name', '=', 'teamsvc').executeTakeFirstOrThrow();
      const { token } = await createServiceToken(t.hub.db, svc.id, { kind: 'api', scopes: ['read:users!user=alice', 'read:users!user=carol'] });
      assert.equal((await t.api('GET', '/users/alice', { token })).status, 200);
      assert.equal((await t.api('GET', '/users/carol', { token })).status, 404);
    } finally {
      await t.stop();
    }
  });
});
