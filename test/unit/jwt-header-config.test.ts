/**
 * Issue 10 §2: the `auth: {kind: jwt-header}` options (src/auth/jwt-header/schema.ts)
 * as the config loader validates them, and the registry building the backend.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Kysely } from 'kysely';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/lib/errors.js';
import { createAuthenticator } from '../../src/auth/registry.js';
import type { DB } from '../../src/db/schema.js';

const MINIMAL = { kind: 'jwt-header', oidc_server: 'https://idp.example.org/realms/brics', jwt_audience: 'zenith-jupyter', platform: 'brics.aip1.notebooks' };

describe('auth.kind: jwt-header options', () => {
  it('the minimal configuration gets the documented defaults', () => {
    const config = validateConfig({ auth: MINIMAL });
    assert.equal(config.auth.kind, 'jwt-header');
    if (config.auth.kind !== 'jwt-header') return;
    assert.equal(config.auth.header, 'X-Auth-Id-Token');
    assert.equal(config.auth.jwt_leeway, 5);
    assert.equal(config.auth.invalid_jwt_logout, false);
    assert.equal(config.auth.logout_redirect_url, '');
  });

  it('the registry builds the JWT-header login from them', () => {
    const config = validateConfig({ auth: { ...MINIMAL, header: 'X-Id-Token', logout_redirect_url: 'https://hub.example.org/_oidc/sign_out' } });
    const auth = createAuthenticator(config, {} as Kysely<DB>, pino({ level: 'silent' }));
    assert.equal(auth.kind, 'jwt-header');
    assert.equal(auth.needsAuthState, true);
    assert.equal(auth.loginHeader, 'X-Id-Token');
    assert.equal(typeof auth.authenticateRequest, 'function');
  });

  it('refuses missing or bad options, naming them', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...MINIMAL, platform: undefined }, /^config: auth\.platform: expected required property/],
      [{ ...MINIMAL, jwt_audience: undefined }, /jwt_audience/],
      [{ ...MINIMAL, oidc_server: undefined }, /oidc_server/],
      [{ ...MINIMAL, oidc_server: 'idp.example.org' }, /oidc_server/],
      [{ ...MINIMAL, header: 'X Auth: evil' }, /header/],
      [{ ...MINIMAL, jwt_leeway: -1 }, /jwt_leeway/],
      [{ ...MINIMAL, brics_platform: 'x' }, /brics_platform/],
      [{ ...MINIMAL, shared_password: 'long enough' }, /shared_password/],
    ];
    for (const [auth, message] of cases) {
      for (const k of Object.keys(auth)) if (auth[k] === undefined) delete auth[k];
      assert.throws(() => validateConfig({ auth }), (e: unknown) => e instanceof ConfigError && message.test(e.message), JSON.stringify(auth));
    }
  });

  it('a plain-http oidc_server off loopback is refused when the hub builds the login', () => {
    const config = validateConfig({ auth: { ...MINIMAL, oidc_server: 'http://idp.example.org/realms/brics' } });
    assert.throws(() => createAuthenticator(config, {} as Kysely<DB>, pino({ level: 'silent' })), /must be https/);
  });
});
