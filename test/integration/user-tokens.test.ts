/**
 * The hub's UserTokens (src/auth/user-tokens.ts) against the real OpenID
 * provider: users log in through the hub, then a back-end acting as the user
 * (FirecREST) asks for their access token. A valid token is handed out as
 * stored; one about to expire (the provider's access tokens live 63 s, the
 * hub wants 60 s left) is refreshed and saved; concurrent callers share one
 * refresh; a refused refresh, a provider down, a user without tokens all
 * answer `loginAgain`, never a throw.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser } from '../helpers/browser.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { freePort } from '../../src/lib/free-port.js';
import { getUser } from '../../src/db/repos/users.js';
import { hubUserTokens, storedUserTokens, TOKEN_MIN_VALIDITY_S } from '../../src/auth/user-tokens.js';
import type { UserAccessToken, UserTokens } from '../../src/spawners/spawner.js';
import { loginAgainUrl } from '../../src/hub/login-again.js';

const log = pino({ level: 'silent' });
const USERS = {
  alice: { password: 'alice-pw', groups: ['/hpc-users'] },
  bob: { password: 'bob-pw', groups: ['/hpc-users'] },
  carol: { password: 'carol-pw', groups: ['/hpc-users'] },
  dave: { password: 'dave-pw', groups: ['/hpc-users'] },
  erin: { password: 'erin-pw', groups: ['/hpc-users'] },
};
const TTL = TOKEN_MIN_VALIDITY_S + 3;

function tokenOf(a: UserAccessToken): string {
  if ('loginAgain' in a) assert.fail(`expected a token, got loginAgain: ${a.loginAgain}`);
  return a.token;
}

describe('UserTokens against the real provider', () => {
  let op: TestOidcProvider;
  let t: TestHub;
  let hubBase: string;
  let tokens: UserTokens;
  const savedKey = process.env['GANYMEDE_CRYPT_KEY'];
  const browsers = new Map<string, Browser>();

  const login = async (name: string) => {
    const b = new Browser(hubBase);
    const start = await b.get('/hub/oauth_login');
    assert.equal(start.status, 302);
    const res = await b.get(await op.authorize(start.headers.get('location')!, name));
    assert.equal(res.status, 302, await res.text());
    browsers.set(name, b);
  };
  const stored = async (name: string) => t.hub.crypt.decrypt((await getUser(t.hub.db, name))!.auth_state!) as Record<string, unknown>;
  const idpCalls = (from: number) => op.requests.slice(from).filter((r) => !r.startsWith('GET /.well-known') && !r.startsWith('GET /jwks'));
  const sessions = async (name: string) => {
    const user = await getUser(t.hub.db, name);
    return (await t.hub.db.selectFrom('sessions').select('id').where('user_id', '=', user!.id).execute()).length;
  };

  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = 'ef'.repeat(32);
    const hubPort = await freePort('127.0.0.1');
    hubBase = `http://127.0.0.1:${hubPort}`;
    op = await startOidcProvider({ redirectUris: [`${hubBase}/hub/oauth_callback`], users: USERS, accessTokenTtl: TTL });
    t = await startTestHub(
      {
        auth: {
          kind: 'oidc',
          login_rate_limit: { attempts: 0 },
          issuer: op.issuer,
          client_id: op.clientId,
          client_secret: op.clientSecret,
          allow_insecure_http: true,
          enable_auth_state: true,
        },
      },
      { hubPort },
    );
    tokens = hubUserTokens(() => t.hub);
  });
  after(async () => {
    await t?.stop();
    await op?.stop();
    if (savedKey === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
    else process.env['GANYMEDE_CRYPT_KEY'] = savedKey;
  });

  it('hands out a valid token as stored, without asking the provider', async () => {
    await login('alice');
    const from = op.requests.length;
    const got = await tokens.accessToken('alice', { log });
    assert.equal(tokenOf(got), (await stored('alice'))['access_token']);
    assert.ok('expiresAt' in got && got.expiresAt! > Date.now() / 1000 + TOKEN_MIN_VALIDITY_S);
    assert.deepEqual(idpCalls(from), []);
  });

  it('refreshes a token with less than 60 s left and saves the new one; the next call gets it without the provider', async () => {
    const first = (await stored('alice'))['access_token'];
    await new Promise((r) => setTimeout(r, 3500)); // 63 s tokens now have < 60 s left
    let from = op.requests.length;
    const renewed = tokenOf(await tokens.accessToken('alice', { log }));
    assert.notEqual(renewed, first);
    assert.equal(idpCalls(from).filter((r) => r === 'POST /token').length, 1, 'one refresh');
    assert.equal((await stored('alice'))['access_token'], renewed, 'saved');
    from = op.requests.length;
    assert.equal(tokenOf(await tokens.accessToken('alice', { log })), renewed);
    assert.deepEqual(idpCalls(from), [], 'the second call did not ask the provider');
    assert.equal(await sessions('alice'), 1, 'the login goes on');
  });

  it('refresh: true renews even a valid token (it was refused)', async () => {
    const before = (await stored('alice'))['access_token'];
    const from = op.requests.length;
    const renewed = tokenOf(await tokens.accessToken('alice', { refresh: true, log }));
    assert.notEqual(renewed, before);
    assert.equal(idpCalls(from).filter((r) => r === 'POST /token').length, 1);
    assert.equal((await stored('alice'))['access_token'], renewed);
  });

  it('concurrent calls for one user share one refresh', async () => {
    await login('bob');
    const from = op.requests.length;
    const all = await Promise.all([1, 2, 3, 4].map(() => tokens.accessToken('bob', { refresh: true, log })));
    const got = all.map(tokenOf);
    assert.equal(new Set(got).size, 1, 'every caller got the same new token');
    assert.equal(idpCalls(from).filter((r) => r === 'POST /token').length, 1, 'one refresh');
    assert.equal((await stored('bob'))['access_token'], got[0]);
  });

  it('a user without tokens, or an unknown user, must log in again; the provider is not asked', async () => {
    await t.tokenFor('no-login'); // a hub user created by the API, never logged in through the provider
    const from = op.requests.length;
    for (const name of ['no-login', 'nobody-at-all']) {
      const got = await tokens.accessToken(name, { refresh: true, log });
      assert.ok('loginAgain' in got, name);
      assert.match(got.loginAgain, /log in/);
    }
    assert.deepEqual(idpCalls(from), []);
  });

  it('the read-only store of `ganymede stop` hands out a valid token and never refreshes', async () => {
    const ro = storedUserTokens(t.hub.db, t.hub.crypt);
    const from = op.requests.length;
    assert.equal(tokenOf(await ro.accessToken('bob', { log })), (await stored('bob'))['access_token']);
    const refused = await ro.accessToken('bob', { refresh: true, log });
    assert.ok('loginAgain' in refused && /log in again/.test(refused.loginAgain));
    assert.deepEqual(idpCalls(from), []);
    assert.equal(await sessions('bob'), 1);
  });

  it('a refresh the provider refuses answers loginAgain with a sentence and ends the sessions', async () => {
    await login('carol');
    assert.equal((await browsers.get('carol')!.get('/hub/home')).status, 200);
    await op.forgetTokens(); // every refresh token issued so far is refused now
    const got = await tokens.accessToken('carol', { refresh: true, log });
    assert.ok('loginAgain' in got, 'loginAgain');
    assert.match(got.loginAgain, /please log in again\./);
    assert.equal(await sessions('carol'), 0);
    assert.equal((await browsers.get('carol')!.get('/hub/home')).status, 302, 'the cookie no longer logs in');
  });

  it('"Log in again" (the hub\'s link) gets a fresh login from the provider, and the token works again', async () => {
    const b = browsers.get('carol')!;
    const start = await b.get(loginAgainUrl(t.hub, '/hub/home'));
    assert.equal(start.status, 302);
    const back = await b.get(await op.authorize(start.headers.get('location')!, 'carol'));
    assert.equal(back.status, 302);
    assert.equal(back.headers.get('location'), '/hub/home');
    const from = op.requests.length;
    const got = tokenOf(await tokens.accessToken('carol', { log }));
    assert.equal(got, (await stored('carol'))['access_token']);
    assert.deepEqual(idpCalls(from), []);
    assert.equal(await sessions('carol'), 1);
  });

  it('a refused refresh token is asked once: it is dropped, and later calls answer loginAgain without the provider', async () => {
    await login('erin');
    await op.forgetTokens();
    const from = op.requests.length;
    const first = await tokens.accessToken('erin', { refresh: true, log });
    assert.ok('loginAgain' in first);
    assert.equal(idpCalls(from).filter((r) => r.startsWith('POST /token')).length, 1, 'one refresh asked');
    assert.equal((await stored('erin'))['refresh_token'], undefined, 'the spent refresh token is no longer stored');
    const again = op.requests.length;
    for (let i = 0; i < 3; i++) assert.ok('loginAgain' in (await tokens.accessToken('erin', { refresh: true, log })));
    assert.deepEqual(idpCalls(again), [], 'polls after the refusal do not ask the provider again');
  });

  it('a provider that cannot be reached answers loginAgain, never a throw, and ends no session (a background poll must not log the user out)', async () => {
    await login('dave');
    await op.stop();
    const got = await tokens.accessToken('dave', { refresh: true, log });
    assert.ok('loginAgain' in got);
    assert.match(got.loginAgain, /log in again/);
    assert.equal(await sessions('dave'), 1, 'the session is kept');
    assert.equal(typeof (await stored('dave'))['refresh_token'], 'string', 'the refresh token is kept for when the provider is back');
  });
});
