import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { updateServer } from '../../src/db/repos/servers.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser, xsrfOf } from '../helpers/browser.js';
import { optionsCheckingSpawner, type OptionsCheckingSpawner } from '../helpers/spawner-doubles.js';
import { eventually, serverRecord } from '../helpers/server-state.js';

/**
 * A back-end's `checkOptions` runs on every path that starts a server: the
 * REST API, the spawn form, and a start with no options that reuses the
 * remembered ones. Refused options are a 400 naming the field (JSON for the
 * API, the form again with the message for the page) and nothing is claimed
 * or created; accepted ones are stored as the back-end normalised them.
 */
describe('checkOptions on every start path', () => {
  let t: TestHub;
  let spawner: OptionsCheckingSpawner;
  let tok: string;

  before(async () => {
    spawner = optionsCheckingSpawner();
    t = await startTestHub({ allow_named_servers: true }, { spawner });
    tok = await t.tokenFor('cleo');
  });
  after(async () => {
    await t.stop();
    await spawner.killAll();
  });

  const userModel = async () => (await t.api('GET', '/users/cleo', { token: tok })).body as { servers: Record<string, { user_options: unknown }>; pending: string | null };

  it('REST: a bad value is a 400 JSON naming the field; nothing claimed, no server created', async () => {
    for (const [body, field] of [
      [{ size: 'huge' }, /'size'/],
      [{ size: 3 }, /'size'/],
      [{ size: 'small', gpu: 1 }, /'gpu'/],
      [{ note: ['x'] }, /'note'/],
    ] as const) {
      const res = await t.api('POST', '/users/cleo/server', { token: tok, body });
      assert.equal(res.status, 400, res.text);
      assert.match(res.headers.get('content-type') ?? '', /json/);
      assert.equal((res.body as { status: number }).status, 400);
      assert.match((res.body as { message: string }).message, field);
      const named = await t.api('POST', '/users/cleo/servers/lab', { token: tok, body });
      assert.equal(named.status, 400, named.text);
    }
    assert.equal(spawner.calls.length, 0, 'the spawner was asked to start');
    assert.equal((await serverRecord(t, 'cleo')).row?.pending ?? null, null);
    const model = await userModel();
    assert.equal(model.pending, null);
    assert.deepEqual(Object.keys(model.servers), [], 'a refused start left a server behind');
    const rows = await t.hub.db.selectFrom('servers').select('name').execute();
    assert.deepEqual(rows, [], 'a refused start created a server row');
  });

  it('REST: accepted options are stored and shown as the back-end normalised them (no backend key with one back-end)', async () => {
    const res = await t.api('POST', '/users/cleo/servers/lab', { token: tok, body: { size: '  LARGE ', note: 'hi' } });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(spawner.calls.at(-1)!.request.userOptions, { size: 'large', note: 'hi' });
    assert.equal(spawner.calls.at(-1)!.request.backend, 'default');
    assert.deepEqual(JSON.parse((await serverRecord(t, 'cleo', 'lab')).row!.user_options), { size: 'large', note: 'hi' });
    assert.deepEqual((await userModel()).servers['lab']!.user_options, { size: 'large', note: 'hi' });
    assert.equal((await t.api('DELETE', '/users/cleo/servers/lab', { token: tok })).status, 204);
  });

  it('a restart with no body re-checks the remembered options', async () => {
    const checks = spawner.checks.length;
    assert.equal((await t.api('POST', '/users/cleo/servers/lab', { token: tok })).status, 201);
    assert.deepEqual(spawner.checks.slice(checks), [{ size: 'large', note: 'hi' }]);
    assert.deepEqual(spawner.calls.at(-1)!.request.userOptions, { size: 'large', note: 'hi' });
    assert.equal((await t.api('DELETE', '/users/cleo/servers/lab', { token: tok })).status, 204);
    // remembered options the back-end no longer accepts (stored before its rules changed) are refused too
    const row = (await serverRecord(t, 'cleo', 'lab')).row!;
    await updateServer(t.hub.db, row.id, { user_options: JSON.stringify({ size: 'medium' }) });
    const calls = spawner.calls.length;
    const res = await t.api('POST', '/users/cleo/servers/lab', { token: tok });
    assert.equal(res.status, 400, res.text);
    assert.match((res.body as { message: string }).message, /'size'/);
    assert.equal(spawner.calls.length, calls);
    const after = (await serverRecord(t, 'cleo', 'lab')).row!;
    assert.equal(after.pending, null);
    assert.equal(after.ready, 0);
  });

  it('the spawn form: a refused option shows the form again (400) with the message; a good one starts with normalised options', async () => {
    const b = new Browser(t.hubUrl);
    assert.equal((await b.login('cleo', 'test-password')).status, 302);
    const page = await b.get('/hub/spawn');
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<select name="size">/);
    const xsrf = xsrfOf(html, '/hub/spawn');
    const calls = spawner.calls.length;
    const bad = await b.post('/hub/spawn', { _xsrf: xsrf, size: 'enormous' });
    assert.equal(bad.status, 400);
    const badHtml = await bad.text();
    assert.match(badHtml, /role="alert">The option &#39;size&#39; must be one of small, large|role="alert">The option 'size' must be one of small, large/);
    assert.match(badHtml, /<select name="size">/, 'the form is shown again');
    const unknownField = await b.post('/hub/spawn', { _xsrf: xsrf, size: 'small', partition: 'gpu' });
    assert.equal(unknownField.status, 400);
    assert.match(await unknownField.text(), /partition/);
    assert.equal(spawner.calls.length, calls, 'a refused form started something');
    assert.equal((await serverRecord(t, 'cleo')).row?.pending ?? null, null);
    const good = await b.post('/hub/spawn', { _xsrf: xsrf, size: 'Large' });
    assert.equal(good.status, 302);
    await eventually(() => spawner.calls.length === calls + 1, 5000, 'the form\'s spawn reaching the spawner');
    assert.deepEqual(spawner.calls.at(-1)!.request.userOptions, { size: 'large' });
    assert.deepEqual(JSON.parse((await serverRecord(t, 'cleo')).row!.user_options), { size: 'large' });
  });
});
