import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser, xsrfOf } from '../helpers/browser.js';
import { namedBackends, TrivialSpawner } from '../helpers/spawner-doubles.js';
import { eventually, serverRecord } from '../helpers/server-state.js';
import { FirecrestSpawnerSchema, type FirecrestSpawnerConfig } from '../../src/spawners/firecrest/firecrest-config.js';
import { FirecrestForm, type FirecrestFormSources } from '../../src/spawners/firecrest/firecrest-form.js';
import type { FirecrestUserInfo } from '../../src/spawners/firecrest/firecrest-api.js';
import { HubError } from '../../src/lib/errors.js';

/**
 * The FirecREST spawn form inside the hub's real spawn page, with two
 * systems as two back-ends: both fragments share one page (same field
 * names, no ids), only the chosen one's fields are posted, and the hub's
 * start path runs the form's check. The spawner itself is a trivial double
 * whose form methods are the FirecrestForm's, with fixed FirecREST answers.
 */
class FormDouble extends TrivialSpawner {
  constructor(
    private readonly form: FirecrestForm,
    private readonly sources: FirecrestFormSources,
  ) {
    super();
    this.optionsForm = (_user, ctx) => form.render(sources, ctx?.previous ?? {});
    this.optionsFromForm = (posted) => form.fromForm(posted);
  }
  checkOptions(options: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.form.check(options, this.sources);
  }
}

function system(name: string, accounts: string[], partitions: string[]): { spawner: FormDouble; displayName: string } {
  const config = Value.Default(FirecrestSpawnerSchema, {
    kind: 'firecrest',
    firecrest_url: 'https://f7t.example/v2',
    system: name,
    form: { max_nodes: 2, environments: [{ name: 'jupyterlab', uenv: 'jupyterlab/4.3:v1', default: true }], custom_environment: true },
  }) as FirecrestSpawnerConfig;
  const info: FirecrestUserInfo = { user: { id: '1', name: 'gina' }, group: { id: '1', name: 'gina' }, groups: [], accounts: accounts.map((a, i) => ({ name: a, default: i === 0 })) };
  const sources: FirecrestFormSources = { userinfo: () => Promise.resolve(info), partitions: () => Promise.resolve(partitions.map((p) => ({ name: p, state: 'UP' }))) };
  return { spawner: new FormDouble(new FirecrestForm(config, name), sources), displayName: name };
}

/** The HTML of one back-end's fieldset on the spawn page. */
function fieldset(html: string, backend: string): string {
  const m = new RegExp(`<fieldset class="backend-options" data-backend="${backend}"[^>]*>([^]*?)</fieldset>`).exec(html);
  assert.ok(m, `no fieldset for ${backend}`);
  return m[1]!;
}

describe('the FirecREST spawn form on the spawn page, two systems', () => {
  const daint = system('daint', ['proj1', 'csstaff'], ['normal', 'debug']);
  const eiger = system('eiger', ['proj7'], ['gpu']);
  let t: TestHub;

  before(async () => {
    t = await startTestHub({}, { spawners: namedBackends({ daint, eiger }) });
  });
  after(async () => {
    await t.stop();
    await daint.spawner.killAll();
    await eiger.spawner.killAll();
  });

  it("shows each system's fields, posts only the chosen one's, and refuses another system's account", async () => {
    const g = new Browser(t.hubUrl);
    assert.equal((await g.login('gina', 'test-password')).status, 302);
    const html = await (await g.get('/hub/spawn')).text();
    assert.match(html, /data-backend="daint">/);
    assert.match(html, /data-backend="eiger" disabled hidden>/);
    assert.match(fieldset(html, 'daint'), /<option value="proj1" selected>proj1<\/option><option value="csstaff">/);
    assert.match(fieldset(html, 'eiger'), /<option value="proj7" selected>proj7<\/option>/);
    assert.match(fieldset(html, 'eiger'), /<option value="gpu">gpu<\/option>/);
    assert.doesNotMatch(html, /name="(account|partition|nnodes|runtime|environment)"[^>]*\bid=/);
    const xsrf = xsrfOf(html, '/hub/spawn');

    // another system's account: the form again, with the refusal naming the field and the allowed values
    const wrong = await g.post('/hub/spawn', { _xsrf: xsrf, backend: 'eiger', account: 'proj1', nnodes: '1', runtime: '1', environment: 'jupyterlab' });
    assert.equal(wrong.status, 400);
    assert.match(await wrong.text(), /account &quot;proj1&quot; is not one of your accounts on eiger: proj7/);
    assert.equal(eiger.spawner.calls.length, 0);

    const posted = await g.post('/hub/spawn', { _xsrf: xsrf, backend: 'eiger', account: 'proj7', partition: 'gpu', nnodes: '2', runtime: '1.5', reservation: '', environment: 'custom', custom_environment: 'netcdf/4.9:v2' });
    assert.equal(posted.status, 302);
    await eventually(async () => (await serverRecord(t, 'gina')).row?.ready === 1, 5000, 'the form spawn');
    assert.deepEqual(eiger.spawner.calls[0]!.request.userOptions, { account: 'proj7', partition: 'gpu', nnodes: 2, runtime: 1.5, environment: 'custom', custom_environment: 'netcdf/4.9:v2' });
    assert.deepEqual(JSON.parse((await serverRecord(t, 'gina')).row!.user_options), { backend: 'eiger', account: 'proj7', partition: 'gpu', nnodes: 2, runtime: 1.5, environment: 'custom', custom_environment: 'netcdf/4.9:v2' });
    assert.equal(daint.spawner.calls.length, 0);

    // stopped, the form preselects the last options on eiger, and daint's fields start from its defaults
    const token = await t.tokenFor('gina');
    assert.equal((await t.api('DELETE', '/users/gina/server', { token })).status, 204);
    const again = await (await g.get('/hub/spawn')).text();
    assert.match(again, /value="eiger" checked/);
    const e = fieldset(again, 'eiger');
    assert.match(e, /name="nnodes" value="2"/);
    assert.match(e, /name="runtime" value="1.5"/);
    assert.match(e, /<option value="custom" selected>/);
    assert.match(e, /name="custom_environment" value="netcdf\/4.9:v2"/);
    assert.match(fieldset(again, 'daint'), /name="nnodes" value="1"/);
  });
});

describe('the spawn page when one of several systems cannot draw its form', () => {
  const daint = system('daint', ['proj1'], ['normal']);
  const broken = system('broken', ['proj9'], ['x']);
  broken.spawner.optionsForm = () => Promise.reject(new HubError(503, 'FirecREST (system broken) is not available right now: <script>alert(1)</script>. Try again later.'));
  let t: TestHub;

  before(async () => {
    t = await startTestHub({}, { spawners: namedBackends({ broken, daint }) });
  });
  after(async () => {
    await t.stop();
    await daint.spawner.killAll();
    await broken.spawner.killAll();
  });

  it("still offers the other systems, and says (escaped) why that one cannot be chosen", async () => {
    const g = new Browser(t.hubUrl);
    assert.equal((await g.login('gina', 'test-password')).status, 302);
    const res = await g.get('/hub/spawn');
    const html = await res.text();
    assert.equal(res.status, 200, html.slice(0, 500));
    assert.match(fieldset(html, 'daint'), /<option value="proj1" selected>/);
    assert.match(html, /value="daint" checked/);
    assert.match(html, /value="broken" disabled>/);
    assert.match(html, /FirecREST \(system broken\) is not available right now: &lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.doesNotMatch(html, /<script>alert/);
  });
});
