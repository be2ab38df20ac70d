/**
 * ServiceAccountTokens: the client-credentials grant against a small token
 * endpoint on 127.0.0.1 (request shape, cache, shared request, refresh near
 * expiry, secret file, refusals, time limit, redirect), and once against the
 * real npm `oidc-provider` with a client-credentials client.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Provider } from 'oidc-provider';
import { ServiceAccountTokens, type ServiceAccountOptions } from '../../src/spawners/firecrest/service-account.js';
import { FirecrestError } from '../../src/spawners/firecrest/firecrest-api.js';
import { capturedLogger, closedPort, sendJson, startHttpRecorder, type HttpRecorder, type RecorderHandler } from '../helpers/http-recorder.js';

/** Every kind of character RFC 6749 allows in a secret (VSCHAR) that form encoding changes. */
const SECRET = 'p@ss w+rd/&=:%~-s3cret';
const CLIENT_ID = 'hub:poller';
const { log, lines } = capturedLogger();
const servers: HttpRecorder[] = [];
const dir = mkdtempSync(join(tmpdir(), 'ganymede-sa-'));
const issued: string[] = [];

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
  for (const line of lines) {
    assert.ok(!line.includes(SECRET), `the secret is in a log line: ${line}`);
    for (const t of issued) assert.ok(!line.includes(t), `a token is in a log line: ${line}`);
    assert.doesNotMatch(line, /"authorization"|basic [A-Za-z0-9+/=]{8,}/i, `a log line holds the Authorization header: ${line}`);
  }
});

/** A token endpoint answering request n with `answer(n)` (default: a fresh token for 3600 s). */
async function tokenEndpoint(handler?: RecorderHandler): Promise<HttpRecorder> {
  const s = await startHttpRecorder(
    handler ??
      ((_req, res, n) => {
        const token = `tok-${n}-${Math.random().toString(36).slice(2)}`;
        issued.push(token);
        sendJson(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600 });
      }),
  );
  servers.push(s);
  return s;
}

function tokens(url: string, opts: Partial<ServiceAccountOptions> = {}): ServiceAccountTokens {
  return new ServiceAccountTokens({ clientId: CLIENT_ID, clientSecret: SECRET, tokenUrl: `${url}/realms/x/token`, fetch: globalThis.fetch, timeoutMs: 2000, log, ...opts });
}

async function failure(work: Promise<unknown>): Promise<FirecrestError> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof FirecrestError, `a FirecrestError, not ${String(err)}`);
    assert.ok(!err.message.includes(SECRET), 'the secret is in the message');
    return err;
  }
  assert.fail('a token was obtained');
}

describe('ServiceAccountTokens', () => {
  it('asks with grant_type=client_credentials, scope and HTTP Basic of the form-encoded id and secret (RFC 6749 §2.3.1, §4.4)', async () => {
    const s = await tokenEndpoint();
    const token = await tokens(s.url, { scope: 'firecrest openid' }).token();
    assert.match(token, /^tok-0-/);
    assert.equal(s.requests.length, 1);
    const r = s.requests[0]!;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/realms/x/token');
    assert.match(String(r.headers['content-type']), /^application\/x-www-form-urlencoded/);
    const basic = Buffer.from(String(r.headers.authorization).replace(/^Basic /, ''), 'base64').toString('utf8');
    const [id, secret] = basic.split(':').map((p) => decodeURIComponent(p.replaceAll('+', ' ')));
    assert.equal(id, CLIENT_ID);
    assert.equal(secret, SECRET);
    assert.ok(!basic.slice(basic.indexOf(':') + 1).includes(':'), 'the secret\'s colon is encoded');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(r.body)), { grant_type: 'client_credentials', scope: 'firecrest openid' });
    assert.ok(!r.body.includes('secret'), 'the secret is not in the body');
  });

  it('keeps the token while more than 60 s are left, and asks again after', async () => {
    const s = await tokenEndpoint((_req, res, n) => sendJson(res, 200, { access_token: `t${n}`, token_type: 'bearer', expires_in: 120 }));
    let now = 1_000_000;
    const sa = tokens(s.url, { now: () => now });
    assert.equal(await sa.token(), 't0');
    now += 59_000;
    assert.equal(await sa.token(), 't0');
    now += 2_000;
    assert.equal(await sa.token(), 't1');
    assert.equal(s.requests.length, 2);
    sa.forget();
    assert.equal(await sa.token(), 't2');
  });

  it('a token that lives 60 s or less is never reused; a string expires_in is read', async () => {
    const s = await tokenEndpoint((_req, res, n) => sendJson(res, 200, { access_token: `t${n}`, expires_in: n === 0 ? 60 : '3600' }));
    const sa = tokens(s.url);
    assert.equal(await sa.token(), 't0');
    assert.equal(await sa.token(), 't1');
    assert.equal(await sa.token(), 't1');
    assert.deepEqual(s.requests.length, 2);
  });

  it('callers at the same time share one request', async () => {
    const s = await tokenEndpoint((_req, res, n) => setTimeout(() => sendJson(res, 200, { access_token: `t${n}`, expires_in: 3600 }), 150));
    const sa = tokens(s.url);
    const got = await Promise.all(Array.from({ length: 8 }, () => sa.token()));
    assert.deepEqual(new Set(got), new Set(['t0']));
    assert.equal(s.requests.length, 1);
  });

  it('a failed request is not kept: the next caller asks again', async () => {
    const s = await tokenEndpoint((_req, res, n) => (n === 0 ? sendJson(res, 503, {}) : sendJson(res, 200, { access_token: 'ok', expires_in: 3600 })));
    const sa = tokens(s.url);
    const e = await failure(sa.token());
    assert.equal(e.status, 503);
    assert.equal(await sa.token(), 'ok');
  });

  it('reads the secret from client_secret_file (trimmed) at each grant; a missing or empty file is named, not shown', async () => {
    const s = await tokenEndpoint((_req, res, n) => sendJson(res, 200, { access_token: `t${n}`, expires_in: 30 }));
    const file = join(dir, 'secret');
    writeFileSync(file, `  ${SECRET}\n\n`);
    const sa = tokens(s.url, { clientSecret: '', clientSecretFile: file });
    await sa.token();
    writeFileSync(file, 'rotated\n');
    await sa.token();
    const secrets = s.requests.map((r) => new URLSearchParams(`v=${Buffer.from(String(r.headers.authorization).slice(6), 'base64').toString().split(':')[1]}`).get('v'));
    assert.deepEqual(secrets, [SECRET, 'rotated']);

    const missing = await failure(tokens(s.url, { clientSecret: '', clientSecretFile: join(dir, 'nope') }).token());
    assert.equal(missing.status, 0);
    assert.equal(missing.message, `the service account's client secret file ${join(dir, 'nope')} cannot be read (ENOENT)`);
    writeFileSync(join(dir, 'empty'), ' \n');
    const empty = await failure(tokens(s.url, { clientSecret: '', clientSecretFile: join(dir, 'empty') }).token());
    assert.equal(empty.message, `the service account's client secret file ${join(dir, 'empty')} is empty`);
    assert.equal(s.requests.length, 2, 'no request without a secret');
    assert.throws(() => tokens(s.url, { clientSecret: '' }), /client_secret or client_secret_file/);
    assert.throws(() => tokens(s.url, { tokenUrl: 'file:///etc/passwd' }), /http or https/);
  });

  it("a refused grant names the token URL and the provider's error, never the secret", async () => {
    const s = await tokenEndpoint((_req, res) => sendJson(res, 401, { error: 'invalid_client', error_description: `client authentication failed for ${SECRET}\n\u001b[2J` }));
    const e = await failure(tokens(s.url).token());
    assert.equal(e.status, 401);
    assert.equal(e.errorType, 'invalid_client');
    assert.equal(e.message, `The identity provider at ${s.url}/realms/x/token refused the service account's token request: invalid_client (client authentication failed for [redacted] [2J)`);
    assert.ok(!e.detail?.includes(SECRET));
  });

  it('unusable answers are refused as 502: no access_token, not bearer, not JSON, bad expires_in', async () => {
    const answers = [{ token_type: 'Bearer' }, { access_token: 'a b', expires_in: 10 }, { access_token: 'x', token_type: 'mac' }, 'not json', { access_token: 'x', expires_in: -5 }];
    const s = await tokenEndpoint((_req, res, n) => {
      const a = answers[n];
      if (typeof a === 'string') res.end(a);
      else sendJson(res, 200, a);
    });
    const sa = tokens(s.url);
    for (const says of [/no usable access_token/, /no usable access_token/, /not a bearer token/, /not a JSON object/, /expires_in/]) {
      const e = await failure(sa.token());
      assert.equal(e.status, 502);
      assert.match(e.message, says);
    }
  });

  it('a provider that hangs or is not there: status 0 and a sentence', async () => {
    const hang = await tokenEndpoint(() => undefined);
    const e1 = await failure(tokens(hang.url, { timeoutMs: 200 }).token());
    assert.equal(e1.status, 0);
    assert.equal(e1.message, `The identity provider at ${hang.url}/realms/x/token did not answer within 0.2 s`);
    const port = await closedPort();
    const e2 = await failure(tokens(`http://127.0.0.1:${port}`).token());
    assert.equal(e2.status, 0);
    assert.equal(e2.message, `The identity provider at http://127.0.0.1:${port}/realms/x/token could not be reached: connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('a redirect is not followed (it would carry the secret elsewhere)', async () => {
    const elsewhere = await tokenEndpoint();
    const s = await tokenEndpoint((_req, res) => {
      res.writeHead(307, { location: `${elsewhere.url}/token` });
      res.end();
    });
    const e = await failure(tokens(s.url).token());
    assert.equal(e.status, 307);
    assert.match(e.message, /redirect/);
    assert.equal(elsewhere.requests.length, 0);
  });
});

describe('ServiceAccountTokens against the real oidc-provider', () => {
  it('gets an access token with the client-credentials grant (client_secret_basic)', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const provider = new Provider(issuer, {
      clients: [{ client_id: CLIENT_ID, client_secret: SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' }],
      features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
      clientBasedCORS: () => false,
    });
    server.on('request', provider.callback());
    try {
      const sa = tokens(issuer, { tokenUrl: `${issuer}/token` });
      const token = await sa.token();
      issued.push(token);
      assert.ok(token.length >= 20, token);
      assert.equal(await sa.token(), token, 'cached');
      const refused = await failure(tokens(issuer, { tokenUrl: `${issuer}/token`, clientSecret: 'wrong' }).token());
      assert.equal(refused.status, 401);
      assert.match(refused.message, /refused the service account's token request: invalid_client/);
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  });
});
