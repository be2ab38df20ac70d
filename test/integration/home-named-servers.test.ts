/** Issue 9 §3: the home page links each running named server so it can be opened. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser, login, waitFor } from '../helpers/e2e.js';
import { getServer } from '../../src/db/repos/servers.js';
import { ensureUser } from '../../src/db/repos/users.js';

describe('named servers on the home page', () => {
  let t: TestHub;

  before(async () => {
    t = await startTestHub({ allow_named_servers: true });
  });
  after(async () => t.stop());

  it('a running named server has an Open link to its URL that reaches it; a stopped one a Start link', async () => {
    const token = await t.tokenFor('nora');
    const user = await ensureUser(t.hub.db, 'nora');
    for (const name of ['lab', 'old']) {
      const res = await t.api('POST', `/users/nora/servers/${name}`, { token });
      assert.ok(res.status === 201 || res.status === 202);
      await waitFor(`${name} ready`, async () => (await getServer(t.hub.db, user.id, name))?.ready === 1, { timeoutMs: 15_000 });
    }
    assert.equal((await t.api('DELETE', '/users/nora/servers/old', { token })).status, 204);
    const b = new Browser(t.publicUrl);
    await login(b, 'nora', 'test-password');
    const home = (await b.navigate('/hub/home')).text;
    assert.match(home, /<a href="\/user\/nora\/lab\/">lab<\/a>/);
    const open = /<a class="button" data-open="lab" href="([^"]+)">Open<\/a>/.exec(home)?.[1];
    assert.equal(open, '/user/nora/lab/');
    assert.doesNotMatch(home, /data-open="old"/);
    assert.match(home, /href="\/hub\/spawn\/nora\/old">Start</);
    const reached = await b.navigate(open!);
    assert.equal(reached.status, 200);
    assert.equal((JSON.parse(reached.text) as { user: string }).user, 'nora');
  });
});
