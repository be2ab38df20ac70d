/**
 * Behind a TLS-terminating proxy chain (`X-Forwarded-Proto: https,http`, or
 * `Forwarded: proto=https`), the hub's own origin is https: an absolute
 * redirect URI on it (`https://<host>/user/olive/oauth_callback`) matches the
 * registered relative one, as cookies get Secure for the same request; the
 * http origin, another host and a claim from an untrusted peer do not.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { upsertClient } from '../../src/db/repos/oauth.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { cookieHeader, httpRequest, storeCookies } from '../helpers/raw-http.js';

const CLIENT = 'jupyterhub-user-olive';
const CALLBACK = '/user/olive/oauth_callback';

async function setUp(t: TestHub): Promise<string> {
  const olive = await ensureUser(t.hub.db, 'olive');
  await upsertClient(t.hub.db, { identifier: CLIENT, secret: 's3cret-s3cret', redirectUri: CALLBACK, description: 'test', allowedScopes: ['access:servers!server=olive/'], userId: olive.id, serverName: '' });
  const jar = new Map<string, string>();
  const res = await httpRequest(t.hubUrl, '/hub/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'olive', password: 'test-password' }).toString(),
  });
  assert.equal(res.status, 302, res.body);
  storeCookies(jar, res.headers['set-cookie']);
  return cookieHeader(jar);
}

function authorize(t: TestHub, cookie: string, redirectUri: string, headers: Record<string, string>) {
  const q = new URLSearchParams({ client_id: CLIENT, redirect_uri: redirectUri, response_type: 'code', state: 'st' });
  return httpRequest(t.hubUrl, `/hub/api/oauth2/authorize?${q}`, { headers: { Cookie: cookie, Host: 'hub.example', ...headers } });
}

describe('OAuth redirect URI on the hub origin behind TLS', () => {
  let t: TestHub;
  let cookie: string;
  before(async () => {
    t = await startTestHub();
    cookie = await setUp(t);
  });
  after(async () => t.stop());

  const claims: Record<string, string>[] = [{ 'X-Forwarded-Proto': 'https,http' }, { 'X-Forwarded-Proto': 'https' }, { Forwarded: 'for=192.0.2.1;proto=https' }];
  for (const headers of claims) {
    it(`${JSON.stringify(headers)}: https://hub.example${CALLBACK} is the registered URI; http:// and other hosts are not`, async () => {
      const ok = await authorize(t, cookie, `https://hub.example${CALLBACK}`, headers);
      assert.equal(ok.status, 302, ok.body.slice(0, 300));
      assert.ok(ok.headers.location?.startsWith(`https://hub.example${CALLBACK}?code=`), String(ok.headers.location));
      for (const other of [`http://hub.example${CALLBACK}`, `https://evil.example${CALLBACK}`]) {
        const res = await authorize(t, cookie, other, headers);
        assert.equal(res.status, 400, `${other}: ${res.status} ${String(res.headers.location)}`);
      }
    });
  }

  it('X-Forwarded-Proto: http,https (the browser spoke http): the https URI is not the origin', async () => {
    const res = await authorize(t, cookie, `https://hub.example${CALLBACK}`, { 'X-Forwarded-Proto': 'http,https' });
    assert.equal(res.status, 400, String(res.headers.location));
  });
});

describe('OAuth redirect URI: a TLS claim from a peer that is not a trusted proxy', () => {
  let t: TestHub;
  let cookie: string;
  before(async () => {
    t = await startTestHub({ trusted_downstream_ips: ['192.0.2.10'] });
    cookie = await setUp(t);
  });
  after(async () => t.stop());

  it('is not believed', async () => {
    const res = await authorize(t, cookie, `https://hub.example${CALLBACK}`, { 'X-Forwarded-Proto': 'https' });
    assert.equal(res.status, 400, String(res.headers.location));
    const plain = await authorize(t, cookie, `http://hub.example${CALLBACK}`, { 'X-Forwarded-Proto': 'https' });
    assert.equal(plain.status, 302, plain.body.slice(0, 300));
  });
});
