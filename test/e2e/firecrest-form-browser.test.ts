/**
 * The FirecREST spawn form in Chromium, two systems (daint, eiger) as two
 * back-ends of one hub. The form is the real FirecrestForm of the real
 * FirecREST spawner (built by `createSpawner` from validated config); its
 * answers come from the FirecREST stand-in, asked with real JWT access tokens
 * of the real oidc-provider. Only `start` is a double (TrivialSpawner: records
 * the options and runs the trivial server), so no Slurm job runs and the test
 * stays fast.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import pino from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { validateConfig } from '../../src/config/load.js';
import type { FirecrestUserInfo } from '../../src/spawners/firecrest/firecrest-api.js';
import type { FirecrestSpawnerConfig } from '../../src/spawners/firecrest/firecrest-config.js';
import { jobChoices } from '../../src/spawners/firecrest/firecrest-job-choices.js';
import { createSpawner } from '../../src/spawners/registry.js';
import type { Spawner, UserTokens } from '../../src/spawners/spawner.js';
import { startFirecrestStandin, type FirecrestStandin } from '../helpers/firecrest-standin.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { oneLoginUserTokens, TOKEN_LOGIN_REDIRECT } from '../helpers/oidc-user-tokens.js';
import { eventually, serverRecord } from '../helpers/server-state.js';
import { namedBackends, TrivialSpawner } from '../helpers/spawner-doubles.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** The Unix user the stand-in maps the token to (it reads `id alice`). */
const SYSTEM_USER = 'alice';

function skipReason(): string | false {
  if (!existsSync(CHROMIUM)) return `NOTICE: ${CHROMIUM} not found; browser tests skipped`;
  try {
    execFileSync('id', [SYSTEM_USER], { stdio: 'ignore' });
  } catch {
    return `NOTICE: no system account ${SYSTEM_USER} (the stand-in's userinfo reads it); scripts/slurm-test-env/up.sh creates it`;
  }
  return false;
}

/**
 * A FirecREST back-end whose form, form parsing and option checks are the
 * real FirecREST spawner's, and whose start is the trivial double's.
 */
class FormOnlyFirecrest extends TrivialSpawner {
  constructor(
    readonly config: FirecrestSpawnerConfig,
    private readonly real: Spawner,
  ) {
    super();
    this.optionsForm = (user, ctx) => real.optionsForm!(user, ctx);
    this.optionsFromForm = (posted, ctx) => real.optionsFromForm!(posted, ctx);
  }
  checkOptions: NonNullable<Spawner['checkOptions']> = (options, ctx) => this.real.checkOptions!(options, ctx);
}

/** The CSCS-like form of one system: a JupyterLab uenv at /user-tools, a programming environment at /user-environments, a custom uenv. */
function systemConfig(url: string, system: string, maxNodes: number, maxHours: number): FirecrestSpawnerConfig {
  const raw = {
    kind: 'firecrest',
    firecrest_url: url,
    system,
    request_timeout: 10,
    form: {
      max_nodes: maxNodes,
      max_runtime_hours: maxHours,
      environments: [
        { name: 'jupyterlab', display_name: 'JupyterLab 4.3 (uenv)', description: 'JupyterLab from a uenv', uenv: 'jupyterlab/4.3:v1', mount: '/user-tools', view: 'default', default: true },
        { name: 'prgenv-gnu', display_name: 'PrgEnv GNU 24.11', description: 'The GNU programming environment', uenv: 'prgenv-gnu/24.11:v1', mount: '/user-environments', view: 'default' },
      ],
      custom_environment: true,
    },
  };
  return validateConfig({ spawner: raw }).spawner as FirecrestSpawnerConfig;
}

/** The visible texts of a select's options, and its value. */
async function selectState(page: Page, selector: string): Promise<{ options: string[]; values: string[]; value: string }> {
  return page.$eval(selector, (el) => {
    const s = el as HTMLSelectElement;
    return { options: [...s.options].map((o) => o.text), values: [...s.options].map((o) => o.value), value: s.value };
  });
}

describe('the FirecREST spawn form in a browser, two systems', { skip: skipReason() }, () => {
  let op: TestOidcProvider;
  let standin: FirecrestStandin;
  let t: TestHub;
  let browser: Browser;
  let daint: FormOnlyFirecrest;
  let eiger: FormOnlyFirecrest;
  let tokens: UserTokens & { asked: { user: string; refresh: boolean }[] };

  before(async () => {
    op = await startOidcProvider({ redirectUris: [TOKEN_LOGIN_REDIRECT], jwtAccessTokens: { audience: 'firecrest' } });
    standin = await startFirecrestStandin({
      issuer: op.issuer,
      jwksUri: op.jwksUri,
      systems: {
        daint: { accounts: { [SYSTEM_USER]: [{ name: 'csstaff' }, { name: 'proj1', default: true }] }, partitions: ['normal', 'debug'] },
        eiger: { accounts: { [SYSTEM_USER]: [{ name: 'proj7', default: true }] }, partitions: ['gpu'] },
      },
    });
    tokens = oneLoginUserTokens(() => op, SYSTEM_USER);
    const deps = (name: string) => ({ log: pino({ level: 'silent' }), name, now: Date.now, fetch: globalThis.fetch, dataDir: os.tmpdir(), userTokens: tokens });
    const backend = (name: string, maxNodes: number, maxHours: number) => {
      const config = systemConfig(standin.url, name, maxNodes, maxHours);
      return new FormOnlyFirecrest(config, createSpawner(config, deps(name)));
    };
    daint = backend('daint', 4, 12);
    eiger = backend('eiger', 2, 4);
    t = await startTestHub({}, { spawners: namedBackends({ daint: { spawner: daint, displayName: 'Daint' }, eiger: { spawner: eiger, displayName: 'Eiger' } }) });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    await daint?.killAll();
    await eiger?.killAll();
    await standin?.close();
    await op?.stop();
  });

  /** Turns the browser's own checks of the form off, so what the hub says is what the page shows. */
  const noBrowserChecks = (page: Page) => page.$eval('#spawn_form', (f) => ((f as HTMLFormElement).noValidate = true));

  /** Picks `system` on the spawn page and returns a selector prefix for its fields. */
  async function pick(page: Page, system: string): Promise<string> {
    await page.check(`input[name=backend][value=${system}]`);
    return `fieldset[data-backend=${system}]`;
  }

  it('shows each system’s accounts, partitions, limits and environments from FirecREST; bad values come back as errors; a good choice starts', async () => {
    const page = await browser.newPage();
    await page.goto(`${t.publicUrl}/hub/login`);
    await page.fill('#username', 'gina');
    await page.fill('#password', 'test-password');
    await page.click('#login_submit');
    await page.waitForURL(/\/hub\//);
    await page.goto(`${t.publicUrl}/hub/spawn`);

    // eiger: its one account, its partition, its limits
    const e = await pick(page, 'eiger');
    assert.equal(await page.isVisible(`${e} select[name=account]`), true);
    assert.equal(await page.isVisible('fieldset[data-backend=daint] select[name=account]'), false);
    assert.deepEqual(await selectState(page, `${e} select[name=account]`), { options: ['proj7'], values: ['proj7'], value: 'proj7' });
    assert.deepEqual((await selectState(page, `${e} select[name=partition]`)).values, ['', 'gpu']);
    assert.equal(await page.getAttribute(`${e} input[name=nnodes]`, 'max'), '2');
    assert.equal(await page.getAttribute(`${e} input[name=runtime]`, 'max'), '4');

    // daint: both accounts, the default one preselected (not the first), its partitions, limits, environments
    const d = await pick(page, 'daint');
    assert.equal(await page.isVisible(`${e} select[name=account]`), false);
    assert.equal(await page.isDisabled(`${e} select[name=account]`), true, "the other system's fields are not posted");
    assert.deepEqual(await selectState(page, `${d} select[name=account]`), { options: ['csstaff', 'proj1'], values: ['csstaff', 'proj1'], value: 'proj1' });
    const partitions = await selectState(page, `${d} select[name=partition]`);
    assert.deepEqual(partitions.values, ['', 'normal', 'debug']);
    assert.equal(partitions.value, '');
    assert.equal(await page.getAttribute(`${d} input[name=nnodes]`, 'max'), '4');
    assert.equal(await page.inputValue(`${d} input[name=nnodes]`), '1');
    assert.equal(await page.getAttribute(`${d} input[name=runtime]`, 'max'), '12');
    assert.equal(await page.inputValue(`${d} input[name=runtime]`), '1');
    assert.match(await page.innerText(`${d} [data-field=nnodes]`), /From 1 to 4\./);
    assert.match(await page.innerText(`${d} [data-field=runtime]`), /At most 12 hours\./);
    const envs = await selectState(page, `${d} select[name=environment]`);
    assert.deepEqual(envs.values, ['jupyterlab', 'prgenv-gnu', 'custom']);
    assert.deepEqual(envs.options, ['JupyterLab 4.3 (uenv)', 'PrgEnv GNU 24.11', 'Custom (given below)']);
    assert.equal(envs.value, 'jupyterlab');
    assert.match(await page.innerText(d), /JupyterLab from a uenv/);
    assert.match(await page.innerText(`${d} [data-field=custom_environment]`), /\/user-environments/);
    // the user's own token asked FirecREST (as alice), every request and answer within the spec
    assert.ok(standin.requests.some((r) => r.path === '/status/daint/userinfo' && r.user === SYSTEM_USER && r.status === 200));
    assert.ok(standin.requests.some((r) => r.path === '/status/eiger/partitions' && r.status === 200));
    assert.ok(tokens.asked.every((a) => a.user === 'gina'));

    // a custom uenv the configured pattern refuses ('@' is no uenv character): the hub says so on the page, nothing starts
    await page.selectOption(`${d} select[name=environment]`, 'custom');
    await page.fill(`${d} input[name=custom_environment]`, 'prgenv-gnu@24.11');
    await noBrowserChecks(page);
    await page.click('button[type=submit]');
    await page.waitForSelector('.error[role=alert]');
    const pattern = daint.config.form.custom_environment_pattern;
    assert.equal(await page.innerText('.error[role=alert]'), `custom_environment "prgenv-gnu@24.11" does not match ${pattern}`);
    assert.equal(daint.calls.length, 0);

    // a value with a shell character is refused before the pattern, as one word
    const d1 = await pick(page, 'daint');
    await page.selectOption(`${d1} select[name=environment]`, 'custom');
    await page.fill(`${d1} input[name=custom_environment]`, 'x;rm -rf ~');
    await noBrowserChecks(page);
    await page.click('button[type=submit]');
    await page.waitForSelector('.error[role=alert]');
    assert.match(await page.innerText('.error[role=alert]'), /^custom_environment "x;rm -rf ~" must be one word/);
    assert.equal(daint.calls.length, 0);

    // a run time above daint's 12 hours: the browser flags it, and with its checks off the hub refuses it
    const d2 = await pick(page, 'daint');
    await page.fill(`${d2} input[name=runtime]`, '13');
    assert.equal(await page.$eval(`${d2} input[name=runtime]`, (el) => (el as HTMLInputElement).validity.rangeOverflow), true);
    await noBrowserChecks(page);
    await page.click('button[type=submit]');
    await page.waitForSelector('.error[role=alert]');
    assert.equal(await page.innerText('.error[role=alert]'), 'runtime must be a number of hours above 0 and at most 12, got 13');
    assert.equal(daint.calls.length + eiger.calls.length, 0);

    // a good choice: the server starts on daint with exactly the options chosen
    const d3 = await pick(page, 'daint');
    await page.selectOption(`${d3} select[name=account]`, 'csstaff');
    await page.selectOption(`${d3} select[name=partition]`, 'debug');
    await page.fill(`${d3} input[name=nnodes]`, '2');
    await page.fill(`${d3} input[name=runtime]`, '1.5');
    await page.selectOption(`${d3} select[name=environment]`, 'jupyterlab');
    await page.fill(`${d3} input[name=custom_environment]`, '');
    await page.click('button[type=submit]');
    await eventually(async () => (await serverRecord(t, 'gina')).row?.ready === 1, 15_000, 'the spawn from the form');
    assert.equal((await serverRecord(t, 'gina')).row!.spawner, 'daint');
    assert.equal(eiger.calls.length, 0);
    const chosen = daint.calls.at(-1)!.request.userOptions;
    assert.deepEqual(chosen, { account: 'csstaff', partition: 'debug', nnodes: 2, runtime: 1.5, environment: 'jupyterlab' });
    // and that choice is the JupyterLab uenv mounted at /user-tools
    const info: FirecrestUserInfo = { user: { id: '1', name: SYSTEM_USER }, group: { id: '1', name: SYSTEM_USER }, groups: [], accounts: [] };
    const job = jobChoices(daint.config, chosen, info);
    assert.equal(job.uenv, 'jupyterlab/4.3:v1:/user-tools');
    assert.equal(job.runtime, '01:30:00');
    assert.deepEqual(standin.violations, []);
    assert.deepEqual(standin.clientMistakes, []);
    await page.close();
  });
});
