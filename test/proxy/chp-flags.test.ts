/**
 * configurable-http-proxy flags beyond routing: `--custom-header`,
 * `--metrics-port/--metrics-ip`, `--redirect-port/--redirect-to`, `--ssl-ca`,
 * and the `host` CHP adds to route data with `--host-routing`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import type { Echo } from './helpers.js';
import { api, freePort, publicUrl, startTestProxy, startUpstream } from './helpers.js';

describe('--custom-header', () => {
  it('adds the headers to proxied requests and websocket upgrades, replacing the client’s', async () => {
    const up = await startUpstream('up');
    const wss = new WebSocketServer({ server: up.server });
    let upgradeHeaders: http.IncomingHttpHeaders = {};
    wss.on('connection', (ws, req) => {
      upgradeHeaders = req.headers;
      ws.close();
    });
    const proxy = await startTestProxy({ customHeaders: { 'X-Site': 'north', 'X-Replaced': 'ours' }, defaultTarget: up.url });
    try {
      const res = await fetch(publicUrl(proxy, '/x'), { headers: { 'X-Replaced': 'theirs' } });
      const echo = (await res.json()) as Echo;
      assert.equal(echo.headers['x-site'], 'north');
      assert.equal(echo.headers['x-replaced'], 'ours');
      const ws = new WebSocket(`ws://127.0.0.1:${proxy.publicPort}/ws`);
      await new Promise<void>((resolve, reject) => {
        ws.once('close', () => resolve());
        ws.once('error', reject);
      });
      assert.equal(upgradeHeaders['x-site'], 'north');
    } finally {
      await proxy.close();
      wss.close();
      await up.close();
    }
  });
});

describe('--metrics-port', () => {
  it('serves /metrics without a token on its own port, and nothing else', async () => {
    const proxy = await startTestProxy({ authToken: 'secret', metricsPort: 0, metricsIp: '127.0.0.1' });
    try {
      assert.ok(proxy.metricsPort !== undefined && proxy.metricsPort > 0);
      const res = await fetch(`http://127.0.0.1:${proxy.metricsPort}/metrics`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /ganymede_proxy_routes /);
      assert.equal((await fetch(`http://127.0.0.1:${proxy.metricsPort}/api/routes`)).status, 404);
      // The API port still wants the token.
      assert.equal((await api(proxy, 'GET', '/metrics')).status, 403);
    } finally {
      await proxy.close();
    }
  });
});

describe('host routing route data', () => {
  it('adds host (the first segment of the key) to a route posted with --host-routing, as CHP', async () => {
    const proxy = await startTestProxy({ hostRouting: true });
    try {
      await api(proxy, 'POST', '/api/routes/alice.hub.example.org/', { body: { target: 'http://127.0.0.1:1', user: 'alice' } });
      await api(proxy, 'POST', '/api/routes/', { body: { target: 'http://127.0.0.1:2' } });
      const routes = (await api(proxy, 'GET', '/api/routes')).json() as Record<string, Record<string, unknown>>;
      assert.equal(routes['/alice.hub.example.org']?.['host'], 'alice.hub.example.org');
      assert.equal(routes['/']?.['host'], undefined);
    } finally {
      await proxy.close();
    }
  });
});

describe('TLS extras', () => {
  let dir: string;
  const files = { root: '', inter: '', leaf: '', leafKey: '' };
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ganymede-chp-flags-'));
    const p = (name: string): string => path.join(dir, name);
    const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore', cwd: dir });
    writeFileSync(p('ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
    writeFileSync(p('leaf.ext'), 'subjectAltName=DNS:localhost\n');
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=Ganymede Test Root', '-days', '1', '-keyout', 'root.key', '-out', 'root.crt', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=Ganymede Test Intermediate', '-keyout', 'inter.key', '-out', 'inter.csr');
    ssl('x509', '-req', '-in', 'inter.csr', '-CA', 'root.crt', '-CAkey', 'root.key', '-CAcreateserial', '-days', '1', '-extfile', 'ca.ext', '-out', 'inter.crt');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'leaf.key', '-out', 'leaf.csr');
    ssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'inter.crt', '-CAkey', 'inter.key', '-CAcreateserial', '-days', '1', '-extfile', 'leaf.ext', '-out', 'leaf.crt');
    Object.assign(files, { root: p('root.crt'), inter: p('inter.crt'), leaf: p('leaf.crt'), leafKey: p('leaf.key') });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Whether a client trusting only the root accepts the proxy's certificate. */
  function verifies(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: [readFileSync(files.root)] }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
  }

  it('sends the --ssl-ca intermediates with the certificate', async () => {
    const without = await startTestProxy({ sslCert: files.leaf, sslKey: files.leafKey });
    const withCa = await startTestProxy({ sslCert: files.leaf, sslKey: files.leafKey, sslCa: files.inter });
    try {
      assert.equal(await verifies(without.publicPort), false, 'a client trusting the root needs the intermediate');
      assert.equal(await verifies(withCa.publicPort), true);
    } finally {
      await without.close();
      await withCa.close();
    }
  });

  it('redirects plain HTTP on --redirect-port to HTTPS, to --redirect-to or the public port', async () => {
    const proxy = await startTestProxy({ sslCert: files.leaf, sslKey: files.leafKey, redirectPort: 0 });
    const to443 = await startTestProxy({ sslCert: files.leaf, sslKey: files.leafKey, redirectPort: 0, redirectTo: 443 });
    try {
      const get = (port: number, p: string): Promise<{ status: number; location: string | undefined }> =>
        new Promise((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port, path: p, headers: { Host: 'hub.example.org:8000' } }, (res) => {
              res.resume();
              resolve({ status: res.statusCode ?? 0, location: res.headers.location });
            })
            .on('error', reject);
        });
      const a = await get(proxy.redirectPort!, '/user/alice/lab?x=1');
      assert.equal(a.status, 301);
      assert.equal(a.location, `https://hub.example.org:${proxy.publicPort}/user/alice/lab?x=1`);
      const b = await get(to443.redirectPort!, '/hub/');
      assert.equal(b.location, 'https://hub.example.org/hub/');
    } finally {
      await proxy.close();
      await to443.close();
    }
  });

  it('refuses --redirect-port without TLS', async () => {
    await assert.rejects(startTestProxy({ redirectPort: await freePort() }), /--redirect-port redirects to HTTPS and needs --ssl-cert and --ssl-key/);
  });
});
