/**
 * JupyterHub's `internal_ssl`: the hub starts CHP with `--api-ssl-*` (the API
 * over HTTPS, clients proving themselves with a certificate) and
 * `--client-ssl-*` (the proxy presenting a certificate to https targets and
 * checking theirs against the internal CA). A throw-away CA made with openssl
 * signs the certificates.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { parseProxyArgs } from '../../src/proxy/builtin/cli.js';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import { closeServer, publicUrl, startTestProxy, websocketRoundTrip } from './helpers.js';

const TOKEN = 'internal-ssl-token';

interface Pki {
  ca: string;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
  /** Signed by another CA: not trusted. */
  stranger: { cert: string; key: string };
}

/** A CA, a server certificate for localhost/127.0.0.1 and client certificates, in `dir`. */
function makePki(dir: string): Pki {
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ca = (name: string): void => ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-days', '1', '-keyout', `${name}.key`, '-out', `${name}.crt`);
  const leaf = (name: string, signer: string, ext: string): { cert: string; key: string } => {
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-days', '1', '-out', `${name}.crt`, '-extfile', `${name}.ext`);
    return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  };
  ca('internal-ca');
  ca('other-ca');
  return {
    ca: path.join(dir, 'internal-ca.crt'),
    server: leaf('localhost', 'internal-ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'),
    client: leaf('hub-client', 'internal-ca', 'extendedKeyUsage=clientAuth\n'),
    stranger: leaf('stranger', 'other-ca', 'extendedKeyUsage=clientAuth\n'),
  };
}

/** GET over HTTPS with the internal CA trusted and an optional client certificate: the status, or the error code. */
function httpsGet(url: string, pki: Pki, client?: { cert: string; key: string }): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.get(
      url,
      {
        ca: readFileSync(pki.ca),
        ...(client === undefined ? {} : { cert: readFileSync(client.cert), key: readFileSync(client.key) }),
        headers: { Authorization: `token ${TOKEN}` },
        timeout: 5000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

describe('internal_ssl (--api-ssl-*, --client-ssl-*)', () => {
  let dir: string;
  let pki: Pki;
  let target: https.Server;
  let targetUrl: string;
  let proxy: RunningProxy;
  let noClientCert: RunningProxy;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ganymede-internal-ssl-'));
    pki = makePki(dir);
    // A single-user server as JupyterHub runs it with internal_ssl: HTTPS, client certificates required.
    target = https.createServer(
      { cert: readFileSync(pki.server.cert), key: readFileSync(pki.server.key), ca: readFileSync(pki.ca), requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        req.resume();
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(`hello ${req.url ?? ''}`);
      },
    );
    new WebSocketServer({ server: target }).on('connection', (ws) => ws.on('message', (data) => ws.send(`echo ${String(data)}`)));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    targetUrl = `https://localhost:${(target.address() as AddressInfo).port}`;
    const args = parseProxyArgs([
      '--api-ssl-cert', pki.server.cert,
      '--api-ssl-key', pki.server.key,
      '--api-ssl-ca', pki.ca,
      '--api-ssl-request-cert',
      '--api-ssl-reject-unauthorized',
      '--client-ssl-cert', pki.client.cert,
      '--client-ssl-key', pki.client.key,
      '--client-ssl-ca', pki.ca,
      '--client-ssl-request-cert',
      '--client-ssl-reject-unauthorized',
    ]);
    proxy = await startTestProxy({ authToken: TOKEN, apiTls: args.apiTls, clientTls: args.clientTls });
    noClientCert = await startTestProxy({ clientTls: { caFile: pki.ca } });
    for (const p of [proxy, noClientCert]) p.table.set('/user/alice', { target: targetUrl });
  });

  after(async () => {
    await Promise.all([proxy.close(), noClientCert.close(), closeServer(target)]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('parses the flags the hub passes, and refuses half a pair', () => {
    assert.throws(() => parseProxyArgs(['--api-ssl-cert', 'c.pem']), /--api-ssl-cert and --api-ssl-key go together/);
    assert.throws(() => parseProxyArgs(['--client-ssl-key', 'k.pem']), /--client-ssl-cert and --client-ssl-key go together/);
    assert.throws(() => parseProxyArgs(['--api-ssl-request-cert']), /need --api-ssl-cert and --api-ssl-key/);
    const a = parseProxyArgs(['--client-ssl-ca', 'ca.pem']);
    assert.deepEqual(a.clientTls, { caFile: 'ca.pem' });
    assert.equal(a.apiTls, undefined);
  });

  it('serves the API over HTTPS to a client with a certificate of the internal CA only', async () => {
    const api = `https://localhost:${proxy.apiPort}/api/routes`;
    assert.equal(await httpsGet(api, pki, pki.client), 200);
    const without = await httpsGet(api, pki);
    assert.equal(typeof without, 'string', `a client without a certificate got HTTP ${without}`);
    const stranger = await httpsGet(api, pki, pki.stranger);
    assert.equal(typeof stranger, 'string', `a client with a certificate of another CA got HTTP ${stranger}`);
    // Plain HTTP on the API port gets no API.
    const plain = await fetch(`http://127.0.0.1:${proxy.apiPort}/api/routes`, { headers: { Authorization: `token ${TOKEN}` } }).then(
      (r) => r.status,
      () => 'refused',
    );
    assert.notEqual(plain, 200);
  });

  it('presents its client certificate to an https target and checks the target against the internal CA', async () => {
    const res = await fetch(publicUrl(proxy, '/user/alice/tree'));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hello /user/alice/tree');
    // Trusting the CA but without a certificate of its own: the target refuses the connection.
    const refused = await fetch(publicUrl(noClientCert, '/user/alice/tree'));
    assert.equal(refused.status, 503);
    await refused.text();
  });

  it('opens websockets to the https target with the client certificate', async () => {
    assert.equal(await websocketRoundTrip(proxy, '/user/alice/api/kernels/k/channels', 'over mTLS'), 'echo over mTLS');
  });
});
