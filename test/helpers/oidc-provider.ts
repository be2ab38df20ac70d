/**
 * A real OpenID provider (npm `oidc-provider`) on 127.0.0.1 for the OIDC
 * login tests, with Keycloak-like claims: `preferred_username`, `groups` as
 * paths (`/hpc-users`), refresh tokens always issued, PKCE required, RS256
 * keys served at `/jwks`, RP-initiated logout at `/session/end`. The test
 * plays the browser at the provider with {@link TestOidcProvider.authorize}.
 *
 * With `jwtAccessTokens` every access token of the hub's clients is a JWT
 * (RS256, the provider's keys) for one resource server, as FirecREST needs;
 * with `serviceClients` confidential clients get JWT access tokens through the
 * client-credentials grant (a CSCS-like service account).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { Provider } from 'oidc-provider';
import { freePort } from '../../src/lib/free-port.js';

/** A person known to the provider. */
export interface OidcTestUser {
  password: string;
  /** The `sub` claim (default: `<login>-sub`). */
  sub?: string;
  /** Keycloak-style group paths. */
  groups?: string[];
  email?: string;
}

export interface OidcProviderOptions {
  /** The redirect URIs registered for the client (the hub's callback). */
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  users?: Record<string, OidcTestUser>;
  /** Access token lifetime in seconds (default 3600). */
  accessTokenTtl?: number;
  clientId?: string;
  clientSecret?: string;
  /** More clients with the same secret and redirect URIs (e.g. for an audience test). */
  otherClientIds?: string[];
  /** Listen on this port (a restarted provider keeps its issuer). */
  port?: number;
  /**
   * Every access token of the login clients (code grant and refresh) becomes a
   * JWT signed with the provider's keys, with the claims `sub`,
   * `preferred_username`, `groups`, `aud` (= `audience`), `exp`, `iss`,
   * `client_id`. The userinfo endpoint then refuses these tokens (oidc-provider
   * keeps userinfo for opaque tokens): take the user's claims from the ID token.
   * `accessTokenTtl` applies to them.
   */
  jwtAccessTokens?: { audience: string };
  /**
   * Confidential clients allowed only the `client_credentials` grant,
   * authenticated with HTTP Basic (`client_secret_basic`). Their access tokens
   * are JWTs with `sub` = `client_id` = `preferred_username` = the client id,
   * the audience of `jwtAccessTokens` (default `firecrest`) and the lifetime
   * `accessTokenTtl`.
   */
  serviceClients?: { clientId: string; clientSecret: string }[];
}

export interface TestOidcProvider {
  issuer: string;
  port: number;
  clientId: string;
  clientSecret: string;
  /**
   * Plays the browser at the provider: opens the authorization URL, logs in
   * as `login` (a wrong password makes the provider answer `access_denied`),
   * and returns the URL the provider sends the browser back to (the hub's
   * callback with `code` and `state`), without opening it.
   */
  authorize(authUrl: string, login: string, password?: string): Promise<string>;
  /**
   * Restarts the provider on the same issuer with a new signing key first
   * (the old one still published): tokens are signed with a `kid` the hub
   * has not seen. The restart also forgets every grant, so refresh tokens
   * issued before are refused.
   */
  rotateKeys(): Promise<void>;
  /**
   * Restarts the provider, forgetting every grant and token: refresh tokens
   * issued before are then refused (`invalid_grant`), which is how a test makes
   * a refresh fail. JWT access tokens issued before stay valid until they expire
   * (a resource server checks only their signature and `exp`).
   */
  forgetTokens(): Promise<void>;
  /** Registers more redirect (and post-logout redirect) URIs for the client; restarts the provider. */
  addRedirectUris(redirect: string[], postLogout?: string[]): Promise<void>;
  /** The token endpoint (for the client-credentials grant of `serviceClients`). */
  readonly tokenUrl: string;
  /** The JWKS URL a resource server verifies JWT access tokens with. */
  readonly jwksUri: string;
  /** The resource indicator of JWT access tokens (`undefined` without `jwtAccessTokens` and `serviceClients`). */
  readonly resource: string | undefined;
  /** The `kid` tokens are signed with now. */
  readonly signingKid: string;
  /** Requests the provider received, as `METHOD path` (e.g. `GET /session/end?…`). */
  readonly requests: string[];
  stop(): Promise<void>;
}

export const DEFAULT_OIDC_USERS: Record<string, OidcTestUser> = {
  alice: { password: 'alice-pw', groups: ['/hpc-users'] },
  bob: { password: 'bob-pw', groups: ['/hpc-users', '/hpc-admins'] },
  carol: { password: 'carol-pw', groups: ['/guests'] },
};

async function newKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}

async function readBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Starts the provider; stop it with `stop()`. */
export async function startOidcProvider(opts: OidcProviderOptions): Promise<TestOidcProvider> {
  const port = opts.port ?? (await freePort('127.0.0.1'));
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = opts.clientId ?? 'ganymede-hub';
  const clientSecret = opts.clientSecret ?? 'hub-client-secret-0123456789';
  const users = opts.users ?? DEFAULT_OIDC_USERS;
  const requests: string[] = [];
  let keys: JWK[] = [await newKey('key-1')];
  const redirectUris = [...opts.redirectUris];
  const postLogoutUris = [...(opts.postLogoutRedirectUris ?? [])];
  let server: Server | undefined;
  const subOf = (login: string): string => users[login]?.sub ?? `${login}-sub`;
  const loginOf = (sub: string): string | undefined => Object.keys(users).find((k) => subOf(k) === sub);
  const serviceClients = opts.serviceClients ?? [];
  const serviceIds = new Set(serviceClients.map((c) => c.clientId));
  const jwtUsers = opts.jwtAccessTokens !== undefined;
  const audience = opts.jwtAccessTokens?.audience ?? 'firecrest';
  // a resource indicator must be an absolute URI; the audience need not be one
  const resource = jwtUsers || serviceIds.size > 0 ? `urn:ganymede-test:resource:${encodeURIComponent(audience)}` : undefined;
  const accessTtl = opts.accessTokenTtl ?? 3600;

  const build = (): Provider => {
    const client = (id: string) => ({
      client_id: id,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      post_logout_redirect_uris: postLogoutUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    });
    const serviceClient = (c: { clientId: string; clientSecret: string }) => ({
      client_id: c.clientId,
      client_secret: c.clientSecret,
      redirect_uris: [],
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    const provider = new Provider(issuer, {
      clients: [client(clientId), ...(opts.otherClientIds ?? []).map(client), ...serviceClients.map(serviceClient)],
      jwks: { keys },
      cookies: { keys: ['test-provider-cookie-key'] },
      pkce: { required: () => true },
      features: {
        devInteractions: { enabled: false },
        rpInitiatedLogout: { enabled: true },
        clientCredentials: { enabled: serviceIds.size > 0 },
        resourceIndicators: {
          enabled: resource !== undefined,
          // the hub does not name a resource: the JWT one is the default for the clients that get JWTs
          defaultResource: (_ctx: unknown, c: { clientId: string }) =>
            resource !== undefined && (serviceIds.has(c.clientId) || jwtUsers) ? resource : undefined,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({ scope: 'firecrest', audience, accessTokenFormat: 'jwt', accessTokenTTL: accessTtl, jwt: { sign: { alg: 'RS256' } } }),
        },
      },
      extraTokenClaims: (_ctx: unknown, token: { accountId?: string; clientId?: string }) => {
        if (token.accountId === undefined) return { preferred_username: token.clientId };
        const login = loginOf(token.accountId);
        return login === undefined ? undefined : { preferred_username: login, groups: users[login]?.groups ?? [] };
      },
      conformIdTokenClaims: false,
      claims: { openid: ['sub'], profile: ['preferred_username', 'name', 'groups'], email: ['email'] },
      issueRefreshToken: () => true,
      ttl: { AccessToken: accessTtl, ClientCredentials: accessTtl, IdToken: 3600, RefreshToken: 86400, Session: 3600, Grant: 3600, Interaction: 600, AuthorizationCode: 60 },
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
      // the account id is the `sub`; the login name is `preferred_username`
      findAccount: (_ctx: unknown, sub: string) => {
        const login = loginOf(sub);
        const u = login === undefined ? undefined : users[login];
        if (!u || login === undefined) return undefined;
        return {
          accountId: sub,
          claims: () => ({ sub, preferred_username: login, name: login, groups: u.groups ?? [], email: u.email ?? `${login}@example.org` }),
        };
      },
    });
    provider.on('server_error', () => undefined);
    return provider;
  };

  const listen = async (): Promise<void> => {
    const provider = build();
    const handler = provider.callback();
    server = createServer((req, res: ServerResponse) => {
      requests.push(`${req.method} ${req.url}`);
      // no kept-alive sockets: after a restart (forgetTokens) a client's next call reaches the new
      // provider and gets its answer (invalid_grant), not "fetch failed" on a socket closed under it
      res.setHeader('connection', 'close');
      const form = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
      if (req.method === 'GET' && form) {
        // the login form a real browser sees (the scripted one posts directly)
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
          `<!doctype html><title>Test provider</title><form method="post" action="/interaction/${form[1]}/login">` +
            '<input id="login" name="login"><input id="password" name="password" type="password"><button id="submit" type="submit">Sign in</button></form>',
        );
        return;
      }
      const m = /^\/interaction\/([^/?]+)\/login$/.exec(req.url ?? '');
      if (req.method === 'POST' && m) {
        void (async () => {
          try {
            const details = await provider.interactionDetails(req, res);
            const form = await readBody(req);
            const login = form.get('login') ?? '';
            const user = users[login];
            let result: Record<string, unknown>;
            if (!user || user.password !== form.get('password')) {
              result = { error: 'access_denied', error_description: 'wrong user name or password' };
            } else {
              const grant = new provider.Grant({ accountId: subOf(login), clientId: String(details.params['client_id']) });
              grant.addOIDCScope(String(details.params['scope']));
              if (resource !== undefined && jwtUsers) grant.addResourceScope(resource, 'firecrest');
              result = { login: { accountId: subOf(login) }, consent: { grantId: await grant.save() } };
            }
            const to = await provider.interactionResult(req, res, result, { mergeWithLastSubmission: false });
            res.writeHead(303, { location: to }).end();
          } catch (err) {
            res.writeHead(500).end(String(err));
          }
        })();
        return;
      }
      handler(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
  };
  const close = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    issuer,
    port,
    clientId,
    clientSecret,
    requests,
    tokenUrl: `${issuer}/token`,
    jwksUri: `${issuer}/jwks`,
    resource,
    get signingKid() {
      return keys[0]?.kid ?? '';
    },
    async authorize(authUrl, login, password) {
      const jar = new Map<string, string>();
      const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const remember = (res: Response) => {
        for (const c of res.headers.getSetCookie()) {
          const [pair] = c.split(';');
          const eq = pair!.indexOf('=');
          jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
        }
      };
      const go = async (url: string, init: RequestInit = {}): Promise<string> => {
        const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: cookieHeader() } });
        remember(res);
        await res.arrayBuffer();
        const loc = res.headers.get('location');
        if (!loc) throw new Error(`the provider answered ${res.status} at ${url} without a redirect`);
        return new URL(loc, url).href;
      };
      let next = await go(authUrl);
      for (let i = 0; i < 10; i++) {
        if (new URL(next).origin !== issuer) return next;
        const m = /\/interaction\/([^/?]+)$/.exec(new URL(next).pathname);
        if (m) {
          const pw = password ?? users[login]?.password ?? '';
          next = await go(`${issuer}/interaction/${m[1]}/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ login, password: pw }).toString(),
          });
        } else {
          next = await go(next);
        }
      }
      throw new Error('too many redirects at the provider');
    },
    async rotateKeys() {
      const n = keys.length + 1;
      keys = [await newKey(`key-${n}`), ...keys];
      await close();
      await listen();
    },
    async addRedirectUris(redirect, postLogout = []) {
      redirectUris.push(...redirect);
      postLogoutUris.push(...postLogout);
      await close();
      await listen();
    },
    async forgetTokens() {
      await close();
      await listen();
    },
    stop: close,
  };
}
