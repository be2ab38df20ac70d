/**
 * Issue 9 §2: Jupyter's pages ask the hub for `/hub/logo` and browsers for
 * `/favicon.ico`; both are served (through the proxy too), and `logo_file`
 * replaces the logo as JupyterHub's option does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { FAVICON_ICO_BASE64 } from '../../src/web/favicon-ico.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('logo and favicon', () => {
  let t: TestHub;

  before(async () => {
    t = await startTestHub();
  });
  after(async () => t.stop());

  it('serves the logo at /hub/logo through the proxy, as an SVG that runs nothing', async () => {
    const res = await fetch(`${t.publicUrl}/hub/logo`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/svg+xml');
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const svg = await res.text();
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.doesNotMatch(svg, /<script|on\w+=/i);
  });

  it('serves a favicon at /favicon.ico (an unrouted path the proxy sends to the hub) and /hub/favicon.ico', async () => {
    for (const p of ['/favicon.ico', '/hub/favicon.ico']) {
      const res = await fetch(`${t.publicUrl}${p}`);
      assert.equal(res.status, 200, p);
      assert.equal(res.headers.get('content-type'), 'image/x-icon');
      const body = Buffer.from(await res.arrayBuffer());
      assert.deepEqual([...body.subarray(0, 4)], [0, 0, 1, 0], 'an ICO header');
      assert.equal(body.readUInt16LE(4), 1, 'one image');
      const offset = body.readUInt32LE(18);
      assert.deepEqual(body.subarray(offset, offset + 8), PNG_SIGNATURE, 'holding a PNG');
      assert.equal(body.readUInt32LE(14), body.length - offset);
    }
    const head = await fetch(`${t.publicUrl}/favicon.ico`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  it('every hub page links both', async () => {
    const page = await (await fetch(`${t.publicUrl}/hub/login`)).text();
    assert.match(page, /<link rel="icon" href="\/hub\/favicon.ico">/);
    assert.match(page, /<img src="\/hub\/logo" alt="">/);
  });
});

describe('logo_file', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-logo-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the configured image with its type', async () => {
    const file = path.join(dir, 'site-logo.png');
    const png = Buffer.from(FAVICON_ICO_BASE64, 'base64').subarray(22);
    writeFileSync(file, png);
    const t = await startTestHub({ logo_file: file });
    try {
      const res = await fetch(`${t.publicUrl}/hub/logo`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/png');
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), png);
    } finally {
      await t.stop();
    }
  });

  it('a missing or unknown logo_file falls back to the own logo (no broken image, no 5xx)', async () => {
    for (const file of [path.join(dir, 'missing.png'), path.join(dir, 'logo.exe')]) {
      const t = await startTestHub({ logo_file: file });
      try {
        const res = await fetch(`${t.publicUrl}/hub/logo`);
        assert.equal(res.status, 200, file);
        assert.equal(res.headers.get('content-type'), 'image/svg+xml');
        await res.body?.cancel();
      } finally {
        await t.stop();
      }
    }
  });
});
