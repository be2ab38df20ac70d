/**
 * The OIDC login in a real browser (headless Chromium, playwright-core):
 * from the hub's front page through the proxy, the provider's login form
 * (npm oidc-provider on loopback), back to the hub, to the user's running
 * server, and logout at the hub and the provider.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

describe('OIDC login in a real browser', { skip: existsSync(CHROMIUM) ? false : `NOTICE: ${CHROMIUM} not found; browser tests skipped` }, () => {
  let op: TestOidcProvider;
  let t: TestHub;
  let browser: Browser;
  const savedKey = process.env['GANYMEDE_CRYPT_KEY'];

  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = 'cd'.repeat(32);
    op = await startOidcProvider({ redirectUris: [] });
    t = await startTestHub({
      auth: {
        kind: 'oidc',
        issuer: op.issuer,
        client_id: op.clientId,
        client_secret: op.clientSecret,
        allow_insecure_http: true,
        login_service: 'Keycloak',
        strip_group_path: true,
        allowed_groups: ['hpc-users'],
        enable_auth_state: true,
      },
    });
    // the callback as the browser sees the hub: through the proxy
    await op.addRedirectUris([`${t.publicUrl}/hub/oauth_callback`], [`${t.publicUrl}/hub/login`]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    await op?.stop();
    if (savedKey === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
    else process.env['GANYMEDE_CRYPT_KEY'] = savedKey;
  });

  it('logs in at the provider from the front page and reaches the running server', async () => {
    const page = await browser.newPage();
    await page.goto(`${t.publicUrl}/`);
    await page.waitForURL(/\/hub\/login/);
    assert.equal(await page.locator('input[type=password]').count(), 0, 'no password field at the hub');
    assert.match((await page.textContent('#login_service')) ?? '', /Sign in with Keycloak/);
    await page.click('#login_service');
    await page.waitForURL((u) => u.origin === op.issuer);
    await page.fill('#login', 'alice');
    await page.fill('#password', 'alice-pw');
    await page.click('#submit');
    await page.waitForURL((u) => u.href.startsWith(`${t.publicUrl}/hub/`) && !u.pathname.includes('oauth'));
    await page.goto(`${t.publicUrl}/hub/home`);
    assert.equal(await page.textContent('#server-status'), 'stopped');
    await page.click('#start');
    await page.waitForURL(/\/user\/alice\//, { timeout: 20_000 });
    assert.match((await page.textContent('body')) ?? '', /"user":"alice"/);
    // logout: the hub's session ends, then the provider's sign-out page
    await page.goto(`${t.publicUrl}/hub/logout`);
    await page.waitForURL((u) => u.origin === op.issuer);
    await page.goto(`${t.publicUrl}/hub/home`);
    await page.waitForURL(/\/hub\/login/);
    await page.close();
  });

  it('shows a refusal page for a user outside allowed_groups', async () => {
    const page = await browser.newPage();
    await page.goto(`${t.publicUrl}/hub/login`);
    await page.click('#login_service');
    await page.waitForURL((u) => u.origin === op.issuer);
    await page.fill('#login', 'carol');
    await page.fill('#password', 'carol-pw');
    await page.click('#submit');
    await page.waitForURL(/\/hub\/oauth_callback/);
    assert.match((await page.textContent('body')) ?? '', /not in a group allowed/);
    await page.close();
  });
});
