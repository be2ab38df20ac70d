/**
 * Targets that speak HTTPS (a route whose target is `https://…`): the
 * certificate is checked unless `--insecure`, connections are kept alive and
 * reused, and websockets upgrade over TLS.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import { closeServer, publicUrl, startTestProxy, websocketRoundTrip } from './helpers.js';

describe('https targets', () => {
  let dir: string;
  let target: https.Server;
  let targetUrl: string;
  let tlsConnections = 0;
  let checked: RunningProxy;
  let insecure: RunningProxy;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ganymede-https-target-'));
    const [cert, key] = [path.join(dir, 't.crt'), path.join(dir, 't.key')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    target = https.createServer({ cert: readFileSync(cert), key: readFileSync(key), keepAliveTimeout: 30_000 }, (req, res) => {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`tls ${req.url ?? ''}`);
    });
    target.on('secureConnection', () => tlsConnections++);
    const wss = new WebSocketServer({ server: target });
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`echo ${String(data)}`)));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    targetUrl = `https://localhost:${(target.address() as AddressInfo).port}`;
    checked = await startTestProxy();
    insecure = await startTestProxy({ insecure: true });
    for (const p of [checked, insecure]) p.table.set('/user/tls', { target: targetUrl });
  });

  after(async () => {
    await Promise.all([checked.close(), insecure.close(), closeServer(target)]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a target whose certificate is not trusted (503), unless --insecure', async () => {
    const refused = await fetch(publicUrl(checked, '/user/tls/x'));
    assert.equal(refused.status, 503);
    await refused.text();
    const ok = await fetch(publicUrl(insecure, '/user/tls/x'));
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 'tls /user/tls/x');
  });

  it('keeps the TLS connection to the target alive across requests', async () => {
    const before = tlsConnections;
    for (let i = 0; i < 5; i++) {
      const res = await fetch(publicUrl(insecure, `/user/tls/n${i}`));
      assert.equal(await res.text(), `tls /user/tls/n${i}`);
    }
    assert.ok(tlsConnections - before <= 1, `${tlsConnections - before} new TLS connections for 5 sequential requests`);
  });

  it('upgrades a websocket over TLS to the target', async () => {
    assert.equal(await websocketRoundTrip(insecure, '/user/tls/ws', 'over tls'), 'echo over tls');
  });
});
