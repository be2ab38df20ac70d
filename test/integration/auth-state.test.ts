import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { FastifyRequest } from 'fastify';
import type { Authenticator, AuthResult } from '../../src/auth/authenticator.js';
import type { ConfigHooks } from '../../src/config/schema.js';
import { buildHub } from '../../src/hub/app.js';
import { getUser } from '../../src/db/repos/users.js';
import { startTestHub, testHubConfig, type TestHub } from '../helpers/hub.js';
import { trivialSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';

const KEY = 'ab'.repeat(32);

/** Header login whose auth state is `{token: "tok-<name>"}`; `needsAuthState` as told. */
class StateAuthenticator implements Authenticator {
  readonly kind = 'test-state';
  readonly loginHeader = 'X-Test-User';
  constructor(readonly needsAuthState = false) {}
  async authenticateRequest(req: FastifyRequest): Promise<AuthResult | null> {
    const name = req.headers['x-test-user'];
    return typeof name === 'string' ? { name, authState: { token: `tok-${name}` } } : null;
  }
}

/** Runs `fn` with GANYMEDE_CRYPT_KEY (and JUPYTERHUB_CRYPT_KEY) set to `key`, or unset. */
function cryptKey(key: string | undefined): { restore(): void } {
  const saved = { g: process.env['GANYMEDE_CRYPT_KEY'], j: process.env['JUPYTERHUB_CRYPT_KEY'] };
  delete process.env['JUPYTERHUB_CRYPT_KEY'];
  if (key === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
  else process.env['GANYMEDE_CRYPT_KEY'] = key;
  return {
    restore() {
      for (const [name, value] of [['GANYMEDE_CRYPT_KEY', saved.g], ['JUPYTERHUB_CRYPT_KEY', saved.j]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    },
  };
}

describe('auth state needs GANYMEDE_CRYPT_KEY: the hub refuses to start without it', () => {
  let env: { restore(): void };
  beforeEach(() => {
    env = cryptKey(undefined);
  });
  afterEach(() => env.restore());

  const build = (raw: Record<string, unknown>, authenticator?: Authenticator) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-test-'));
    return buildHub({ config: testHubConfig(dataDir, 1, raw), log: pino({ level: 'silent' }), ...(authenticator ? { authenticator } : {}) });
  };

  it('with auth.enable_auth_state: true', async () => {
    await assert.rejects(build({ auth: { kind: 'shared-password', enable_auth_state: true } }), (err: Error) => {
      assert.match(err.message, /auth\.enable_auth_state/);
      assert.match(err.message, /GANYMEDE_CRYPT_KEY/);
      assert.match(err.message, /openssl rand -hex 32/);
      return true;
    });
  });

  it('with a backend that needs auth state', async () => {
    await assert.rejects(build({}, new StateAuthenticator(true)), /the test-state login keeps auth state.*GANYMEDE_CRYPT_KEY/);
  });

  it('starts with the key set', async () => {
    const key = cryptKey(KEY);
    try {
      const built = await build({ auth: { kind: 'shared-password', enable_auth_state: true } }, new StateAuthenticator(true));
      await built.close();
    } finally {
      key.restore();
    }
  });
});

describe('auth state is stored encrypted and handed to the spawner and to preSpawnStart', () => {
  let t: TestHub;
  let spawner: TrivialSpawner;
  let env: { restore(): void };
  const hookSaw: Array<Record<string, unknown> | null> = [];
  const hooks: ConfigHooks = {
    preSpawnStart: (ctx) => {
      hookSaw.push(ctx.authState);
    },
  };
  before(async () => {
    env = cryptKey(KEY);
    spawner = trivialSpawner();
    t = await startTestHub({ auth: { kind: 'shared-password', enable_auth_state: true } }, { authenticator: new StateAuthenticator(true), spawner, hooks });
  });
  after(async () => {
    await spawner.killAll();
    await t.stop();
    env.restore();
  });

  it('keeps the login auth state encrypted in the database', async () => {
    assert.equal((await fetch(`${t.hubUrl}/hub/login`, { headers: { 'X-Test-User': 'rita' }, redirect: 'manual' })).status, 302);
    const row = await getUser(t.hub.db, 'rita');
    assert.ok(row?.auth_state, 'auth state stored');
    assert.doesNotMatch(row.auth_state, /tok-rita/, 'stored in clear');
    assert.deepEqual(t.hub.crypt.decrypt(row.auth_state), { token: 'tok-rita' });
  });

  it('SpawnRequest.authState and preSpawnStart get it decrypted', async () => {
    const token = await t.tokenFor('rita');
    const r = await t.api('POST', '/users/rita/server', { token });
    assert.ok(r.status === 201 || r.status === 202, `spawn: ${r.status} ${r.text}`);
    assert.deepEqual(spawner.calls.at(-1)?.request.authState, { token: 'tok-rita' });
    assert.deepEqual(hookSaw.at(-1), { token: 'tok-rita' });
  });
});
