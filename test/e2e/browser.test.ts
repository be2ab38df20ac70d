import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** Set GANYMEDE_SCREENSHOTS=dir to keep screenshots of each page. */
const SHOTS = process.env['GANYMEDE_SCREENSHOTS'];

/** The pages in headless Chromium, as a person uses them: log in, start, land in the server, stop. */
describe('pages in a real browser', { skip: existsSync(CHROMIUM) ? false : `NOTICE: ${CHROMIUM} not found; browser tests skipped` }, () => {
  let t: TestHub;
  let browser: Browser;

  before(async () => {
    // ada is an admin: admins log in with admin_password, never the shared one
    t = await startTestHub({ admin_users: ['ada'], auth: { kind: 'shared-password', shared_password: 'test-password', admin_password: 'ada-admin-password' } });
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
    // the server's address now leads to the hub's "not running" page
    const res = await page.goto(`${t.publicUrl}/user/ada/`);
    assert.equal(res?.status(), 503);
    assert.match(await page.textContent('h1') ?? '', /Server not running/);
    await shot(page, 'not-running');
    await page.close();
  });
});
