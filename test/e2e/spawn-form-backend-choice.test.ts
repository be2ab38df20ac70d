import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { namedBackends, optionsCheckingSpawner, trivialSpawner } from '../helpers/spawner-doubles.js';
import { eventually, serverRecord } from '../helpers/server-state.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/**
 * The spawn form with several back-ends, in a real browser: choosing a
 * back-end shows and enables its own fields only (the others are disabled,
 * so they are not posted), and the server starts on the chosen one with its
 * fields.
 */
describe('the back-end choice on the spawn form, in a browser', { skip: existsSync(CHROMIUM) ? false : `NOTICE: ${CHROMIUM} not found; browser tests skipped` }, () => {
  const local = trivialSpawner({ optionsForm: '<label>Note <input name="local_note" id="local_note"></label>' });
  const gpu = optionsCheckingSpawner('gpu_size');
  let t: TestHub;
  let browser: Browser;

  before(async () => {
    t = await startTestHub({}, { spawners: namedBackends({ local, gpu: { spawner: gpu, displayName: 'GPU cluster' } }) });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    await local.killAll();
    await gpu.killAll();
  });

  it('switching the radio switches which fields are enabled and posted', async () => {
    const page = await browser.newPage();
    await page.goto(`${t.publicUrl}/hub/login`);
    await page.fill('#username', 'flo');
    await page.fill('#password', 'test-password');
    await page.click('#login_submit');
    await page.waitForURL(/\/hub\//);
    await page.goto(`${t.publicUrl}/hub/spawn`);
    assert.equal(await page.isChecked('input[name=backend][value=local]'), true);
    assert.equal(await page.isVisible('#local_note'), true);
    assert.equal(await page.isVisible('select[name=gpu_size]'), false);
    assert.equal(await page.isDisabled('select[name=gpu_size]'), true);
    await page.fill('#local_note', 'not for the gpu back-end');
    await page.check('input[name=backend][value=gpu]');
    assert.equal(await page.isVisible('select[name=gpu_size]'), true);
    assert.equal(await page.isDisabled('select[name=gpu_size]'), false);
    assert.equal(await page.isDisabled('#local_note'), true);
    await page.selectOption('select[name=gpu_size]', 'large');
    await page.click('button[type=submit]');
    await eventually(async () => (await serverRecord(t, 'flo')).row?.ready === 1, 10_000, 'the spawn from the form');
    assert.equal((await serverRecord(t, 'flo')).row!.spawner, 'gpu');
    // the disabled local field was not posted: the gpu back-end's checks would have refused it
    assert.deepEqual(gpu.calls.at(-1)!.request.userOptions, { size: 'large' });
    await page.close();
  });
});
