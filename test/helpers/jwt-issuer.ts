/**
 * A stand-in identity provider for the JWT-header login tests: a loopback
 * HTTP server serving an OpenID discovery document and a JWKS with keys the
 * test makes (jose.generateKeyPair), able to rotate its keys, to stop
 * answering (hang) or to fail; and a signer of BriCS-shaped ID tokens.
 * Stop it with `stop()`.
 */
import http from 'node:http';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { freePort } from '../../src/lib/free-port.js';

interface IssuerKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

export interface TestIssuer {
  /** The issuer URL (`oidc_server`), with a realm path as Keycloak has. */
  issuer: string;
  /** The audience tokens are made for by default. */
  audience: string;
  /** How many times the JWKS / discovery document were fetched. */
  jwksFetches: number;
  discoveryFetches: number;
  /** The algorithms the discovery document lists (change before the hub's first login). */
  algorithms: string[];
  /** 'ok'; 'hang': accept connections and never answer; 'fail': answer 500. */
  mode: 'ok' | 'hang' | 'fail';
  /** The key tokens are signed with by default (the newest). */
  currentKid(): string;
  /**
   * Makes a new key and publishes it; with `retire`, the old keys are no
   * longer published. Returns the new kid.
   */
  rotate(opts?: { retire?: boolean; alg?: 'RS256' | 'ES256' }): Promise<string>;
  /** A key pair that is never published (for unknown-kid and bad-signature tokens). */
  strayKey(alg?: 'RS256' | 'ES256'): Promise<{ kid: string; privateKey: CryptoKey }>;
  /** The SPKI PEM of the current public key (for the HS256-with-the-public-key attack). */
  publicPem(): Promise<string>;
  /**
   * A signed token: BriCS's claims (iss, aud, iat, exp in 5 minutes, short_name,
   * projects) merged with `claims`; a claim set to undefined is left out.
   */
  token(claims?: Record<string, unknown>, opts?: { kid?: string; key?: CryptoKey; alg?: string }): Promise<string>;
  stop(): Promise<void>;
}

/** The platform the tests' hub serves. */
export const TEST_PLATFORM = 'brics.aip1.notebooks';

/** A user with one project on TEST_PLATFORM and one on another platform only. */
export function testProjects(user = 'test_user'): Record<string, unknown> {
  return {
    'project1.portal': {
      name: 'Project 1',
      resources: [
        { name: TEST_PLATFORM, username: `${user}.project1` },
        { name: 'brics.aip1.clusters', username: `${user}.project1` },
      ],
    },
    'project2.portal': { name: 'Project 2', resources: [{ name: 'brics.aip1.clusters', username: `${user}.project2` }] },
  };
}

async function makeKey(alg: 'RS256' | 'ES256', kid: string): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

/** Starts the stand-in provider on 127.0.0.1. */
export async function startTestIssuer(opts: { audience?: string; algorithms?: string[] } = {}): Promise<TestIssuer> {
  const port = await freePort('127.0.0.1');
  const base = `http://127.0.0.1:${port}`;
  const issuer = `${base}/realms/brics`;
  let published: IssuerKey[] = [await makeKey('RS256', 'key-1')];
  let current = published[0]!;
  let counter = 1;
  const hanging = new Set<http.ServerResponse>();

  const state: TestIssuer = {
    issuer,
    audience: opts.audience ?? 'zenith-jupyter',
    jwksFetches: 0,
    discoveryFetches: 0,
    algorithms: opts.algorithms ?? ['RS256', 'ES256'],
    mode: 'ok',
    currentKid: () => current.kid,
    async rotate(o = {}) {
      counter += 1;
      const key = await makeKey(o.alg ?? 'RS256', `key-${counter}`);
      published = o.retire ? [key] : [...published, key];
      current = key;
      return key.kid;
    },
    async strayKey(alg = 'RS256') {
      counter += 1;
      const key = await makeKey(alg, `stray-${counter}`);
      return { kid: key.kid, privateKey: key.privateKey };
    },
    publicPem: () => exportSPKI(current.publicKey),
    async token(claims = {}, o = {}) {
      const now = Math.floor(Date.now() / 1000);
      const all: Record<string, unknown> = {
        iss: issuer,
        aud: state.audience,
        iat: now,
        exp: now + 300,
        sub: 'f3a1c2',
        short_name: 'test_user',
        projects: testProjects(),
        ...claims,
      };
      for (const k of Object.keys(all)) if (all[k] === undefined) delete all[k];
      const alg = o.alg ?? current.alg;
      return new SignJWT(all as JWTPayload).setProtectedHeader({ alg, kid: o.kid ?? current.kid, typ: 'JWT' }).sign(o.key ?? current.privateKey);
    },
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = http.createServer((req, res) => {
    if (state.mode === 'hang') {
      hanging.add(res);
      return;
    }
    if (state.mode === 'fail') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('down');
      return;
    }
    const send = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/realms/brics/.well-known/openid-configuration') {
      state.discoveryFetches += 1;
      send({
        issuer,
        authorization_endpoint: `${issuer}/protocol/openid-connect/auth`,
        token_endpoint: `${issuer}/protocol/openid-connect/token`,
        jwks_uri: `${issuer}/protocol/openid-connect/certs`,
        id_token_signing_alg_values_supported: state.algorithms,
      });
      return;
    }
    if (req.url === '/realms/brics/protocol/openid-connect/certs') {
      state.jwksFetches += 1;
      send({ keys: published.map((k) => k.jwk) });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return state;
}
