import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { getServer } from '../../src/db/repos/servers.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { SpawnError } from '../../src/lib/errors.js';
import type { Spawner, SpawnRequest, StartResult } from '../../src/spawners/spawner.js';
import { SpawnerBackends } from '../../src/spawners/backends.js';

/** A long name (and admin: one more header link), as the narrowest header has to hold. */
const PHONE_USER = 'margaret-hamilton-apollo-guidance';

/** A spawner whose start never finishes until the hub gives up or cancels. */
const neverStarts: Spawner = {
  kind: 'never-starts',
  start: (req: SpawnRequest) => new Promise<StartResult>((_, reject) => req.signal.addEventListener('abort', () => reject(new Error('cancelled')), { once: true })),
  stop: async () => undefined,
  poll: async () => ({ status: 'stopped' }),
};

/** A spawner whose start fails after the process "wrote" a log with long lines. */
const failsWithLog: Spawner = {
  kind: 'fails-with-log',
  async start(req: SpawnRequest): Promise<StartResult> {
    await req.saveState({ v: 1 });
    throw new SpawnError('Server exited with status 1 before it answered HTTP', 'exited');
  },
  stop: async () => undefined,
  poll: async () => ({ status: 'stopped' }),
  logTail: async () =>
    ['[I 2026-12-03 10:00:00.000 ServerApp] starting', `Traceback: /opt/conda/lib/python3.12/site-packages/${'very_long_module_name/'.repeat(8)}app.py`, 'ModuleNotFoundError: No module named jupyter_server_but_with_a_very_long_name_indeed'].join('\n'),
};

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** Set GANYMEDE_SCREENSHOTS=dir to keep screenshots of each page. */
const SHOTS = process.env['GANYMEDE_SCREENSHOTS'];

/** The pages in headless Chromium, as a person uses them: log in, start, land in the server, stop. */
describe('pages in a real browser', { skip: existsSync(CHROMIUM) ? false : `NOTICE: ${CHROMIUM} not found; browser tests skipped` }, () => {
  let t: TestHub;
  let browser: Browser;

  before(async () => {
    // ada is an admin: admins log in with admin_password, never the shared one
    t = await startTestHub({
      admin_users: ['ada', PHONE_USER],
      allow_named_servers: true,
      auth: { kind: 'shared-password', shared_password: 'test-password', admin_password: 'ada-admin-password' },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
  });

  const shot = async (page: import('playwright-core').Page, name: string) => {
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  };

  it('logs in, starts the server through the pending page, reaches it through the proxy, stops it', async () => {
    const page = await browser.newPage();
    await page.goto(`${t.publicUrl}/`);
    await page.waitForURL(/\/hub\/login/);
    await shot(page, 'login');
    await page.fill('#username', 'ada');
    await page.fill('#password', 'wrong-password');
    await page.click('#login_submit');
    assert.match(await page.textContent('.error') ?? '', /Invalid username or password/);
    await shot(page, 'login-error');
    await page.fill('#password', 'ada-admin-password');
    await page.click('#login_submit');
    await page.waitForURL(/\/hub\/home/);
    assert.equal(await page.textContent('#server-status'), 'stopped');
    await shot(page, 'home');
    await page.click('#start');
    await page.waitForURL(/\/user\/ada\//, { timeout: 20_000 });
    assert.match(await page.textContent('body') ?? '', /"user":"ada"/);
    await page.goto(`${t.publicUrl}/hub/home`);
    assert.equal(await page.textContent('#server-status'), 'running');
    await shot(page, 'home-running');
    await page.goto(`${t.publicUrl}/hub/admin`);
    assert.match(await page.textContent('body') ?? '', /ada/);
    await shot(page, 'admin');
    await page.goto(`${t.publicUrl}/hub/token`);
    await page.fill('#note', 'from the browser');
    await page.click('button[type=submit]');
    assert.match(await page.textContent('#new-token') ?? '', /^[0-9a-f]{32}$/);
    await shot(page, 'token');
    await page.goto(`${t.publicUrl}/hub/home`);
    await page.click('#stop');
    await page.waitForURL(/\/hub\/home/);
    assert.equal(await page.textContent('#server-status'), 'stopped');
    // the server's address now leads to the hub's "not running" page (JupyterHub's 424)
    const res = await page.goto(`${t.publicUrl}/user/ada/`);
    assert.equal(res?.status(), 424);
    assert.match(await page.textContent('h1') ?? '', /Server not running/);
    await shot(page, 'not-running');
    await page.close();
  });

  it('fits a 390 px wide phone: header, home, token, admin, not-running and spawn-pending pages do not overflow', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    const fits = async (name: string) => {
      const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
      await shot(page, `phone-${name}`);
      assert.ok(scroll <= inner, `${name}: the page is ${scroll} px wide in a ${inner} px window`);
    };
    await page.goto(`${t.publicUrl}/hub/login`);
    await fits('login');
    await page.fill('#username', PHONE_USER);
    await page.fill('#password', 'ada-admin-password');
    await page.click('#login_submit');
    await page.waitForURL(/\/hub\/home/);
    // a running named server with a long name: the widest row of the home page
    const token = await t.tokenFor(PHONE_USER);
    const user = await ensureUser(t.hub.db, PHONE_USER);
    const named = 'analysis-of-the-apollo-eleven-landing';
    const made = await t.api('POST', `/users/${PHONE_USER}/servers/${named}`, { token });
    assert.ok(made.status === 201 || made.status === 202, `start: ${made.status}`);
    for (let i = 0; i < 100 && (await getServer(t.hub.db, user.id, named))?.ready !== 1; i++) await new Promise((r) => setTimeout(r, 100));
    await page.goto(`${t.publicUrl}/hub/home`);
    assert.ok(await page.isVisible(`[data-open="${named}"]`));
    await fits('home');
    // the token page with a token just created and long notes
    await page.goto(`${t.publicUrl}/hub/token`);
    for (const note of ['laptop', 'a-token-for-the-nightly-data-pipeline-that-syncs-results-to-the-archive']) {
      await page.fill('#note', note);
      await page.click('#request-token');
      await page.waitForSelector('#new-token');
    }
    await fits('token');
    await page.goto(`${t.publicUrl}/hub/admin`);
    await fits('admin');
    const stopped = await page.goto(`${t.publicUrl}/user/${PHONE_USER}/notebooks/a-rather-long-notebook-name-for-a-phone.ipynb`);
    assert.equal(stopped?.status(), 424);
    await fits('not-running');
    // spawn-pending while starting, then after a failure with its log
    const real = t.hub.spawners;
    try {
      t.hub.spawners = SpawnerBackends.single(neverStarts);
      await page.goto(`${t.publicUrl}/hub/spawn/${PHONE_USER}/phone`);
      await page.waitForURL(/spawn-pending/);
      await page.waitForSelector('#log li');
      await fits('spawn-pending');
      await page.goto('about:blank');
      await t.hub.servers.stop(user, 'phone');
      t.hub.spawners = SpawnerBackends.single(failsWithLog);
      await page.goto(`${t.publicUrl}/hub/spawn/${PHONE_USER}/phone`);
      await page.waitForSelector('#failed');
      assert.match((await page.textContent('#log-tail')) ?? '', /ModuleNotFoundError/);
      await fits('spawn-failed');
    } finally {
      t.hub.spawners = real;
    }
    await context.close();
  });
});
