/**
 * Issue 9, items 1.1 and 1.2, through the real hub and proxy: names that are
 * or contain dot segments are refused at every entry point (API, login, spawn
 * page, config), names stored before the rules never get a route or a
 * directory outside `servers/`, and per-server identifiers do not collide.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { createServer, updateServer } from '../../src/db/repos/servers.js';
import { createUser, getUser } from '../../src/db/repos/users.js';
import { createGroup } from '../../src/db/repos/groups.js';
import { reconcileRoutes } from '../../src/hub/reconcile.js';
import { SERVER_DIRS } from '../../src/hub/work-dir.js';

interface RawResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** An HTTP request with the path sent exactly as given (fetch would resolve `..` and `%2e%2e` first). */
function raw(base: string, method: string, rawPath: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<RawResult> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: rawPath, headers: opts.headers ?? {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A tiny browser: a cookie jar by name, manual redirects. */
class Browser {
  readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}

  cookieHeader(): Record<string, string> {
    return this.cookies.size ? { Cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {};
  }

  async request(method: string, url: string, form?: Record<string, string>): Promise<Response> {
    const headers: Record<string, string> = this.cookieHeader();
    if (form) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(`${this.base}${url}`, { method, headers, redirect: 'manual', ...(form ? { body: new URLSearchParams(form).toString() } : {}) });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0]!;
      const eq = pair.indexOf('=');
      if (/Max-Age=0/i.test(c)) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  }

  async login(username: string): Promise<Response> {
    const page = await (await this.request('GET', '/hub/login')).text();
    const xsrf = /name="_xsrf" value="([^"]+)"/.exec(page)?.[1];
    assert.ok(xsrf, 'the login page has an _xsrf field');
    return this.request('POST', '/hub/login', { _xsrf: xsrf, username, password: 'test-password' });
  }
}

/** A dot segment in every encoding a reviewer would try, as raw path segments. */
const DOT_SEGMENTS = ['..', '.', '%2e%2e', '%2E%2e', '.%2e', '%2e.', '%2e', '%252e%252e', '%2e%2e%2f', '..%5c', '%5c..', '%EF%BC%8E%EF%BC%8E', '%E2%80%A5', '...'];

describe('dot-segment and colliding names (issue 9, 1.1 and 1.2)', () => {
  let t: TestHub;
  let admin: string;

  async function userCount(): Promise<number> {
    return (await t.hub.db.selectFrom('users').select('id').execute()).length;
  }

  before(async () => {
    t = await startTestHub({ allow_named_servers: true });
    admin = await t.tokenFor('admin', { admin: true });
    await t.tokenFor('alice');
  });
  after(async () => t.stop());

  it('the API refuses user names that are or decode to dot segments, with a 400 JSON naming the problem', async () => {
    const before = await userCount();
    for (const seg of DOT_SEGMENTS) {
      const res = await raw(t.hubUrl, 'POST', `/hub/api/users/${seg}`, { headers: { Authorization: `token ${admin}` } });
      assert.equal(res.status, 400, `POST /users/${seg}: ${res.text}`);
      const body = JSON.parse(res.text) as { status: number; message: string };
      assert.equal(body.status, 400);
      assert.match(body.message, /invalid user name/, seg);
    }
    for (const name of ['..', '.', '%2e%2e', '.%2E', '%252e', 'a/..', '..\\', '．．', '‥']) {
      const batch = await t.api('POST', '/users', { token: admin, body: { usernames: [name] } });
      assert.equal(batch.status, 400, name);
      assert.match((batch.body as { message: string }).message, /invalid user name/);
      const rename = await t.api('PATCH', '/users/alice', { token: admin, body: { name } });
      assert.equal(rename.status, 400, `rename to ${name}`);
    }
    const group = await t.api('POST', '/groups', { token: admin, body: { groups: ['..'] }, validate: false });
    assert.equal(group.status, 400);
    const groupByPath = await raw(t.hubUrl, 'POST', '/hub/api/groups/%2e%2e', { headers: { Authorization: `token ${admin}` } });
    assert.equal(groupByPath.status, 400, groupByPath.text);
    assert.equal(await userCount(), before, 'no user was created');
    assert.ok((await t.api('GET', '/users/alice', { token: admin })).status === 200, 'alice kept her name');
  });

  it('the API refuses a named server ".." (and its encodings) without creating it', async () => {
    for (const seg of DOT_SEGMENTS) {
      const res = await raw(t.hubUrl, 'POST', `/hub/api/users/alice/servers/${seg}`, { headers: { Authorization: `token ${admin}` } });
      assert.equal(res.status, 400, `POST /users/alice/servers/${seg}: ${res.text}`);
      assert.match((JSON.parse(res.text) as { message: string }).message, /server name/, seg);
    }
    const rows = await t.hub.db.selectFrom('servers').select('name').execute();
    assert.deepEqual(rows.filter((r) => r.name !== ''), []);
  });

  it('login refuses such names with a 400 page that says why, and creates no user', async () => {
    const before = await userCount();
    for (const name of ['..', '.', '%2e%2e', '%2E%2E', '%252e%252e', '．．', '..\\', '/..']) {
      const res = await new Browser(t.hubUrl).login(name);
      assert.equal(res.status, 400, name);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      assert.match(await res.text(), /This user name cannot be used: invalid user name/);
    }
    const huge = await new Browser(t.hubUrl).login(`evil\n${'x'.repeat(100_000)}`);
    assert.equal(huge.status, 400);
    const page = await huge.text();
    assert.ok(page.length < 20_000, `the page does not echo the whole name (${page.length} bytes)`);
    assert.equal(await userCount(), before);
  });

  it('the spawn page refuses such user and server names with a 400 page', async () => {
    const b = new Browser(t.hubUrl);
    assert.equal((await b.login('alice')).status, 302);
    for (const seg of DOT_SEGMENTS) {
      for (const p of [`/hub/spawn/${seg}`, `/hub/spawn/alice/${seg}`, `/hub/spawn-pending/alice/${seg}`]) {
        const res = await raw(t.hubUrl, 'GET', p, { headers: b.cookieHeader() });
        assert.equal(res.status, 400, `${p}: ${res.status} ${res.text.slice(0, 300)}`);
        assert.match(res.headers['content-type'] ?? '', /text\/html/);
        assert.match(res.text, /invalid (user|server) name/);
      }
    }
  });

  it('a name stored before the rules is never spawned or routed, and the hub and its data dir stay out of reach', async () => {
    // an old database: user ".." with a server that claims to run
    // the repositories refuse such names too: the last lock behind every entry point
    await assert.rejects(createUser(t.hub.db, '..'), /invalid user name/);
    await assert.rejects(createGroup(t.hub.db, '%2e%2e'), /invalid group name/);
    const alice = (await getUser(t.hub.db, 'alice'))!;
    await assert.rejects(createServer(t.hub.db, alice.id, '..', 'local-process'), /invalid server name/);
    const legacy = await t.hub.db
      .insertInto('users')
      .values({ name: '..', admin: 0, created: new Date().toISOString(), last_activity: null, auth_state: null })
      .returningAll()
      .executeTakeFirstOrThrow();
    const row = await createServer(t.hub.db, legacy.id, '', 'local-process');
    await updateServer(t.hub.db, row.id, { ready: 1, url: 'http://127.0.0.1:9' });
    const spawn = await t.hub.servers.spawn(legacy, '', undefined).then(
      () => undefined,
      (err: Error & { status?: number }) => err,
    );
    assert.equal(spawn?.status, 400);
    assert.match(spawn?.message ?? '', /invalid user name "\.\."/);
    await reconcileRoutes(t.hub);
    const routes = await t.hub.proxy.getAllRoutes();
    assert.deepEqual([...routes.keys()].filter((k) => k !== '/'), [], 'no route but the hub');
    assert.equal(routes.get('/')?.target, t.hubUrl, 'the root route still goes to the hub');
    // through the proxy, every dot-segment path under /user/ still reaches the hub, never a server or a file
    for (const seg of DOT_SEGMENTS) {
      for (const file of ['cookie_secret', 'proxy_token', 'ganymede.sqlite']) {
        const res = await raw(t.publicUrl, 'GET', `/user/${seg}/${file}`);
        assert.ok(!res.text.includes('"version":"trivial"'), `/user/${seg}/${file} reached a server`);
        assert.notEqual(res.status, 200, `/user/${seg}/${file}`);
      }
    }
    await t.hub.db.deleteFrom('users').where('id', '=', legacy.id).execute();
  });

  it('no entry point leaves a file or directory outside server-dirs/ in the data dir', () => {
    const top = readdirSync(t.dataDir).sort();
    for (const entry of top) assert.ok(!entry.startsWith('.') && !entry.includes('%') && entry !== 'server.log', entry);
    if (existsSync(path.join(t.dataDir, SERVER_DIRS))) {
      for (const entry of readdirSync(path.join(t.dataDir, SERVER_DIRS))) assert.match(entry, /^[a-z0-9_-][a-z0-9_.-]*$/);
    }
  });
});

describe('ganymede token NAME (issue 9, 1.1)', () => {
  it('refuses dot-segment names before opening any database', () => {
    const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'ganymede-token-')); // where a database would go if the name passed
    for (const name of ['..', '%2e%2e', '．．']) {
      const run = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '-e', `import(${JSON.stringify(main)}).then((m) => m.main(['token', ${JSON.stringify(name)}]))`], {
        encoding: 'utf8',
        cwd,
        timeout: 60_000,
      });
      assert.equal(run.status, 2, `${name}: ${run.stderr}`);
      assert.match(run.stderr, /token: invalid user name/);
    }
    assert.deepEqual(readdirSync(cwd), [], 'no database was created');
    rmSync(cwd, { recursive: true, force: true });
  });
});

describe('servers that naive joins confuse (issue 9, 1.2)', () => {
  let t: TestHub;
  let admin: string;
  const envs = new Map<string, Record<string, string>>();

  before(async () => {
    t = await startTestHub({ allow_named_servers: true });
    t.hub.hooks.preSpawnStart = ({ user, serverName, env }) => {
      envs.set(`${user}/${serverName}`, { ...env });
    };
    admin = await t.tokenFor('admin', { admin: true });
    for (const name of ['ka-b', 'ka', 'ka--b']) await t.tokenFor(name);
  });
  after(async () => t.stop());

  /** The OAuth code flow a single-user server runs for a browser, with the server's own client id, callback and secret. */
  async function oauthLogin(owner: string, server: string): Promise<string> {
    const env = envs.get(`${owner}/${server}`)!;
    const clientId = env['JUPYTERHUB_CLIENT_ID']!;
    const callback = env['JUPYTERHUB_OAUTH_CALLBACK_URL']!;
    const b = new Browser(t.hubUrl);
    assert.equal((await b.login(owner)).status, 302);
    const authorize = await b.request('GET', `/hub/api/oauth2/authorize?${new URLSearchParams({ client_id: clientId, redirect_uri: callback, response_type: 'code', state: 's' })}`);
    assert.equal(authorize.status, 302, `${owner}/${server}: authorize answered ${authorize.status} ${await authorize.text()}`);
    const location = new URL(authorize.headers.get('location')!, t.hubUrl);
    assert.equal(location.pathname, callback);
    const res = await fetch(`${t.hubUrl}/hub/api/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, client_secret: env['JUPYTERHUB_API_TOKEN']!, grant_type: 'authorization_code', code: location.searchParams.get('code')!, redirect_uri: callback }).toString(),
    });
    assert.equal(res.status, 200, `${owner}/${server}: token answered ${res.status} ${await res.clone().text()}`);
    const token = ((await res.json()) as { access_token: string }).access_token;
    const me = await t.api('GET', '/user', { token });
    assert.equal((me.body as { name: string }).name, owner);
    return clientId;
  }

  it('ka-b (default) and ka/b (named) both log in through OAuth, with distinct client ids and directories', async () => {
    assert.equal((await t.api('POST', '/users/ka-b/server', { token: admin })).status, 201);
    assert.equal((await t.api('POST', '/users/ka/servers/b', { token: admin })).status, 201);
    assert.equal((await t.api('POST', '/users/ka--b/server', { token: admin })).status, 201);
    const first = await oauthLogin('ka-b', '');
    const second = await oauthLogin('ka', 'b');
    const third = await oauthLogin('ka--b', '');
    assert.equal(new Set([first, second, third]).size, 3);
    for (const id of [first, second, third]) assert.match(id, /^jupyterhub-user-[a-z0-9_.-]+$/);
    // the first server's login still works after the others started
    await oauthLogin('ka-b', '');
    const dirs = readdirSync(path.join(t.dataDir, SERVER_DIRS)).sort();
    assert.deepEqual(dirs, ['ka--b', 'ka-2d-2db', 'ka-2db']);
    // each server answers on its own route
    for (const [p, user] of [['/user/ka-b/', 'ka-b'], ['/user/ka/b/', 'ka'], ['/user/ka--b/', 'ka--b']] as const) {
      const res = await fetch(`${t.publicUrl}${p}`);
      assert.equal(((await res.json()) as { user: string }).user, user, p);
    }
  });
});
