import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

/**
 * The store the API suite runs on: every dialect the hub supports (Kysely's
 * DIALECTS pattern, as in store.test.ts). One PostgreSQL server for the file.
 */
const DIALECTS: { name: string; skip: string | false; config: () => Promise<Record<string, unknown>>; cleanup: () => void }[] = [
  { name: 'SQLite', skip: false, config: async () => ({}), cleanup: () => undefined },
  {
    name: 'PostgreSQL',
    skip: postgresAvailable() ? false : 'PostgreSQL is not installed (scripts/test.sh installs it)',
    config: async () => {
      pg = await startPostgres();
      if (!pg) throw new Error('PostgreSQL did not start');
      return { db: { url: pg.url } };
    },
    cleanup: () => pg?.stop(),
  },
];
let pg: TestPostgres | undefined;

for (const dialect of DIALECTS) {
  /** The REST API against an in-process hub; every response is validated against the 5.5.1 spec. */
  describe(`REST API on ${dialect.name}`, { skip: dialect.skip }, () => {
    let t: TestHub;
    let admin: string;

    before(async () => {
      t = await startTestHub({ allow_named_servers: true, named_server_limit_per_user: 2, ...(await dialect.config()) });
      admin = await t.tokenFor('admin', { admin: true });
    });
    after(async () => {
      await t?.stop();
      dialect.cleanup();
    });

    it('answers / without auth, with the JupyterHub version header', async () => {
      const r = await t.api('GET', '/');
      assert.equal(r.status, 200);
      assert.equal((r.body as { version: string }).version, '5.5.1');
      assert.equal(r.headers.get('x-jupyterhub-version'), '5.5.1');
    });

    it('GET /info needs read:hub', async () => {
      assert.equal((await t.api('GET', '/info')).status, 403);
      const r = await t.api('GET', '/info', { token: admin });
      assert.equal(r.status, 200);
    });

    it('creates, reads, patches and deletes users', async () => {
      let r = await t.api('POST', '/users/carol', { token: admin });
      assert.equal(r.status, 201);
      assert.equal((r.body as { name: string }).name, 'carol');
      r = await t.api('POST', '/users/carol', { token: admin });
      assert.equal(r.status, 409);
      r = await t.api('PATCH', '/users/carol', { token: admin, body: { admin: true } });
      assert.equal(r.status, 200);
      assert.equal((r.body as { admin: boolean }).admin, true);
      await t.api('POST', '/groups/carols', { token: admin });
      r = await t.api('PATCH', '/users/carol', { token: admin, body: { groups: ['carols'] } });
      assert.deepEqual((r.body as { groups: string[] }).groups, ['carols']);
      r = await t.api('PATCH', '/users/carol', { token: admin, body: { groups: ['no-such-group'] } });
      assert.equal(r.status, 400);
      r = await t.api('PATCH', '/users/carol', { token: admin, body: { name: 'caroline' } });
      assert.equal((r.body as { name: string }).name, 'caroline');
      assert.equal((await t.api('GET', '/users/carol', { token: admin })).status, 404);
      assert.equal((await t.api('DELETE', '/users/caroline', { token: admin })).status, 204);
      assert.equal((await t.api('GET', '/users/caroline', { token: admin })).status, 404);
    });

    it('creates users in a batch and lists them with pagination', async () => {
      const names = Array.from({ length: 12 }, (_, i) => `batch${String(i).padStart(2, '0')}`);
      let r = await t.api('POST', '/users', { token: admin, body: { usernames: names } });
      assert.equal(r.status, 201);
      assert.equal((r.body as unknown[]).length, 12);
      r = await t.api('GET', '/users?offset=2&limit=5&sort=name', { token: admin, headers: { Accept: 'application/jupyterhub-pagination+json' } });
      assert.equal(r.status, 200);
      const page = r.body as { items: { name: string }[]; _pagination: { offset: number; limit: number; total: number; next: { offset: number } | null } };
      assert.equal(page.items.length, 5);
      assert.equal(page._pagination.offset, 2);
      assert.equal(page._pagination.next?.offset, 7);
      assert.ok(page._pagination.total >= 13);
      r = await t.api('GET', '/users?limit=3', { token: admin });
      assert.ok(Array.isArray(r.body));
      assert.equal((r.body as unknown[]).length, 3);
      r = await t.api('GET', '/users?state=ready', { token: admin });
      assert.deepEqual(r.body, []);
      r = await t.api('GET', '/users?sort=-name&limit=1', { token: admin });
      assert.equal((r.body as { name: string }[])[0]!.name, 'batch11');
    });

    it('GET /user returns the identity of the token with its scopes', async () => {
      const tok = await t.tokenFor('dave', { scopes: ['read:users:name!user=dave'] });
      const r = await t.api('GET', '/user', { token: tok });
      assert.equal(r.status, 200);
      const body = r.body as { name: string; kind: string; scopes: string[]; token_id: string };
      assert.equal(body.name, 'dave');
      assert.equal(body.kind, 'user');
      assert.ok(body.scopes.includes('read:users:name!user=dave'));
      assert.match(body.token_id, /^a\d+$/);
    });

    it('starts and stops the default server, with progress events', async () => {
      const tok = await t.tokenFor('erin');
      let r = await t.api('POST', '/users/erin/server', { token: tok, body: { profile: 'small' } });
      assert.equal(r.status, 201);
      r = await t.api('GET', '/users/erin', { token: tok });
      const model = r.body as { server: string; servers: Record<string, { ready: boolean; user_options: unknown; progress_url: string }> };
      assert.equal(model.server, '/user/erin/');
      assert.equal(model.servers['']!.ready, true);
      assert.deepEqual(model.servers['']!.user_options, { profile: 'small' });
      assert.equal(model.servers['']!.progress_url, '/hub/api/users/erin/server/progress');
      // the route is in the proxy, and the server answers through it
      const routes = await t.api('GET', '/proxy', { token: admin });
      assert.ok(Object.keys(routes.body as object).includes('/user/erin/'));
      const through = await fetch(`${t.publicUrl}/user/erin/api`);
      assert.equal(through.status, 200);
      assert.equal(((await through.json()) as { user: string }).user, 'erin');
      // progress of a ready server: one ready event
      const progress = await fetch(`${t.hubUrl}/hub/api/users/erin/server/progress`, { headers: { Authorization: `token ${tok}` } });
      assert.equal(progress.headers.get('content-type'), 'text/event-stream');
      assert.match(await progress.text(), /"ready":true/);
      // starting again is a 400
      r = await t.api('POST', '/users/erin/server', { token: tok });
      assert.equal(r.status, 400);
      assert.match((r.body as { message: string }).message, /already running/);
      r = await t.api('DELETE', '/users/erin/server', { token: tok });
      assert.equal(r.status, 204);
      const after = await t.api('GET', '/users/erin', { token: tok });
      assert.equal((after.body as { server: unknown }).server, null);
      const gone = await t.api('GET', '/proxy', { token: admin });
      assert.ok(!Object.keys(gone.body as object).includes('/user/erin/'));
      // stopping a stopped default server is fine
      assert.equal((await t.api('DELETE', '/users/erin/server', { token: tok })).status, 204);
    });

    it('runs named servers within the limit and removes them', async () => {
      const tok = await t.tokenFor('fay');
      assert.equal((await t.api('POST', '/users/fay/servers/one', { token: tok })).status, 201);
      assert.equal((await t.api('POST', '/users/fay/servers/two', { token: tok })).status, 201);
      const r = await t.api('POST', '/users/fay/servers/three', { token: tok });
      assert.equal(r.status, 400);
      assert.match((r.body as { message: string }).message, /maximum of 2 named servers/);
      const model = (await t.api('GET', '/users/fay', { token: tok })).body as { servers: Record<string, { url: string }> };
      assert.equal(model.servers['one']!.url, '/user/fay/one/');
      assert.equal((await fetch(`${t.publicUrl}/user/fay/two/api`)).status, 200);
      assert.equal((await t.api('DELETE', '/users/fay/servers/one', { token: tok, body: { remove: true } })).status, 204);
      assert.equal((await t.api('DELETE', '/users/fay/servers/two', { token: tok })).status, 204);
      const stopped = (await t.api('GET', '/users/fay?include_stopped_servers', { token: tok })).body as { servers: Record<string, { stopped: boolean }> };
      assert.deepEqual(Object.keys(stopped.servers), ['two']);
      assert.equal(stopped.servers['two']!.stopped, true);
      assert.equal((await t.api('DELETE', '/users/fay/servers/one', { token: tok })).status, 404);
    });

    it('manages tokens', async () => {
      const tok = await t.tokenFor('gus');
      let r = await t.api('POST', '/users/gus/tokens', { token: tok, body: { note: 'ci', expires_in: 3600, scopes: ['read:users!user=gus'] } });
      assert.equal(r.status, 201);
      const created = r.body as { id: string; token: string; scopes: string[]; expires_at: string };
      assert.ok(created.token.length >= 32);
      assert.ok(created.expires_at);
      r = await t.api('GET', '/users/gus/tokens', { token: tok });
      assert.ok((r.body as { api_tokens: { id: string }[] }).api_tokens.some((x) => x.id === created.id));
      r = await t.api('GET', `/users/gus/tokens/${created.id}`, { token: tok });
      assert.equal((r.body as { note: string }).note, 'ci');
      // the new token works, with its own limits
      assert.equal((await t.api('GET', '/users/gus', { token: created.token })).status, 200);
      assert.equal((await t.api('POST', '/users/gus/server', { token: created.token })).status, 403);
      assert.equal((await t.api('DELETE', `/users/gus/tokens/${created.id}`, { token: tok })).status, 204);
      assert.equal((await t.api('GET', '/users/gus', { token: created.token })).status, 403);
      // a scope the user does not hold is refused
      r = await t.api('POST', '/users/gus/tokens', { token: tok, body: { scopes: ['admin:users'] } });
      assert.equal(r.status, 403);
    });

    it('manages groups, members and properties', async () => {
      await t.tokenFor('hal');
      let r = await t.api('POST', '/groups/team', { token: admin, body: { users: ['hal'] } });
      assert.equal(r.status, 201);
      assert.deepEqual((r.body as { users: string[] }).users, ['hal']);
      r = await t.api('PUT', '/groups/team/properties', { token: admin, body: { color: 'blue' } });
      assert.equal(r.status, 200);
      assert.deepEqual((r.body as { properties: unknown }).properties, { color: 'blue' });
      r = await t.api('DELETE', '/groups/team/users', { token: admin, body: { users: ['hal'] } });
      assert.deepEqual((r.body as { users: string[] }).users, []);
      r = await t.api('POST', '/groups/team/users', { token: admin, body: { users: ['nobody-here'] } });
      assert.equal(r.status, 400);
      r = await t.api('GET', '/groups', { token: admin });
      assert.ok((r.body as { name: string }[]).some((g) => g.name === 'team'));
      assert.equal((await t.api('DELETE', '/groups/team', { token: admin })).status, 204);
      assert.equal((await t.api('GET', '/groups/team', { token: admin })).status, 404);
    });

    it('records activity and moves it only forward', async () => {
      const tok = await t.tokenFor('ivy');
      assert.equal((await t.api('POST', '/users/ivy/server', { token: tok })).status, 201);
      const when = new Date(Date.now() + 60_000).toISOString();
      let r = await t.api('POST', '/users/ivy/activity', { token: tok, body: { last_activity: when, servers: { '': { last_activity: when } } } });
      assert.equal(r.status, 200);
      r = await t.api('POST', '/users/ivy/activity', { token: tok, body: { last_activity: '2001-01-01T00:00:00Z' } });
      assert.equal(r.status, 200);
      const model = (await t.api('GET', '/users/ivy', { token: tok })).body as { last_activity: string; servers: Record<string, { last_activity: string }> };
      assert.equal(model.last_activity, when);
      assert.equal(model.servers['']!.last_activity, when);
      r = await t.api('POST', '/users/ivy/activity', { token: tok, body: { servers: { nope: { last_activity: when } } } });
      assert.equal(r.status, 400);
      await t.api('DELETE', '/users/ivy/server', { token: tok });
    });

    it('health answers for probes', async () => {
      const r = await t.api('GET', '/health', { validate: false });
      assert.equal(r.status, 200);
    });
  });
}
