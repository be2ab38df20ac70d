/**
 * The test OIDC provider's JWT access tokens (`jwtAccessTokens`) and service
 * clients (`serviceClients`), which the FirecREST stand-in verifies: claims,
 * signature with the provider's JWKS, lifetime (`accessTokenTtl`), refresh,
 * and a refresh refused after `forgetTokens()`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';

const REDIRECT = 'http://127.0.0.1:9/callback';
const SERVICE = { clientId: 'svc-account', clientSecret: 'svc-secret-0123456789' };

describe('oidc test provider: JWT access tokens', () => {
  let op: TestOidcProvider;
  let config: oidc.Configuration;

  before(async () => {
    op = await startOidcProvider({ redirectUris: [REDIRECT], jwtAccessTokens: { audience: 'firecrest' }, serviceClients: [SERVICE], accessTokenTtl: 120 });
    config = await oidc.discovery(new URL(op.issuer), op.clientId, op.clientSecret, oidc.ClientSecretPost(op.clientSecret), {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => {
    await op?.stop();
  });

  const login = async (who: string) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 's1',
    });
    return oidc.authorizationCodeGrant(config, new URL(await op.authorize(url.href, who)), { pkceCodeVerifier: verifier, expectedState: 's1' });
  };

  test('code grant and refresh give signed JWTs with the user claims, the audience and accessTokenTtl', async () => {
    const jwks = createRemoteJWKSet(new URL(op.jwksUri));
    const tokens = await login('bob');
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, { issuer: op.issuer, audience: 'firecrest' });
    assert.equal(protectedHeader.kid, op.signingKid);
    assert.equal(payload.sub, 'bob-sub');
    assert.equal(payload['preferred_username'], 'bob');
    assert.deepEqual(payload['groups'], ['/hpc-users', '/hpc-admins']);
    assert.equal(payload['client_id'], op.clientId);
    assert.equal(payload.exp! - payload.iat!, 120);
    assert.equal(tokens.expires_in, 120);
    // the ID token still carries the claims (userinfo refuses a JWT access token: use the ID token)
    assert.equal(tokens.claims()?.['preferred_username'], 'bob');

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const again = (await jwtVerify(refreshed.access_token, jwks, { audience: 'firecrest' })).payload;
    assert.equal(again['preferred_username'], 'bob');
    assert.notEqual(again.jti, payload.jti);
  });

  test('a service client gets a JWT by client credentials (client_secret_basic), and only with the right secret', async () => {
    const ask = (secret: string) =>
      fetch(op.tokenUrl, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${SERVICE.clientId}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
    const res = await ask(SERVICE.clientSecret);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { access_token: string; expires_in: number };
    const claims = decodeJwt(body.access_token);
    assert.equal(claims.sub, SERVICE.clientId);
    assert.equal(claims['client_id'], SERVICE.clientId);
    assert.equal(claims['preferred_username'], SERVICE.clientId);
    assert.equal(claims.aud, 'firecrest');
    assert.equal(body.expires_in, 120);
    assert.equal((await ask('wrong-secret')).status, 401);
  });

  test('forgetTokens() makes a later refresh fail with invalid_grant', async () => {
    const tokens = await login('alice');
    await op.forgetTokens();
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (e: Error & { error?: string }) => e.error === 'invalid_grant');
  });
});
