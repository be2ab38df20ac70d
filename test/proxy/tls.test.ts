import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import type { Echo, Upstream } from './helpers.js';
import { api, sleep, startTestProxy, startUpstream, waitFor } from './helpers.js';

function makeCert(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert], {
    stdio: 'ignore',
  });
  return { cert, key };
}

/** SHA-256 fingerprint of the certificate the server presents. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fp);
    });
    socket.on('error', reject);
  });
}

function fileFingerprint(file: string): string {
  return new X509Certificate(readFileSync(file)).fingerprint256;
}

describe('TLS termination', () => {
  let dir: string;
  let one: { cert: string; key: string };
  let two: { cert: string; key: string };
  let live: { cert: string; key: string };
  let up: Upstream;
  let proxy: RunningProxy;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ganymede-tls-'));
    one = makeCert(dir, 'one');
    two = makeCert(dir, 'two');
    live = { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') };
    copyFileSync(one.cert, live.cert);
    copyFileSync(one.key, live.key);
    up = await startUpstream('up');
    proxy = await startTestProxy({ sslCert: live.cert, sslKey: live.key, tlsReloadIntervalMs: 100, defaultTarget: up.url });
  });
  after(async () => {
    await proxy.close();
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the public port over HTTPS and says so upstream', async () => {
    assert.equal(proxy.secure, true);
    assert.equal(await servedFingerprint(proxy.publicPort), fileFingerprint(one.cert));
    const echo = await new Promise<Echo>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port: proxy.publicPort, path: '/x', rejectUnauthorized: false, headers: { Host: 'hub' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(JSON.parse(text) as Echo));
      });
      req.on('error', reject);
    });
    assert.equal(echo.headers['x-forwarded-proto'], 'https');
    assert.equal(echo.headers['x-forwarded-port'], '443');
    await api(proxy, 'GET', '/api/routes'); // the API stays plain HTTP
  });

  it('reloads the certificate when the files change', async () => {
    copyFileSync(two.key, live.key);
    copyFileSync(two.cert, live.cert);
    const want = fileFingerprint(two.cert);
    await waitFor(async () => (await servedFingerprint(proxy.publicPort)) === want, 5000, 'the new certificate');
  });

  it('keeps the old pair when the new one is broken', async () => {
    const want = fileFingerprint(two.cert);
    writeFileSync(live.cert, '-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----\n');
    await sleep(400);
    assert.equal(await servedFingerprint(proxy.publicPort), want);
    // A cert that does not match the key is refused too.
    copyFileSync(one.cert, live.cert);
    await sleep(400);
    assert.equal(await servedFingerprint(proxy.publicPort), want);
    // Fixing the files is picked up.
    copyFileSync(one.key, live.key);
    await waitFor(async () => (await servedFingerprint(proxy.publicPort)) === fileFingerprint(one.cert), 5000, 'the fixed pair');
  });
});

describe('TLS start-up', () => {
  it('refuses a certificate without a key, or an unreadable pair', async () => {
    await assert.rejects(startTestProxy({ sslCert: '/nonexistent.crt' }), /--ssl-key/);
    await assert.rejects(startTestProxy({ sslCert: '/nonexistent.crt', sslKey: '/nonexistent.key' }), /ENOENT/);
  });
});
