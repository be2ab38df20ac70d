import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { stopEverythingOffline } from '../../src/cli/stop.js';
import { startTestHub, testHubConfig, TRIVIAL_SERVER, type TestHub } from '../helpers/hub.js';
import { assertServerReset, eventually, serverRecord } from '../helpers/server-state.js';

const BASE = { data_dir: '/tmp/ganymede-never-used', auth: { kind: 'shared-password', shared_password: 'long-enough-password' } };
const trivial = (extra: Record<string, unknown> = {}) => ({ kind: 'local-process', cmd: [process.execPath, TRIVIAL_SERVER], run_as: 'hub', ...extra });

/**
 * `spawners:` in the config: each entry is validated as its `kind` (with
 * that kind's defaults), names are checked, and two real local-process
 * back-ends with different options both run servers from one hub.
 */
describe('spawners: in the config', () => {
  it('validates, filling each entry\'s defaults', () => {
    const config = validateConfig({ ...BASE, spawners: { local: { kind: 'local-process' }, 'cluster_a-2': { kind: 'local-process', args: ['--x'], allowed_groups: ['hpc'] } } });
    assert.deepEqual(Object.keys(config.spawners), ['local', 'cluster_a-2']);
    assert.deepEqual(config.spawners['local']!.allowed_groups, []);
    assert.equal(config.spawners['local']!.display_name, '');
    assert.deepEqual(config.spawners['local']!.cmd, ['jupyterhub-singleuser']);
    const second = config.spawners['cluster_a-2']!;
    assert.ok(second.kind === 'local-process');
    assert.deepEqual(second.args, ['--x']);
    assert.deepEqual(config.spawners['cluster_a-2']!.allowed_groups, ['hpc']);
  });

  it('refuses a bad back-end name, naming it', () => {
    for (const name of ['Bad Name', 'UPPER', '-dash', 'a'.repeat(64), 'dot.ted']) {
      assert.throws(
        () => validateConfig({ ...BASE, spawners: { [name]: { kind: 'local-process' } } }),
        (err: Error) => err.message.includes(`spawners.${name}`) && /not a valid name/.test(err.message) && /lower-case/.test(err.message),
        name,
      );
    }
  });

  it('refuses an unknown option or a bad value inside an entry, naming the key', () => {
    assert.throws(() => validateConfig({ ...BASE, spawners: { local: { kind: 'local-process', bogus: 1 } } }), /spawners\.local\.bogus: unknown option/);
    assert.throws(() => validateConfig({ ...BASE, spawners: { local: { kind: 'local-process', cmd: 3 } } }), /spawners\.local\.cmd: expected array/);
    assert.throws(() => validateConfig({ ...BASE, spawners: { local: { kind: 'local-process', allowed_groups: 'hpc' } } }), /spawners\.local\.allowed_groups/);
    assert.throws(() => validateConfig({ ...BASE, spawners: { local: { kind: 'nope' } } }), /spawners\.local\.kind/);
    assert.throws(() => validateConfig({ ...BASE, spawners: { local: 'local-process' } }), /spawners\.local/);
  });
});

describe('two real local-process back-ends from one hub', () => {
  let t: TestHub;
  let tok: string;

  before(async () => {
    t = await startTestHub({ allow_named_servers: true, spawners: { plain: trivial(), flagged: trivial({ args: ['--second-backend'], display_name: 'Flagged' }) } });
    tok = await t.tokenFor('bea');
  });
  after(async () => {
    await t.stop();
  });

  it('each back-end starts servers with its own options', async () => {
    assert.equal((await t.api('POST', '/users/bea/servers/one', { token: tok })).status, 201);
    assert.equal((await t.api('POST', '/users/bea/servers/two', { token: tok, body: { backend: 'flagged' } })).status, 201);
    assert.equal((await serverRecord(t, 'bea', 'one')).row!.spawner, 'plain');
    assert.equal((await serverRecord(t, 'bea', 'two')).row!.spawner, 'flagged');
    const one = (await (await fetch(`${t.publicUrl}/user/bea/one/api`)).json()) as { argv: string[] };
    const two = (await (await fetch(`${t.publicUrl}/user/bea/two/api`)).json()) as { argv: string[] };
    assert.ok(!one.argv.includes('--second-backend'), one.argv.join(' '));
    assert.ok(two.argv.includes('--second-backend'), two.argv.join(' '));
    const model = (await t.api('GET', '/users/bea', { token: tok })).body as { servers: Record<string, { user_options: unknown }> };
    assert.deepEqual(model.servers['one']!.user_options, { backend: 'plain' });
    assert.deepEqual(model.servers['two']!.user_options, { backend: 'flagged' });
  });

  it('ganymede stop (offline) stops the servers of every back-end', async () => {
    const direct = await Promise.all(['one', 'two'].map(async (s) => (await serverRecord(t, 'bea', s)).row!.url!));
    await t.detach();
    const config = testHubConfig(t.dataDir, t.hubPort, { allow_named_servers: true, spawners: { plain: trivial(), flagged: trivial({ args: ['--second-backend'] }) } });
    const said = await stopEverythingOffline(config, { servers: true, proxy: false }, pino({ level: 'silent' }));
    assert.ok(said.includes('servers: 2 stopped'), said.join('\n'));
    for (const url of direct) {
      await eventually(
        () =>
          fetch(`${url}/user/bea/`).then(
            () => false,
            () => true,
          ),
        5000,
        `${url} gone`,
      );
    }
    // the rows are cleared; a hub on the same data dir starts clean
    t = await startTestHub(
      { allow_named_servers: true, spawners: { plain: trivial(), flagged: trivial() } },
      { dataDir: t.dataDir, proxyServer: t.proxyServer, hubPort: t.hubPort, reattach: true },
    );
    assert.deepEqual(t.reattached, { kept: 0, cleared: 0, resumed: 0 });
    for (const s of ['one', 'two']) await assertServerReset(t, 'bea', s);
  });
});
