import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../src/lib/errors.js';
import { startTestHub, type ApiResult, type TestHub } from '../helpers/hub.js';
import { Browser, xsrfOf } from '../helpers/browser.js';
import { trivialSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';
import { eventually, serverRecord } from '../helpers/server-state.js';

const FORM = '<label>Profile <input name="profile"></label><label>CPUs <input name="cpus"></label>';

/**
 * `user_options` reach the spawner from the start request's JSON body and
 * from the spawn page's form (posted with `_xsrf`, turned into options by the
 * spawner's `optionsFromForm`), are stored with the server and shown in the
 * user model; bad input is refused with a message and starts nothing.
 */
describe('user_options', () => {
  let t: TestHub | undefined;
  let spawner: TrivialSpawner | undefined;
  afterEach(async () => {
    await t?.stop();
    await spawner?.killAll();
    t = undefined;
    spawner = undefined;
  });

  it('through the API: the POST body reaches the spawner, is stored, and is reused by a start without a body', async () => {
    spawner = trivialSpawner();
    t = await startTestHub({ allow_named_servers: true }, { spawner });
    const tok = await t.tokenFor('olga');
    const options = { profile: 'gpu', cpus: 4, nested: { image: 'jupyter/scipy', tags: ['a', 'b'] } };
    assert.equal((await t.api('POST', '/users/olga/servers/work', { token: tok, body: options })).status, 201);
    assert.deepEqual(spawner.calls[0]!.request.userOptions, options);
    const model = (await t.api('GET', '/users/olga', { token: tok })).body as { servers: Record<string, { user_options: unknown }> };
    assert.deepEqual(model.servers['work']!.user_options, options);
    assert.equal((await t.api('DELETE', '/users/olga/servers/work', { token: tok })).status, 204);
    // a start without a body uses the options stored with the server
    assert.equal((await t.api('POST', '/users/olga/servers/work', { token: tok })).status, 201);
    assert.deepEqual(spawner.calls[1]!.request.userOptions, options);
  });

  it('through the API: a body that is not a JSON object is refused with 400 and starts nothing', async () => {
    spawner = trivialSpawner();
    t = await startTestHub({}, { spawner });
    const tok = await t.tokenFor('olga');
    for (const rawBody of ['[1,2]', '"gpu"', '42', '{"profile":']) {
      const r: ApiResult = await t.api('POST', '/users/olga/server', { token: tok, rawBody });
      assert.equal(r.status, 400, `${rawBody}: ${r.text}`);
      assert.match((r.body as { message: string }).message, /JSON/);
    }
    assert.equal(spawner.calls.length, 0);
    assert.equal((await serverRecord(t, 'olga')).row?.pending ?? null, null);
  });

  it('through the form: the spawn page shows the form, the posted fields become user_options', async () => {
    spawner = trivialSpawner({
      optionsForm: FORM,
      optionsFromForm: (form) => {
        const cpus = Number(form['cpus']);
        if (!Number.isInteger(cpus) || cpus < 1) throw new HubError(400, `cpus must be a positive whole number, not ${JSON.stringify(form['cpus'])}`);
        return { profile: String(form['profile']), cpus };
      },
    });
    t = await startTestHub({}, { spawner });
    const b = new Browser(t.hubUrl);
    assert.equal((await b.login('petra', 'test-password')).status, 302);
    const page = await b.get('/hub/spawn');
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /name="profile"/);
    const xsrf = xsrfOf(html, '/hub/spawn');
    // bad input: the form again, with the spawner's message, and no spawn
    const bad = await b.post('/hub/spawn', { _xsrf: xsrf, profile: 'small', cpus: 'lots' });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /cpus must be a positive whole number, not &quot;lots&quot;|cpus must be a positive whole number, not "lots"/);
    assert.equal(spawner.calls.length, 0);
    // no _xsrf: refused
    const forged = await b.post('/hub/spawn', { profile: 'small', cpus: '2' });
    assert.equal(forged.status, 403);
    assert.equal(spawner.calls.length, 0);
    // good input: redirected to the pending page, the spawner gets the options
    const ok = await b.post('/hub/spawn', { _xsrf: xsrf, profile: 'small', cpus: '2' });
    assert.equal(ok.status, 302);
    assert.match(ok.headers.get('location') ?? '', /\/hub\/spawn-pending\/petra$/);
    await eventually(async () => (await serverRecord(t!, 'petra')).row?.ready === 1, 5000, 'the form spawn finished');
    assert.deepEqual(spawner.calls[0]!.request.userOptions, { profile: 'small', cpus: 2 });
    const tok = await t.tokenFor('petra');
    const model = (await t.api('GET', '/users/petra', { token: tok })).body as { servers: Record<string, { user_options: unknown }> };
    assert.deepEqual(model.servers['']!.user_options, { profile: 'small', cpus: 2 });
  });

  it('through the form without optionsFromForm: the fields as posted, without _xsrf', async () => {
    spawner = trivialSpawner({ optionsForm: FORM });
    t = await startTestHub({}, { spawner });
    const b = new Browser(t.hubUrl);
    await b.login('quinn', 'test-password');
    const xsrf = await b.xsrf('/hub/spawn');
    const ok = await b.post('/hub/spawn', { _xsrf: xsrf, profile: 'large', cpus: '8' });
    assert.equal(ok.status, 302);
    await eventually(() => spawner!.calls.length === 1, 5000, 'the spawn reached the spawner');
    assert.deepEqual(spawner.calls[0]!.request.userOptions, { profile: 'large', cpus: '8' });
  });
});
