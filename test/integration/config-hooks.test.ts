import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyRequest } from 'fastify';
import type { Authenticator, AuthResult } from '../../src/auth/authenticator.js';
import type { ConfigHooks, PostStopContext } from '../../src/config/hooks.js';
import { loadConfig } from '../../src/config/load.js';
import { getUser } from '../../src/db/repos/users.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { eventually } from '../helpers/server-state.js';
import { trivialSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';
import { VaultStandIn } from '../helpers/vault-standin.js';

const EXAMPLE = fileURLToPath(new URL('../../docs/examples/vault-hooks.mjs', import.meta.url));
const ENV_SERVER = fileURLToPath(new URL('../fixtures/env-server.mjs', import.meta.url));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Sets environment variables of the hub process for one test; `restore` puts them back. */
function withEnv(vars: Record<string, string>): { restore(): void } {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  return {
    restore() {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    },
  };
}

/**
 * The platform stack's hook (docs/examples/vault-hooks.mjs, loaded as a config
 * module): a Vault token per server in NOTEBOOK_VAULT_TOKEN, revoked at stop;
 * the real local-process spawner runs a server that reports what it was given.
 */
describe('the Vault pre_spawn_hook example', () => {
  let vault: VaultStandIn;
  let t: TestHub;
  let env: { restore(): void };
  before(async () => {
    vault = await new VaultStandIn().start();
    env = withEnv({ VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken });
    const { hooks } = await loadConfig(EXAMPLE);
    assert.deepEqual(Object.keys(hooks).sort(), ['post_stop_hook', 'pre_spawn_hook']);
    t = await startTestHub({ spawner: { cmd: [process.execPath, ENV_SERVER] } }, { hooks });
  });
  after(async () => {
    await t.stop();
    await vault.stop();
    env.restore();
  });

  it("creates a Vault token for the user's server, which the server gets as NOTEBOOK_VAULT_TOKEN", async () => {
    const tok = await t.tokenFor('vera');
    assert.equal((await t.api('POST', '/users/vera/server', { token: tok })).status, 201);
    assert.equal(vault.created.length, 1);
    const created = vault.created[0]!;
    assert.deepEqual(created.body['policies'], ['user-vera']);
    assert.equal(created.body['ttl'], '12h');
    assert.deepEqual(created.body['meta'], { user: 'vera', server: '' });
    const seen = (await (await fetch(`${t.publicUrl}/user/vera/`)).json()) as { vault_token_sha256: string; notebook_vars: string[] };
    assert.equal(seen.vault_token_sha256, sha256(created.clientToken));
    assert.deepEqual(seen.notebook_vars, ['NOTEBOOK_VAULT_TOKEN']);
  });

  it('revokes the token when the server stops', async () => {
    const tok = await t.tokenFor('vera');
    assert.equal((await t.api('DELETE', '/users/vera/server', { token: tok })).status, 204);
    await eventually(() => vault.revoked.length === 1, 5000, 'the revocation');
    assert.deepEqual(vault.revoked, [vault.created[0]!.accessor]);
  });

  it('a Vault that refuses fails the spawn with a message naming the hook and the reason', async () => {
    const wrong = withEnv({ VAULT_TOKEN: 'hvs.not-the-right-one' });
    try {
      const tok = await t.tokenFor('walt');
      const r = await t.api('POST', '/users/walt/server', { token: tok });
      assert.equal(r.status, 500);
      assert.equal((r.body as { message: string }).message, "Spawn of walt's server was refused by the hub's pre_spawn_hook: Vault answered 403 to /v1/auth/token/create");
      const user = (await t.api('GET', '/users/walt', { token: tok })).body as { servers: Record<string, unknown> };
      assert.deepEqual(user.servers, {}, 'no server left running or pending');
    } finally {
      wrong.restore();
    }
  });
});

/** Header login whose auth state is `{access_token: "at-<name>"}`. */
class StateAuthenticator implements Authenticator {
  readonly kind = 'test-state';
  readonly loginHeader = 'X-Test-User';
  async authenticateRequest(req: FastifyRequest): Promise<AuthResult | null> {
    const name = req.headers['x-test-user'];
    return typeof name === 'string' ? { name, authState: { access_token: `at-${name}` } } : null;
  }
}

describe('auth_state_hook, pre_spawn_hook, modify_env and post_stop_hook in code', () => {
  let t: TestHub;
  let spawner: TrivialSpawner;
  let env: { restore(): void };
  const order: string[] = [];
  const stops: Omit<PostStopContext, 'log'>[] = [];
  const hooks: ConfigHooks = {
    auth_state_hook: ({ authState }) => {
      order.push('auth_state_hook');
      return { env: { NOTEBOOK_ACCESS_TOKEN: String(authState?.['access_token']) }, project: 'p1' };
    },
    pre_spawn_hook: ({ env: e, fromAuthState }) => {
      order.push('pre_spawn_hook');
      e['NOTEBOOK_PROJECT'] = String(fromAuthState['project']);
    },
    preSpawnStart: () => void order.push('preSpawnStart'),
    modify_env: ({ env: e, user }) => {
      order.push('modify_env');
      const { NOTEBOOK_PROJECT: project, ...rest } = e;
      return { ...rest, NOTEBOOK_WORKSPACE: `/work/${project}/${user}` };
    },
    post_stop_hook: ({ log: _log, ...ctx }) => {
      stops.push(ctx);
      if (ctx.user === 'boris') throw new Error('the clean-up service is down');
    },
  };
  before(async () => {
    env = withEnv({ GANYMEDE_CRYPT_KEY: 'cd'.repeat(32) });
    spawner = trivialSpawner();
    t = await startTestHub({ auth: { kind: 'shared-password', enable_auth_state: true } }, { authenticator: new StateAuthenticator(), spawner, hooks });
  });
  after(async () => {
    await t.stop();
    await spawner.killAll();
    env.restore();
  });

  it('run in order; auth_state_hook sees the auth state, its values reach the environment, modify_env returns the final one', async () => {
    assert.equal((await fetch(`${t.hubUrl}/hub/login`, { headers: { 'X-Test-User': 'ada' }, redirect: 'manual' })).status, 302);
    assert.ok((await getUser(t.hub.db, 'ada'))?.auth_state);
    const tok = await t.tokenFor('ada');
    assert.equal((await t.api('POST', '/users/ada/server', { token: tok })).status, 201);
    assert.deepEqual(order, ['auth_state_hook', 'pre_spawn_hook', 'preSpawnStart', 'modify_env']);
    const given = spawner.calls.at(-1)!.request.env;
    assert.equal(given['NOTEBOOK_ACCESS_TOKEN'], 'at-ada');
    assert.equal(given['NOTEBOOK_WORKSPACE'], '/work/p1/ada');
    assert.equal(given['NOTEBOOK_PROJECT'], undefined, 'modify_env removed it');
    assert.ok(given['JUPYTERHUB_API_TOKEN'], 'the hub’s own variables are kept');
  });

  it('post_stop_hook runs after a stop asked for, and after a server the poll loop finds dead', async () => {
    const tok = await t.tokenFor('ada');
    assert.equal((await t.api('DELETE', '/users/ada/server', { token: tok })).status, 204);
    await eventually(() => stops.length === 1, 5000, 'post_stop_hook');
    assert.deepEqual(stops[0], { user: 'ada', serverName: '', backend: 'default', reason: 'stopped' });

    const cleo = await t.tokenFor('cleo');
    assert.equal((await t.api('POST', '/users/cleo/server', { token: cleo })).status, 201);
    await spawner.killAll();
    await eventually(async () => {
      await t.hub.servers.pollRound();
      return stops.length === 2;
    }, 10_000, 'the poll loop to find the server dead');
    assert.deepEqual(stops[1], { user: 'cleo', serverName: '', backend: 'default', reason: 'died' });
  });

  it('a failing post_stop_hook neither blocks nor undoes the stop', async () => {
    const tok = await t.tokenFor('boris');
    assert.equal((await t.api('POST', '/users/boris/server', { token: tok })).status, 201);
    assert.equal((await t.api('DELETE', '/users/boris/server', { token: tok })).status, 204);
    await eventually(() => stops.some((s) => s.user === 'boris'), 5000, 'post_stop_hook');
    const user = (await t.api('GET', '/users/boris', { token: tok })).body as { servers: Record<string, unknown> };
    assert.deepEqual(user.servers, {});
  });

  it('a modify_env that returns no environment of strings fails the spawn, naming the hook', async () => {
    const saved = t.hub.hooks.modify_env;
    t.hub.hooks.modify_env = ({ env: e }) => ({ ...e, NOTEBOOK_CPUS: 4 as unknown as string });
    try {
      const tok = await t.tokenFor('dora');
      const r = await t.api('POST', '/users/dora/server', { token: tok });
      assert.equal(r.status, 500);
      assert.equal((r.body as { message: string }).message, `Spawn of dora's server was refused by the hub's modify_env: the environment variable "NOTEBOOK_CPUS" is not a string`);
      // its spawn failed: post_stop_hook is told so
      await eventually(() => stops.some((s) => s.user === 'dora' && s.reason === 'spawn-failed'), 5000, 'post_stop_hook');
    } finally {
      t.hub.hooks.modify_env = saved!;
    }
  });
});

describe('hooks in a config module', () => {
  it('refuses preSpawnStart and pre_spawn_hook together (one is the older name of the other)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-hooks-'));
    const file = path.join(dir, 'ganymede.config.mjs');
    writeFileSync(file, 'export default { hooks: { preSpawnStart() {}, pre_spawn_hook() {} } };\n');
    try {
      await assert.rejects(loadConfig(file), /hooks: preSpawnStart is the older name of pre_spawn_hook; give only one of them/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('suggests the JupyterHub name of a misspelt hook', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-hooks-'));
    const file = path.join(dir, 'ganymede.config.mjs');
    writeFileSync(file, 'export default { hooks: { post_stop_hok() {} } };\n');
    try {
      await assert.rejects(loadConfig(file), /hooks\.post_stop_hok: unknown hook \(did you mean "post_stop_hook"\?\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
