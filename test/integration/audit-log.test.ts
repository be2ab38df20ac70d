import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser } from '../helpers/browser.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

interface Entry {
  id: number;
  at: string;
  actor: { kind: string; name: string };
  action: string;
  target: string;
  detail: Record<string, unknown>;
}

/**
 * The audit log: one entry (who, what, when) per admin action through the API
 * or the admin page, and per token creation through the API, the token page
 * and `ganymede token`; none holds a token value; read with read:audit only.
 */
describe('the audit log', () => {
  let t: TestHub;
  let admin: string;
  const tokens: string[] = [];
  const entries = async (query = ''): Promise<Entry[]> => {
    const r = await t.api('GET', `/audit${query}`, { token: admin, validate: false });
    assert.equal(r.status, 200, r.text);
    return r.body as Entry[];
  };
  const last = async (action: string): Promise<Entry> => {
    const e = (await entries(`?action=${action}&limit=1`))[0];
    assert.ok(e, `an entry for ${action}`);
    return e;
  };

  before(async () => {
    t = await startTestHub({ allow_named_servers: true, auth: { kind: 'shared-password', shared_password: 'test-password', admin_password: 'admin-password' } });
    admin = await t.tokenFor('root', { admin: true });
    tokens.push(admin);
    await t.tokenFor('carol');
  });
  after(async () => t.stop());

  it('records user, admin, group and server actions made through the API, with the actor', async () => {
    const ok = async (method: string, p: string, body?: unknown, status = [200, 201, 202, 204]): Promise<void> => {
      const r = await t.api(method, p, { token: admin, ...(body !== undefined ? { body } : {}) });
      assert.ok(status.includes(r.status), `${method} ${p}: ${r.status} ${r.text}`);
    };
    await ok('POST', '/users', { usernames: ['dave', 'erin'] });
    await ok('POST', '/users/frank');
    await ok('PATCH', '/users/frank', { admin: true });
    await ok('PATCH', '/users/frank', { admin: false });
    await ok('PATCH', '/users/erin', { name: 'erina' });
    await ok('POST', '/groups/team');
    await ok('POST', '/groups/team/users', { users: ['dave'] });
    await ok('DELETE', '/groups/team/users', { users: ['dave'] });
    await ok('PATCH', '/users/dave', { groups: ['team'] });
    await ok('DELETE', '/groups/team');
    await ok('POST', '/users/dave/server');
    await ok('DELETE', '/users/dave/server');
    await ok('POST', '/users/dave/servers/gpu');
    await ok('DELETE', '/users/dave/servers/gpu', { remove: true });
    await ok('DELETE', '/users/frank');
    const want: [string, string, Record<string, unknown>?][] = [
      ['user.create', 'frank', { admin: false }],
      ['user.admin.grant', 'frank'],
      ['user.admin.revoke', 'frank'],
      ['user.rename', 'erina', { from: 'erin' }],
      ['group.create', 'team'],
      ['group.members.add', 'team', { users: ['dave'] }],
      ['group.members.remove', 'team', { users: ['dave'] }],
      ['user.groups.set', 'dave', { groups: ['team'] }],
      ['group.delete', 'team'],
      ['server.start', 'dave/gpu'],
      ['server.stop', 'dave/'],
      ['server.delete', 'dave/gpu'],
      ['user.delete', 'frank'],
    ];
    for (const [action, target, detail] of want) {
      const e = await last(action);
      assert.equal(e.target, target, action);
      assert.deepEqual(e.actor, { kind: 'user', name: 'root' }, action);
      assert.ok(Date.now() - Date.parse(e.at) < 60_000, `${action} at ${e.at}`);
      if (detail) for (const [k, v] of Object.entries(detail)) assert.deepEqual(e.detail[k], v, `${action}.${k}`);
    }
    assert.equal((await entries('?action=user.create')).length, 3, 'dave, erin and frank');
  });

  it("does not record what owners do with their own servers, but does a service's or an admin's", async () => {
    const carol = await t.tokenFor('carol');
    tokens.push(carol);
    const before = (await entries('?action=server.')).length;
    assert.equal((await t.api('POST', '/users/carol/server', { token: carol })).status, 201);
    assert.equal((await t.api('DELETE', '/users/carol/server', { token: carol })).status, 204);
    assert.equal((await entries('?action=server.')).length, before);
  });

  it('records every token creation (API, token page, CLI) and never its value', async () => {
    const made = await t.api('POST', '/users/dave/tokens', { token: admin, body: { note: 'for dave', scopes: ['read:users!user=dave'] } });
    assert.equal(made.status, 201);
    tokens.push((made.body as { token: string }).token);
    const api = await last('token.create');
    assert.equal(api.target, 'dave');
    assert.equal(api.detail['note'], 'for dave');
    assert.equal(api.detail['via'], 'api');
    assert.equal(api.detail['id'], (made.body as { id: string }).id);

    const b = new Browser(t.hubUrl);
    assert.equal((await b.login('carol', 'test-password')).status, 302);
    const posted = await b.post('/hub/token', { _xsrf: await b.xsrf('/hub/token'), note: 'notebook' });
    assert.equal(posted.status, 303);
    const shown = /id="new-token">([0-9a-f]+)</.exec(await (await b.get('/hub/token')).text());
    assert.ok(shown, 'the token page shows the new token');
    tokens.push(shown[1]!);
    const page = await last('token.create');
    assert.deepEqual([page.actor.name, page.target, page.detail['via'], page.detail['note']], ['carol', 'carol', 'page', 'notebook']);

    const config = path.join(t.dataDir, 'cli-config.json');
    writeFileSync(config, JSON.stringify({ data_dir: t.dataDir }));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', `const { main } = await import(${JSON.stringify(MAIN)}); await main(process.argv.slice(1));`, 'token', 'dave', '--note', 'from the shell', '--config', config],
      { cwd: path.dirname(MAIN), timeout: 60_000 },
    );
    tokens.push(stdout.trim());
    const cli = await last('token.create');
    assert.deepEqual([cli.actor.kind, cli.target, cli.detail['via'], cli.detail['note']], ['cli', 'dave', 'cli', 'from the shell']);

    const all = JSON.stringify(await entries('?limit=1000'));
    for (const tok of tokens) assert.ok(tok.length >= 32 && !all.includes(tok), 'no token value in the audit log');
  });

  it('filters by actor and pages in the envelope; needs read:audit', async () => {
    const byCarol = await entries('?actor=carol');
    assert.ok(byCarol.length >= 1 && byCarol.every((e) => e.actor.name === 'carol'));
    const r = await t.api('GET', '/audit?limit=2&offset=1', { token: admin, validate: false, headers: { Accept: 'application/jupyterhub-pagination+json' } });
    const env = r.body as { items: Entry[]; _pagination: { total: number; next: unknown } };
    assert.equal(env.items.length, 2);
    assert.ok(env._pagination.total > 3 && env._pagination.next);
    const all = await entries('?limit=3');
    assert.deepEqual(env.items.map((e) => e.id), all.slice(1, 3).map((e) => e.id), 'newest first');
    const carol = await t.tokenFor('carol');
    assert.equal((await t.api('GET', '/audit', { token: carol, validate: false })).status, 403);
    assert.equal((await t.api('GET', '/audit?limit=x', { token: admin, validate: false })).status, 400);
  });

  it('the admin page shows the latest entries and its actions are recorded too', async () => {
    const b = new Browser(t.hubUrl);
    assert.equal((await b.login('root', 'admin-password')).status, 302);
    const pageHtml = await (await b.get('/hub/admin')).text();
    assert.match(pageHtml, /id="audit"/);
    const xsrf = /name="_xsrf" value="([^"]+)"/.exec(pageHtml)![1]!;
    const added = await b.post('/hub/admin/action', { _xsrf: xsrf, op: 'add-user', user: 'gina', back: '/hub/admin?q=gi' });
    assert.equal(added.status, 303);
    assert.equal(added.headers.get('location'), '/hub/admin?q=gi');
    const e = await last('user.create');
    assert.deepEqual([e.actor.name, e.target], ['root', 'gina']);
    const again = await b.post('/hub/admin/action', { _xsrf: xsrf, op: 'add-user', user: 'gina' });
    assert.equal(again.status, 409, 'the API refusal is shown');
    const forged = await b.post('/hub/admin/action', { _xsrf: 'nope', op: 'delete-user', user: 'gina' });
    assert.equal(forged.status, 403);
    const shown = await (await b.get('/hub/admin')).text();
    assert.match(shown, /<code>user\.create<\/code><\/td><td class="wrap">gina</);
  });
});
