import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { insertUsers } from '../helpers/bulk-users.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** Set GANYMEDE_SCREENSHOTS=dir to keep screenshots of the page. */
const SHOTS = process.env['GANYMEDE_SCREENSHOTS'];
const USERS = 50_000;
/** A sanity guard only (a hung query fails the test); latency is measured by bench/admin.ts. */
const SEARCH_BOUND_MS = 5000;

/**
 * The admin page in headless Chromium with 50,000 users: an admin logs in,
 * searches, starts and stops a user's server, grants admin, adds a user,
 * creates a group and adds a member; the audit section lists each action.
 */
describe('the admin page at 50,000 users in a real browser', { skip: existsSync(CHROMIUM) ? false : `NOTICE: ${CHROMIUM} not found; browser tests skipped` }, () => {
  let t: TestHub;
  let browser: Browser;
  let page: Page;

  before(async () => {
    t = await startTestHub({
      admin_users: ['ada'],
      admin_access: true,
      auth: { kind: 'shared-password', shared_password: 'test-password', admin_password: 'ada-admin-password' },
    });
    await insertUsers(t.hub.db, { count: USERS, running: 1000 - 1 }); // user00000..: the first 999 "run" (rows only)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
    await page.goto(`${t.hubUrl}/hub/login`);
    await page.fill('#username', 'ada');
    await page.fill('#password', 'ada-admin-password');
    await page.click('#login_submit');
    await page.waitForURL(/\/hub\/home/);
  });
  after(async () => {
    await browser?.close();
    // the bulk "running" rows have no process: clear them so stop() does not try to stop 999 servers
    await t?.hub.db.updateTable('servers').set({ ready: 0, url: null }).where('url', '=', 'http://127.0.0.1:9').execute();
    await t?.stop();
  });

  const row = (name: string) => page.locator(`tr[data-user="${name}"]`);
  const search = async (q: string): Promise<number> => {
    await page.goto(`${t.hubUrl}/hub/admin`);
    await page.fill('#q', q);
    const started = performance.now();
    await Promise.all([page.waitForURL(/\/hub\/admin\?q=/), page.click('#search button[type=submit]')]);
    return performance.now() - started;
  };

  it('lists and counts every user, and a search answers', async () => {
    await page.goto(`${t.hubUrl}/hub/admin`);
    assert.match((await page.textContent('#user-count')) ?? '', new RegExp(`^${(USERS + 1).toLocaleString('en-US')} users`));
    assert.equal(await page.locator('#users tbody tr').count(), 50);
    const ms = await search('user4999');
    assert.ok(ms < SEARCH_BOUND_MS, `search took ${ms.toFixed(0)} ms`);
    assert.match((await page.textContent('#user-count')) ?? '', /^10 users matching/);
    assert.deepEqual(await page.locator('#users tbody tr td:first-child').allTextContents(), Array.from({ length: 10 }, (_, i) => `user4999${i}`));
    await Promise.all([page.waitForURL(/sort=-name/), page.click('th a:has-text("User")')]);
    assert.equal(await page.locator('#users tbody tr td:first-child').first().textContent(), 'user49999', 'the search kept, sorted by name descending');
    await page.goto(`${t.hubUrl}/hub/admin?sort=active`);
    assert.equal(await row('user00000').locator('.state').first().textContent(), 'running');
  });

  it("starts and stops a user's server", async () => {
    await search('user49990');
    await Promise.all([page.waitForURL(/\/hub\/admin\?q=user49990/), row('user49990').locator('button[data-op=start]').click()]);
    const deadline = Date.now() + 15_000;
    while (!((await row('user49990').locator('.state').allTextContents()).includes('running'))) {
      assert.ok(Date.now() < deadline, 'the server became ready');
      await new Promise((r) => setTimeout(r, 200));
      await page.reload();
    }
    assert.equal(await row('user49990').locator('a.open').count(), 1, 'an admin may open it');
    await Promise.all([page.waitForURL(/\/hub\/admin\?q=user49990/), row('user49990').locator('button[data-op=stop]').click()]);
    const until = Date.now() + 15_000;
    while ((await row('user49990').locator('.state').allTextContents()).includes('running')) {
      assert.ok(Date.now() < until, 'the server stopped');
      await new Promise((r) => setTimeout(r, 200));
      await page.reload();
    }
  });

  it('grants admin, adds a user, creates a group and adds a member; the audit section shows them', async () => {
    await search('user49991');
    await Promise.all([page.waitForURL(/q=user49991/), row('user49991').locator('button[data-op=grant-admin]').click()]);
    assert.equal(await row('user49991').locator('.admin-flag').textContent(), 'yes');
    await page.fill('#new-user', 'newbie');
    await Promise.all([page.waitForURL(/\/hub\/admin/), page.click('#add-user-button')]);
    await page.fill('#group-name', 'team');
    await Promise.all([page.waitForURL(/\/hub\/admin/), page.click('#group-create')]);
    await page.fill('#group-name', 'team');
    await page.fill('#group-user', 'newbie');
    await Promise.all([page.waitForURL(/\/hub\/admin/), page.click('#group-add')]);
    await search('newbie');
    assert.equal(await row('newbie').locator('td').nth(2).textContent(), 'team');
    assert.equal(await page.textContent('#group-list'), 'team (1)');
    const audit = (await page.textContent('#audit')) ?? '';
    for (const action of ['server.start', 'server.stop', 'user.admin.grant', 'user.create', 'group.create', 'group.members.add']) assert.ok(audit.includes(action), action);
    assert.match(audit, /group\.members\.addteam\{"users":\["newbie"\]\}/);
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      await page.goto(`${t.hubUrl}/hub/admin?sort=active`);
      await page.screenshot({ path: path.join(SHOTS, 'admin-50k.png'), fullPage: false });
      await page.screenshot({ path: path.join(SHOTS, 'admin-50k-full.png'), fullPage: true });
    }
  });
});
