import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';

/** Bad input gets a 4xx naming the problem, never a 500, and changes nothing stored. */
describe('bad input', () => {
  let t: TestHub;
  let admin: string;

  async function snapshot(): Promise<string> {
    const db = t.hub.db;
    const [users, servers, groups, tokens] = await Promise.all([
      db.selectFrom('users').select(['name', 'admin']).orderBy('id').execute(),
      db.selectFrom('servers').select(['user_id', 'name', 'ready', 'pending', 'user_options']).orderBy('id').execute(),
      db.selectFrom('groups').select(['name', 'properties']).orderBy('id').execute(),
      db.selectFrom('api_tokens').select(['id', 'scopes']).orderBy('id').execute(),
    ]);
    return JSON.stringify({ users, servers, groups, tokens });
  }

  before(async () => {
    t = await startTestHub({ max_body_size: 4096 });
    admin = await t.tokenFor('admin', { admin: true });
    await t.tokenFor('alice');
    await t.api('POST', '/groups/team', { token: admin });
  });
  after(async () => t.stop());

  const cases: { name: string; method: string; path: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; status: number; message: RegExp }[] = [
    { name: 'malformed JSON', method: 'POST', path: '/users', rawBody: '{"usernames": [', status: 400, message: /not valid JSON/ },
    { name: 'JSON array instead of object', method: 'POST', path: '/users', rawBody: '["a"]', status: 400, message: /JSON object/ },
    { name: 'unknown field', method: 'PATCH', path: '/users/alice', body: { adminn: true }, status: 400, message: /unknown field "adminn"/ },
    { name: 'wrong type', method: 'PATCH', path: '/users/alice', body: { admin: 'yes' }, status: 400, message: /"admin" must be a boolean/ },
    { name: 'wrong type in batch', method: 'POST', path: '/users', body: { usernames: 'bob' }, status: 400, message: /usernames/ },
    { name: 'oversized body', method: 'POST', path: '/users', rawBody: JSON.stringify({ usernames: ['x'.repeat(5000)] }), status: 413, message: /too large/i },
    { name: 'user name with a slash', method: 'POST', path: '/users/a%2Fb', status: 400, message: /"\/" is not allowed/ },
    { name: 'user name with spaces around', method: 'POST', path: '/users/%20bob', status: 400, message: /white space/ },
    { name: 'upper-case user name', method: 'POST', path: '/users/Bob', status: 400, message: /lower case/ },
    { name: 'invalid names in a batch', method: 'POST', path: '/users', body: { usernames: ['ok1', 'bad/name'] }, status: 400, message: /not allowed/ },
    { name: 'server name with a slash', method: 'POST', path: '/users/alice/servers/a%2Fb', status: 400, message: /"\/" is not allowed/ },
    { name: 'named servers disabled', method: 'POST', path: '/users/alice/servers/gpu', status: 400, message: /Named servers are not enabled/ },
    { name: 'bad pagination', method: 'GET', path: '/users?limit=-1', status: 400, message: /limit/ },
    { name: 'bad state filter', method: 'GET', path: '/users?state=sleepy', status: 400, message: /state/ },
    { name: 'bad sort key', method: 'GET', path: '/users?sort=password', status: 400, message: /sort/ },
    { name: 'bad activity timestamp', method: 'POST', path: '/users/alice/activity', body: { last_activity: 'yesterday' }, status: 400, message: /ISO8601/ },
    { name: 'activity without fields', method: 'POST', path: '/users/alice/activity', body: {}, status: 400, message: /last_activity/ },
    { name: 'bad token scopes', method: 'POST', path: '/users/alice/tokens', body: { scopes: ['read:everything'] }, status: 400, message: /read:everything/ },
    { name: 'bad expires_in', method: 'POST', path: '/users/alice/tokens', body: { expires_in: 'soon' }, status: 400, message: /expires_in/ },
    { name: 'remove on the default server', method: 'DELETE', path: '/users/alice/server', body: { remove: true }, status: 400, message: /Cannot delete the default server/ },
    { name: 'group members not a list', method: 'POST', path: '/groups/team/users', body: { users: 'alice' }, status: 400, message: /list of user names/ },
    { name: 'text body', method: 'POST', path: '/users', rawBody: 'usernames=bob', headers: { 'Content-Type': 'text/plain' }, status: 400, message: /JSON object/ },
    { name: 'unknown route', method: 'GET', path: '/nothing/here', status: 404, message: /Not found/ },
  ];

  for (const c of cases) {
    it(`${c.name}: ${c.status}, names the problem, stores nothing`, async () => {
      const before = await snapshot();
      const r = await t.api(c.method, c.path, {
        token: admin,
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.rawBody !== undefined ? { rawBody: c.rawBody } : {}),
        ...(c.headers ? { headers: c.headers } : {}),
        validate: c.status !== 404 || !c.path.startsWith('/nothing'),
      });
      assert.equal(r.status, c.status, r.text);
      const body = r.body as { status: number; message: string };
      assert.equal(body.status, c.status);
      assert.match(body.message, c.message);
      assert.equal(await snapshot(), before);
    });
  }
});
