/**
 * The config-declared spawn form (src/spawners/options-form/) end to end
 * through the real hub: a spawner double whose optionsForm, optionsFromForm
 * and checkOptions are an OptionsForm of the BriCS form, users logged in with
 * the BriCS projects auth state (the dev mode's `dev_users`, and the
 * JWT-header login for a hostile project name). The form shows the user's own
 * projects; a refused value (a project not theirs, a runtime over the limit)
 * is a 400 naming the field on the page and on the REST API, and starts
 * nothing; a good one starts with the converted options, which the next form
 * preselects.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { OptionsForm } from '../../src/spawners/options-form/options-form.js';
import { BRICS_FORM_FIELDS } from '../../src/spawners/options-form/brics-form-fields.js';
import { formSpawnerMethods, type FormSpawnerMethods } from '../../src/spawners/options-form/spawner-methods.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser, xsrfOf } from '../helpers/browser.js';
import { TrivialSpawner } from '../helpers/spawner-doubles.js';
import { eventually, serverRecord } from '../helpers/server-state.js';
import { startTestIssuer, TEST_PLATFORM, type TestIssuer } from '../helpers/jwt-issuer.js';

/** A double whose form is the BriCS form, read and checked by OptionsForm, as a batch back-end wires it. */
class BricsFormSpawner extends TrivialSpawner {
  readonly form = new OptionsForm(BRICS_FORM_FIELDS);
  checkOptions: FormSpawnerMethods['checkOptions'];
  constructor() {
    super();
    const methods = formSpawnerMethods(this.form);
    this.optionsForm = methods.optionsForm;
    this.optionsFromForm = methods.optionsFromForm;
    this.checkOptions = methods.checkOptions;
  }
}

/** An escaped page says `Option "field"` as `Option &quot;field&quot;`. */
const q = (s: string) => `(?:"|&quot;)${s}(?:"|&quot;)`;

const savedKey = process.env['GANYMEDE_CRYPT_KEY'];
const restoreKey = () => {
  if (savedKey === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
  else process.env['GANYMEDE_CRYPT_KEY'] = savedKey;
};

describe('config-declared spawn form through the hub (dev_users projects)', () => {
  let t: TestHub;
  let spawner: BricsFormSpawner;
  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = randomBytes(32).toString('hex');
    spawner = new BricsFormSpawner();
    t = await startTestHub({ auth: { kind: 'shared-password', shared_password: 'test-password', dev_users: ['alice.proj1', 'alice.proj2', 'bob.proj3'] } }, { spawner });
  });
  after(async () => {
    await t?.stop();
    await spawner?.killAll();
    restoreKey();
  });
  afterEach(async () => {
    // every test ends with nobody's server running
    for (const name of ['alice', 'bob']) {
      const row = (await serverRecord(t, name)).row;
      if (row?.ready || row?.pending) await t.api('DELETE', `/users/${name}/server`, { token: await t.tokenFor(name) });
    }
  });

  const login = async (name: string): Promise<Browser> => {
    const b = new Browser(t.hubUrl);
    assert.equal((await b.login(name, 'test-password')).status, 302, `${name} logged in`);
    return b;
  };

  it('GET /hub/spawn shows the form with the user\'s own projects and the defaults', async () => {
    const b = await login('alice');
    const page = await b.get('/hub/spawn');
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<select name="brics_project" required><option value="">Choose…<\/option><option value="proj1">proj1<\/option><option value="proj2">proj2<\/option><\/select>/);
    assert.doesNotMatch(html, /proj3/);
    assert.match(html, /<option value="01:00:00" selected>1 hour<\/option>/);
    assert.match(html, /<input type="number" name="ngpus" value="1" min="1" max="4" step="1">/);
    assert.match(html, /name="partition" maxlength="64" pattern=/);
    const bob = await (await (await login('bob')).get('/hub/spawn')).text();
    assert.match(bob, /<option value="proj3">proj3<\/option>/);
    assert.doesNotMatch(bob, /proj1|proj2/);
  });

  it('a refused value shows the form again with a 400 naming the field, and starts nothing', async () => {
    const b = await login('alice');
    const xsrf = xsrfOf(await (await b.get('/hub/spawn')).text(), '/hub/spawn');
    const cases: Array<[Record<string, string | string[]>, RegExp]> = [
      // bob's project: not one of alice's
      [{ brics_project: 'proj3' }, new RegExp(`Option ${q('brics_project')} \\(Project\\): ${q('proj3')} is not one of the choices you have \\(proj1, proj2\\)`)],
      [{ brics_project: 'proj1', runtime: '24:00:00' }, new RegExp(`Option ${q('runtime')} \\(Runtime\\): ${q('24:00:00')} is not one of the choices`)],
      [{ brics_project: 'proj1', ngpus: '9' }, new RegExp(`Option ${q('ngpus')} \\(GPUs\\): 9 is above the maximum 4`)],
      [{ brics_project: 'proj1', ngpus: 'lots' }, new RegExp(`Option ${q('ngpus')} \\(GPUs\\): ${q('lots')} is not a number`)],
      [{ brics_project: 'proj1', partition: 'gpu;id' }, new RegExp(`Option ${q('partition')} \\(Partition\\): ${q('gpu;id')} does not match`)],
      [{ brics_project: 'proj1', reservation: 'r1\n#SBATCH --uid=0' }, new RegExp(`Option ${q('reservation')} \\(Reservation\\): must not hold control characters`)],
      [{ brics_project: ['proj1', 'proj2'] }, new RegExp(`Option ${q('brics_project')} \\(Project\\): was sent more than once`)],
      [{ runtime: '02:00:00' }, new RegExp(`Option ${q('brics_project')} \\(Project\\): is required`)],
    ];
    for (const [fields, message] of cases) {
      const res = await b.post('/hub/spawn', { _xsrf: xsrf, ...fields });
      const html = await res.text();
      assert.equal(res.status, 400, JSON.stringify(fields));
      assert.match(html, message, JSON.stringify(fields));
      assert.match(html, /class="error" role="alert"/);
      assert.match(html, /<select name="brics_project"/, 'the form is shown again');
    }
    assert.equal(spawner.calls.length, 0, 'nothing reached the spawner');
    const row = (await serverRecord(t, 'alice')).row;
    assert.ok(!row?.pending && !row?.ready, 'no server claimed');
  });

  it('a good form starts the server with the converted options, and the next form preselects them', async () => {
    const b = await login('alice');
    const xsrf = xsrfOf(await (await b.get('/hub/spawn')).text(), '/hub/spawn');
    const before = spawner.calls.length;
    // a field of another back-end (or a forged one) is ignored, not passed on
    const ok = await b.post('/hub/spawn', { _xsrf: xsrf, brics_project: 'proj2', runtime: '04:00:00', ngpus: '2', partition: ' gpu ', reservation: '', cmd: 'sh -c id' });
    assert.equal(ok.status, 302, await ok.text());
    assert.match(ok.headers.get('location') ?? '', /\/hub\/spawn-pending\/alice$/);
    await eventually(async () => (await serverRecord(t, 'alice')).row?.ready === 1, 5000, 'the form spawn finished');
    const expected = { brics_project: 'proj2', runtime: '04:00:00', ngpus: 2, partition: 'gpu' };
    assert.deepEqual(spawner.calls[before]!.request.userOptions, expected);
    assert.deepEqual(spawner.calls[before]!.request.authState, { proj1: { name: 'proj1', username: 'alice.proj1' }, proj2: { name: 'proj2', username: 'alice.proj2' } });
    const tok = await t.tokenFor('alice');
    const model = (await t.api('GET', '/users/alice', { token: tok })).body as { servers: Record<string, { user_options: unknown }> };
    assert.deepEqual(model.servers['']!.user_options, expected);
    assert.equal((await t.api('DELETE', '/users/alice/server', { token: tok })).status, 204);
    await eventually(async () => !(await serverRecord(t, 'alice')).row?.ready, 5000, 'the server stopped');
    // the second visit opens on the last values
    const again = await (await b.get('/hub/spawn')).text();
    assert.match(again, /<option value="proj2" selected>proj2<\/option>/);
    assert.doesNotMatch(again, /Choose…/);
    assert.match(again, /<option value="04:00:00" selected>4 hours<\/option>/);
    assert.match(again, /name="ngpus" value="2"/);
    assert.match(again, /name="partition" value="gpu"/);
    assert.match(again, /<input type="text" name="reservation" maxlength/);
  });

  it('the REST API: bad options are a 400 JSON naming the field and start nothing; good ones get the defaults', async () => {
    const tok = await t.tokenFor('alice');
    const before = spawner.calls.length;
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ brics_project: 'proj3' }, /^Option "brics_project" \(Project\): "proj3" is not one of the choices you have \(proj1, proj2\)$/],
      [{ brics_project: 'proj1', image: 'evil/image' }, /^Unknown option "image"; this back-end accepts: brics_project, runtime, ngpus, partition, reservation$/],
      [{ brics_project: 'proj1', ngpus: '2' }, /^Option "ngpus" \(GPUs\): must be a number, got a string$/],
      [{ brics_project: 'proj1', ngpus: 2.5 }, /^Option "ngpus" \(GPUs\): 2\.5 is not a whole number$/],
      [{ brics_project: 'proj1', runtime: '08:00:01' }, /^Option "runtime" \(Runtime\): "08:00:01" is not one of the choices/],
      [{ brics_project: 'proj1', partition: 'p'.repeat(65) }, /^Option "partition" \(Partition\): is longer than 64 characters$/],
      [{ brics_project: 'proj1\u0000' }, /^Option "brics_project" \(Project\): must not hold control characters/],
      [{ ngpus: 1 }, /^Option "brics_project" \(Project\): is required$/],
    ];
    for (const [body, message] of cases) {
      const r = await t.api('POST', '/users/alice/server', { token: tok, body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal((r.body as { status: number }).status, 400);
      assert.match((r.body as { message: string }).message, message, JSON.stringify(body));
    }
    assert.equal(spawner.calls.length, before, 'nothing reached the spawner');
    const r = await t.api('POST', '/users/alice/server', { token: tok, body: { brics_project: 'proj1' } });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(spawner.calls[before]!.request.userOptions, { brics_project: 'proj1', runtime: '01:00:00', ngpus: 1 });
  });
});

describe('config-declared spawn form: a hostile project name from the identity provider', () => {
  let issuer: TestIssuer;
  let t: TestHub;
  let spawner: BricsFormSpawner;
  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = randomBytes(32).toString('hex');
    issuer = await startTestIssuer();
    spawner = new BricsFormSpawner();
    t = await startTestHub({ auth: { kind: 'jwt-header', oidc_server: issuer.issuer, jwt_audience: issuer.audience, platform: TEST_PLATFORM } }, { spawner });
  });
  after(async () => {
    await t?.stop();
    await spawner?.killAll();
    await issuer?.stop();
    restoreKey();
  });

  it('is shown escaped in the form, and the project is still the user\'s to pick', async () => {
    const projects = {
      'project1.portal': { name: '<script>alert(1)</script> & "Project 1"', resources: [{ name: TEST_PLATFORM, username: 'test_user.project1' }] },
    };
    const login = await fetch(`${t.hubUrl}/hub/login`, { headers: { 'X-Auth-Id-Token': await issuer.token({ projects }) }, redirect: 'manual' });
    assert.equal(login.status, 302, await login.text());
    const b = new Browser(t.hubUrl);
    for (const c of login.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      b.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    const html = await (await b.get('/hub/spawn')).text();
    assert.match(html, /<option value="project1\.portal">&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; &quot;Project 1&quot;<\/option>/);
    assert.doesNotMatch(html, /<script>alert/);
    const ok = await b.post('/hub/spawn', { _xsrf: xsrfOf(html, '/hub/spawn'), brics_project: 'project1.portal' });
    assert.equal(ok.status, 302, await ok.text());
    await eventually(() => spawner.calls.length === 1, 5000, 'the spawn reached the spawner');
    assert.deepEqual(spawner.calls[0]!.request.userOptions, { brics_project: 'project1.portal', runtime: '01:00:00', ngpus: 1 });
    await eventually(async () => (await serverRecord(t, 'test_user')).row?.ready === 1, 5000, 'the server runs');
    assert.equal((await t.api('DELETE', '/users/test_user/server', { token: await t.tokenFor('test_user') })).status, 204);
  });
});
