/**
 * Real access tokens of the test OpenID provider (test/helpers/oidc-provider.ts)
 * for tests that need a hub's UserTokens without a hub login: a code-grant
 * login at the provider (the provider plays the browser, PKCE, openid-client),
 * and a UserTokens handing every hub user the token of one login.
 */
import * as oidc from 'openid-client';
import type { UserAccessToken, UserTokens } from '../../src/spawners/spawner.js';
import type { TestOidcProvider } from './oidc-provider.js';

/** The redirect URI tests register for these logins (never opened: the code is taken from it). */
export const TOKEN_LOGIN_REDIRECT = 'http://127.0.0.1:9/callback';

/**
 * Logs `login` in at the provider (authorization code with PKCE) and returns
 * its access token (a JWT with `jwtAccessTokens`) and when it expires.
 * `redirectUri` must be registered at the provider.
 */
export async function loginAccessToken(op: TestOidcProvider, login: string, redirectUri = TOKEN_LOGIN_REDIRECT): Promise<{ token: string; expiresAt?: number }> {
  const config = await oidc.discovery(new URL(op.issuer), op.clientId, op.clientSecret, oidc.ClientSecretPost(op.clientSecret), {
    execute: [oidc.allowInsecureRequests],
  });
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'token-login',
  });
  const callback = await op.authorize(url.href, login);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: 'token-login' });
  const expiresIn = tokens.expiresIn();
  // Unix seconds, as UserAccessToken.expiresAt
  return { token: tokens.access_token, ...(expiresIn === undefined ? {} : { expiresAt: Math.floor(Date.now() / 1000) + expiresIn }) };
}

/**
 * A UserTokens that gives every hub user the access token of `login` at the
 * provider `op()` (undefined: not running yet, so log in again): obtained on
 * first use, again on `refresh: true` or when less than a minute is left. A
 * failed login is `loginAgain`, never a throw. `asked` counts the requests.
 */
export function oneLoginUserTokens(op: () => TestOidcProvider | undefined, login: string): UserTokens & { asked: { user: string; refresh: boolean }[] } {
  let current: Promise<{ token: string; expiresAt?: number }> | undefined;
  const asked: { user: string; refresh: boolean }[] = [];
  return {
    asked,
    async accessToken(user, opts): Promise<UserAccessToken> {
      asked.push({ user, refresh: opts.refresh === true });
      const provider = op();
      if (!provider) return { loginAgain: 'The test provider is not running.' };
      try {
        const held = current ? await current : undefined;
        if (opts.refresh || !held || (held.expiresAt !== undefined && held.expiresAt - Date.now() / 1000 < 60)) current = loginAccessToken(provider, login);
        return await current!;
      } catch (err) {
        current = undefined;
        return { loginAgain: `The test login failed: ${(err as Error).message}` };
      }
    },
  };
}
