/**
 * A user who uses the hub (pages, API) without a running server is active,
 * as in JupyterHub: the idle culler's `cull.users` deletes users idle since
 * their last activity, so a request must count. A server's calls with its
 * own token are not its user's activity.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { createToken } from '../../src/db/repos/tokens.js';
import { cullOnce } from '../../src/services/culler/culler.js';
import { builtinCullOptions } from '../../src/services/culler/culler-runner.js';
import { roundToken } from '../../src/services/culler/culler-service.js';

describe('requests are their user\'s activity', () => {
  let t: TestHub;
  const longAgo = '2020-01-01T00:00:00.000Z';
  const lastActivity = async (name: string) =>
    (await t.hub.db.selectFrom('users').select('last_activity').where('name', '=', name).executeTakeFirstOrThrow()).last_activity;
  const age = async (name: string) => {
    await t.hub.db.updateTable('users').set({ created: longAgo, last_activity: longAgo }).where('name', '=', name).execute();
  };

  before(async () => {
    t = await startTestHub();
  });
  after(async () => {
    await t?.stop();
  });

  it('an API request with the user\'s token moves their last activity to now; a server token does not', async () => {
    const token = await t.tokenFor('uma');
    await t.tokenFor('sid');
    await age('uma');
    await age('sid');
    const before = Date.now();
    assert.equal((await t.api('GET', '/user', { token })).status, 200);
    await new Promise((r) => setTimeout(r, 100)); // the write does not hold up the answer
    assert.ok(Date.parse((await lastActivity('uma'))!) >= before - 1000, 'the request counted');
    const sid = (await t.hub.db.selectFrom('users').select('id').where('name', '=', 'sid').executeTakeFirstOrThrow()).id;
    const serverToken = (await createToken(t.hub.db, sid, { kind: 'server', scopes: ['inherit'], serverName: '' })).token;
    await t.api('GET', '/user', { token: serverToken });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await lastActivity('sid'), longAgo, "a server's own token is not its user's activity");
  });

  it('the culler with cull.users keeps a user who just used the API, and deletes one who did not', async () => {
    const token = await t.tokenFor('ada');
    await t.tokenFor('ned');
    await age('ada');
    await age('ned');
    assert.equal((await t.api('GET', '/user', { token })).status, 200);
    await new Promise((r) => setTimeout(r, 100));
    const round = await roundToken(t.hub.db, { cullUsers: true, ttlSeconds: 60, services: [], roles: [] });
    const opts = builtinCullOptions({ ...t.hub.config.cull, enabled: true, timeout: 3600, users: true });
    const report = await cullOnce({ apiUrl: t.hub.urls.api, token: round.token }, opts);
    assert.ok(report.deleted.includes('ned'), JSON.stringify(report));
    assert.ok(!report.deleted.includes('ada'), 'the active user is kept');
  });
});
