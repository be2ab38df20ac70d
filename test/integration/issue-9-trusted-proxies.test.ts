/**
 * Issue 9, item 1.7: the hub believes `X-Forwarded-*` only from its
 * configured proxies (`trusted_downstream_ips`), and a client-forged prefix of
 * `X-Forwarded-For/Proto/Host` is harmless behind the trusted proxy.
 *
 * The hub here is the real one (buildHub) with one probe route added before it
 * listens, answering what Fastify made of the request: `req.ip`,
 * `req.protocol` (the cookies' Secure decision) and `req.host`. Clients
 * connect from 127.0.0.2 (loopback, but not the trusted 127.0.0.1) to act as
 * an outside address; the in-process proxy connects from 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { buildHub, type BuiltHub } from '../../src/hub/app.js';
import { trustedProxies } from '../../src/hub/trusted-proxies.js';
import { ChpClient } from '../../src/proxy/chp-client.js';
import { startProxy, type RunningProxy } from '../../src/proxy/builtin/server.js';
import { freePort } from '../../src/lib/free-port.js';
import { testHubConfig } from '../helpers/hub.js';

interface Seen {
  ip: string;
  protocol: string;
  host: string;
}

const FORGED = { 'X-Forwarded-For': '6.6.6.6', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example' };

/** GETs `url` from `localAddress` with `headers`; returns what the hub's probe saw. */
function probe(url: string, localAddress: string, headers: Record<string, string>): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text) as Seen) : reject(new Error(`HTTP ${res.statusCode}: ${text}`))));
    });
    req.on('error', reject);
  });
}

describe('issue 9: trusted_downstream_ips', () => {
  let built: BuiltHub;
  let proxy: RunningProxy;
  let dataDir: string;
  let hubUrl: string;
  let publicUrl: string;

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-test-'));
    const hubPort = await freePort('127.0.0.1');
    const log = pino({ level: 'silent' });
    proxy = await startProxy({ ip: '127.0.0.1', port: 0, apiIp: '127.0.0.1', apiPort: 0, authToken: 't', defaultTarget: `http://127.0.0.1:${hubPort}`, logger: log });
    const config = testHubConfig(dataDir, hubPort, { trusted_downstream_ips: ['127.0.0.1'] });
    built = await buildHub({ config, log, proxy: new ChpClient({ apiUrl: `http://127.0.0.1:${proxy.apiPort}`, authToken: 't' }) });
    built.app.get('/hub/test-probe', async (req) => ({ ip: req.ip, protocol: req.protocol, host: req.host }));
    await built.app.listen({ host: '127.0.0.1', port: hubPort });
    hubUrl = `http://127.0.0.1:${hubPort}/hub/test-probe`;
    publicUrl = `http://127.0.0.1:${proxy.publicPort}/hub/test-probe`;
  });
  after(async () => {
    await built.close();
    await proxy.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('straight from an address not listed, forged X-Forwarded-For/Proto/Host are not believed', async () => {
    const seen = await probe(hubUrl, '127.0.0.2', FORGED);
    assert.deepEqual(seen, { ip: '127.0.0.2', protocol: 'http', host: new URL(hubUrl).host });
  });

  it('through the trusted proxy, a client-forged prefix is not believed: the client is the address the proxy saw', async () => {
    const seen = await probe(publicUrl, '127.0.0.2', FORGED);
    assert.deepEqual(seen, { ip: '127.0.0.2', protocol: 'http', host: new URL(publicUrl).host });
  });

  it('from a trusted peer, its X-Forwarded-* headers are believed', async () => {
    const seen = await probe(hubUrl, '127.0.0.1', { 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'hub.example.org' });
    assert.deepEqual(seen, { ip: '203.0.113.7', protocol: 'https', host: 'hub.example.org' });
  });

  it('through the trusted proxy, the client address is the one the proxy saw', async () => {
    const seen = await probe(publicUrl, '127.0.0.1', {});
    assert.equal(seen.ip, '127.0.0.1');
    assert.equal(seen.protocol, 'http');
  });

  it('defaults to loopback, and refuses an entry that is not an IP address or CIDR range', () => {
    assert.deepEqual(validateConfig({}).trusted_downstream_ips, ['127.0.0.1/8', '::1/128']);
    assert.deepEqual(trustedProxies(['10.0.0.5', '10.0.0.0/8', 'fd00::/8', '::1']), ['10.0.0.5', '10.0.0.0/8', 'fd00::/8', '::1']);
    for (const bad of ['*', 'proxy.example.org', '10.0.0.0/33', '10.0.0.0/', 'fd00::/129', 'true']) {
      assert.throws(() => trustedProxies([bad]), new RegExp(`trusted_downstream_ips: '${bad.replace(/[*.]/g, '\\$&')}'`));
    }
  });
});
