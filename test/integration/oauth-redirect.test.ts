import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { loginCookieHeader } from '../helpers/browser.js';
import { createCode, getClient, takeCode, upsertClient } from '../../src/db/repos/oauth.js';
import { createToken } from '../../src/db/repos/tokens.js';
import { ensureUser } from '../../src/db/repos/users.js';

/** Logs in through the login form and returns the cookies to send. */
async function login(t: TestHub, name: string): Promise<string> {
  return loginCookieHeader(t.hubUrl, name, 'test-password');
}

const CLIENT = 'jupyterhub-user-olive';
const SECRET = 'olive-client-secret';
const CALLBACK = '/user/olive/oauth_callback';
const APP = 'app-client';
const APP_CALLBACK = 'https://app.example/oauth/cb';

/** Issue 9, 1.6: codes go to the registered redirect URI only, and the token endpoint never 500s. */
describe('OAuth redirect URIs and client credentials', () => {
  let t: TestHub;
  let cookie: string;
  let origin: string;

  const authorize = (redirectUri: string, client = CLIENT, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${t.hubUrl}/hub/api/oauth2/authorize?${new URLSearchParams({ client_id: client, redirect_uri: redirectUri, response_type: 'code', state: 'st' })}`, {
      redirect: 'manual',
      headers: { Cookie: cookie, ...headers },
    });
  const codes = async (): Promise<number> => (await t.hub.db.selectFrom('oauth_codes').select('id').execute()).length;
  const tokenRequest = (body: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${t.hubUrl}/hub/api/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(body).toString(),
    });

  before(async () => {
    t = await startTestHub();
    origin = t.hubUrl;
    const olive = await ensureUser(t.hub.db, 'olive');
    await upsertClient(t.hub.db, { identifier: CLIENT, secret: SECRET, redirectUri: CALLBACK, description: 'test', allowedScopes: ['access:servers!server=olive/'], userId: olive.id, serverName: '' });
    await upsertClient(t.hub.db, { identifier: APP, secret: SECRET, redirectUri: APP_CALLBACK, description: 'app', allowedScopes: [], userId: null, serverName: null });
    cookie = await login(t, 'olive');
  });
  after(async () => t.stop());

  it('sends the code to the registered path, or the same path on the hub\'s own origin', async () => {
    const rel = await authorize(CALLBACK);
    assert.equal(rel.status, 302);
    const loc = rel.headers.get('location')!;
    assert.match(loc, /^\/user\/olive\/oauth_callback\?code=[0-9a-f]+&state=st$/);
    const abs = await authorize(`${origin}${CALLBACK}`);
    assert.equal(abs.status, 302);
    assert.ok(abs.headers.get('location')!.startsWith(`${origin}${CALLBACK}?code=`));
    const app = await authorize(APP_CALLBACK, APP);
    assert.equal(app.status, 302);
    assert.ok(app.headers.get('location')!.startsWith(`${APP_CALLBACK}?code=`));
  });

  it('refuses every other redirect URI, without issuing a code', async () => {
    const host = new URL(origin).host;
    const bad = [
      `https://evil.example${CALLBACK}`,
      `http://evil.example${CALLBACK}`,
      `https://${host}${CALLBACK}`, // another scheme than the hub's
      `http://${host}.evil.example${CALLBACK}`,
      `http://${host}@evil.example${CALLBACK}`,
      `http://evil.example@${host}${CALLBACK}`,
      `http://user:pass@${host}${CALLBACK}`,
      `//evil.example${CALLBACK}`,
      `///evil.example${CALLBACK}`,
      `/\\evil.example${CALLBACK}`,
      `\\\\evil.example${CALLBACK}`,
      `/%2F/evil.example${CALLBACK}`,
      `/%5Cevil.example${CALLBACK}`,
      `javascript:alert(document.cookie)//${CALLBACK}`,
      `javascript:${CALLBACK}`,
      `JaVaScRiPt:${CALLBACK}`,
      `data:text/html,<script>alert(1)</script>${CALLBACK}`,
      `http:${CALLBACK}`,
      `${CALLBACK}/../../../evil`,
      `${CALLBACK}/`,
      `${CALLBACK}?x=1`,
      `${CALLBACK}#frag`,
      `${CALLBACK}%00`,
      `${CALLBACK}\t`,
      ` ${CALLBACK}`,
      '/user/olive/%6fauth_callback',
      '/User/olive/oauth_callback',
      '/user/olive/oauth_callback'.replace('/', '%2F'),
      '/user/bob/oauth_callback',
      `${origin}/user/olive/../olive/oauth_callback`,
      `${origin.replace('127.0.0.1', '127.1')}${CALLBACK}`,
      '',
    ];
    const before_ = await codes();
    for (const uri of bad) {
      const r = await authorize(uri);
      assert.equal(r.status, 400, uri);
      assert.equal(r.headers.get('location'), null, uri);
      const body = (await r.json()) as { status: number; message: string };
      assert.equal(body.status, 400);
      assert.match(body.message, /redirect_uri/);
    }
    for (const uri of ['https://app.example/oauth/cb/', 'https://APP.example/oauth/cb', 'https://app.example:443/oauth/cb', 'http://app.example/oauth/cb', 'https://app.example/oauth/cb/../cb', 'https://evil@app.example/oauth/cb', '/oauth/cb', 'https://app.example.evil/oauth/cb']) {
      const r = await authorize(uri, APP);
      assert.equal(r.status, 400, uri);
    }
    assert.equal(await codes(), before_);
  });

  it('the token endpoint wants the exact redirect_uri of the authorization request', async () => {
    const code = new URL((await authorize(CALLBACK)).headers.get('location')!, origin).searchParams.get('code')!;
    for (const redirect of [`${origin}${CALLBACK}`, `https://evil.example${CALLBACK}`, `${CALLBACK}/`, 'javascript:alert(1)']) {
      // a wrong redirect_uri burns the code (it was taken), so fetch a new one each time
      const c = new URL((await authorize(CALLBACK)).headers.get('location')!, origin).searchParams.get('code')!;
      const r = await tokenRequest({ client_id: CLIENT, client_secret: SECRET, grant_type: 'authorization_code', code: c, redirect_uri: redirect });
      assert.equal(r.status, 400, redirect);
      assert.equal(((await r.json()) as { error: string }).error, 'invalid_grant');
    }
    const ok = await tokenRequest({ client_id: CLIENT, client_secret: SECRET, grant_type: 'authorization_code', code, redirect_uri: CALLBACK });
    assert.equal(ok.status, 200);
    assert.ok(((await ok.json()) as { access_token: string }).access_token);
  });

  it('a code is redeemed once, even by concurrent requests (no second token from a replayed code)', async () => {
    const olive = await ensureUser(t.hub.db, 'olive');
    // the store: of redemptions racing each other, exactly one gets the code
    const raw = await createCode(t.hub.db, { clientId: CLIENT, userId: olive.id, redirectUri: CALLBACK, scopes: [], sessionId: null });
    const taken = await Promise.all([1, 2, 3, 4, 5].map(() => takeCode(t.hub.db, raw)));
    assert.equal(taken.filter((r) => r !== undefined).length, 1);
    // the endpoint: one access token, the other requests invalid_grant
    const code = new URL((await authorize(CALLBACK)).headers.get('location')!, origin).searchParams.get('code')!;
    const before = (await t.hub.db.selectFrom('api_tokens').select('id').where('kind', '=', 'oauth').execute()).length;
    const answers = await Promise.all(
      [1, 2, 3, 4, 5].map(() => tokenRequest({ client_id: CLIENT, client_secret: SECRET, grant_type: 'authorization_code', code, redirect_uri: CALLBACK })),
    );
    assert.deepEqual(answers.map((r) => r.status).sort(), [200, 400, 400, 400, 400]);
    const after = (await t.hub.db.selectFrom('api_tokens').select('id').where('kind', '=', 'oauth').execute()).length;
    assert.equal(after - before, 1);
  });

  it('PKCE: a code issued with a code_challenge needs its code_verifier; a verifier for a code without one is refused', async () => {
    const verifier = randomBytes(48).toString('base64url');
    const s256 = createHash('sha256').update(verifier).digest('base64url');
    const codeFor = async (extra: Record<string, string>): Promise<Response> =>
      fetch(`${t.hubUrl}/hub/api/oauth2/authorize?${new URLSearchParams({ client_id: CLIENT, redirect_uri: CALLBACK, response_type: 'code', ...extra })}`, { redirect: 'manual', headers: { Cookie: cookie } });
    const code = async (extra: Record<string, string>): Promise<string> => new URL((await codeFor(extra)).headers.get('location')!, origin).searchParams.get('code')!;
    const exchange = (c: string, extra: Record<string, string> = {}): Promise<Response> =>
      tokenRequest({ client_id: CLIENT, client_secret: SECRET, grant_type: 'authorization_code', code: c, redirect_uri: CALLBACK, ...extra });
    // S256 and plain work with the right verifier
    assert.equal((await exchange(await code({ code_challenge: s256, code_challenge_method: 'S256' }), { code_verifier: verifier })).status, 200);
    assert.equal((await exchange(await code({ code_challenge: verifier }), { code_verifier: verifier })).status, 200);
    // missing, wrong, or the challenge itself as verifier: refused
    const other = randomBytes(48).toString('base64url');
    for (const extra of [{}, { code_verifier: other }, { code_verifier: s256 }, { code_verifier: 'short' }] as Record<string, string>[]) {
      const r = await exchange(await code({ code_challenge: s256, code_challenge_method: 'S256' }), extra);
      assert.equal(r.status, 400, JSON.stringify(extra));
      assert.equal(((await r.json()) as { error: string }).error, 'invalid_grant');
    }
    // downgrade: the challenge stripped from the authorization request, the verifier sent
    const stripped = await exchange(await code({}), { code_verifier: verifier });
    assert.equal(stripped.status, 400);
    assert.match(((await stripped.json()) as { message: string }).message, /no code_challenge/);
    // malformed challenges are refused at authorize, without a code
    const before = await codes();
    for (const extra of [{ code_challenge_method: 'S256' }, { code_challenge: s256, code_challenge_method: 'S512' }, { code_challenge: 'x' }, { code_challenge: `${s256}!` }] as Record<string, string>[]) {
      const r = await codeFor(extra);
      assert.equal(r.status, 400, JSON.stringify(extra));
      assert.match(((await r.json()) as { message: string }).message, /code_challenge/);
    }
    assert.equal(await codes(), before);
  });

  it("a renamed user's OAuth clients go with the old name: unknown client, no codes, their tokens revoked", async () => {
    const admin = await t.tokenFor('root', { admin: true });
    const rena = await ensureUser(t.hub.db, 'rena');
    await upsertClient(t.hub.db, { identifier: 'jupyterhub-user-rena', secret: 'old-server-token', redirectUri: '/user/rena/oauth_callback', description: '', allowedScopes: ['access:servers!server=rena/'], userId: rena.id, serverName: '' });
    const olive = await ensureUser(t.hub.db, 'olive');
    const { token: visitor } = await createToken(t.hub.db, olive.id, { kind: 'oauth', scopes: ['read:users:name!user=olive'], clientId: 'jupyterhub-user-rena' });
    assert.equal((await t.api('GET', '/user', { token: visitor })).status, 200);
    assert.equal((await t.api('PATCH', '/users/rena', { token: admin, body: { name: 'renamed' } })).status, 200);
    assert.equal(await getClient(t.hub.db, 'jupyterhub-user-rena'), undefined);
    assert.equal((await t.api('GET', '/user', { token: visitor })).status, 403);
    // a new user of the old name gets no code for a client whose secret the renamed user knows
    await ensureUser(t.hub.db, 'rena');
    const r = await authorize('/user/rena/oauth_callback', 'jupyterhub-user-rena');
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { message: string }).message, /unknown client_id/);
  });

  it('malformed Authorization: Basic gives 400 JSON naming the problem, never a 5xx', async () => {
    const b64 = (bytes: string | Buffer): string => Buffer.from(bytes).toString('base64');
    const cases: [string, RegExp][] = [
      ['Basic', /no credentials/],
      ['Basic    ', /no credentials/],
      ['Basic !!!!', /base64/],
      ['Basic a b', /base64/],
      ['Basic YWJj=', /base64/],
      ['Basic Y', /base64/],
      [`Basic ${b64('no-colon-here')}`, /":"/],
      [`Basic ${b64('')}`, /base64|":"|no credentials/],
      [`Basic ${b64('%zz:secret')}`, /percent-encoding/],
      [`Basic ${b64('id:%E0%A4%A')}`, /percent-encoding/],
      [`Basic ${b64('id:%FF')}`, /percent-encoding/],
      [`Basic ${b64(Buffer.from([0xff, 0xfe, 0x3a, 0x41]))}`, /UTF-8/],
      [`Basic ${b64(Buffer.from([0x69, 0x64, 0x3a, 0xc3]))}`, /UTF-8/],
      [`Basic ${'A'.repeat(6000)}`, /":"|base64/],
    ];
    for (const [header, problem] of cases) {
      const r = await tokenRequest({ grant_type: 'authorization_code', code: 'x', redirect_uri: CALLBACK }, { Authorization: header });
      assert.ok(r.status === 400 || r.status === 401, `${header.slice(0, 40)}: ${r.status}`);
      const body = (await r.json()) as { status: number; message: string };
      assert.equal(body.status, r.status);
      assert.match(body.message, problem, header.slice(0, 40));
    }
  });

  it('well-formed Basic credentials work, form-encoded as RFC 6749 says', async () => {
    const code = new URL((await authorize(CALLBACK)).headers.get('location')!, origin).searchParams.get('code')!;
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT)}:${encodeURIComponent(SECRET)}`).toString('base64')}`;
    const r = await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: CALLBACK }, { Authorization: basic });
    assert.equal(r.status, 200);
    const wrong = `Basic ${Buffer.from(`${CLIENT}:nope`).toString('base64')}`;
    const w = await tokenRequest({ grant_type: 'authorization_code', code: 'x', redirect_uri: CALLBACK }, { Authorization: wrong });
    assert.equal(w.status, 401);
    // credentials in both places must agree
    const both = await tokenRequest({ client_id: 'other', grant_type: 'authorization_code', code: 'x', redirect_uri: CALLBACK }, { Authorization: basic });
    assert.equal(both.status, 400);
    assert.match(((await both.json()) as { message: string }).message, /both/);
  });
});
