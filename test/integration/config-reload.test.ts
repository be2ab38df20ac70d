import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import YAML from 'yaml';
import { loginCookieHeader, Browser } from '../helpers/browser.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { ConfigReloader, type ReloadOutcome } from '../../src/hub/reload.js';
import { applyServices } from '../../src/services/apply-services.js';
import { configuredServices } from '../../src/services/service-config.js';
import type { Config } from '../../src/config/schema.js';

/**
 * The live reload (src/hub/reload.ts) on an in-process hub with the trivial
 * server: live options apply at the next request, restart-only ones keep
 * their running value, an invalid file changes nothing and is logged.
 */
describe('live configuration reload', () => {
  let t: TestHub;
  let file: string;
  let reloader: ConfigReloader;
  const lines: Array<Record<string, unknown>> = [];
  let base: Record<string, unknown>;

  /** Writes the running config with `changes` merged at the top level. */
  const writeConfig = (changes: Record<string, unknown>) => {
    base = { ...base, ...changes };
    writeFileSync(file, YAML.stringify(base));
  };
  const canLogIn = async (name: string) => (await new Browser(t.hubUrl).login(name, 'test-password')).status === 302;

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    t = await startTestHub({ allowed_users: ['ann'], log_level: 'info' }, { log: pino({ level: 'info' }, sink) });
    file = path.join(t.dataDir, 'ganymede.yaml');
    base = JSON.parse(JSON.stringify(t.hub.config)) as Record<string, unknown>;
    writeConfig({});
    reloader = new ConfigReloader(t.hub, { file, debounceMs: 50, applyServices: (next) => applyServices(t.hub, configuredServices(next), { config: next }) });
    t.hub.configReload = reloader; // as startHub does
  });
  after(async () => {
    reloader.close();
    await t.stop();
  });

  it('finds nothing to apply in the unchanged file', async () => {
    const before = t.hub.config;
    const outcome = await reloader.reload('test');
    assert.equal(outcome.result, 'unchanged', JSON.stringify(outcome));
    assert.deepEqual(t.hub.config, before);
  });

  it('lets a newly allowed user log in, and no longer one removed', async () => {
    assert.equal(await canLogIn('bob'), false, 'bob is not in allowed_users yet');
    writeConfig({ allowed_users: ['bob'] });
    const outcome = await reloader.reload('test');
    assert.deepEqual([outcome.result, outcome.changed], ['applied', ['allowed_users']]);
    assert.equal(await canLogIn('bob'), true);
    assert.equal(await canLogIn('ann'), false);
    writeConfig({ allowed_users: ['ann', 'bob', 'cat'] });
    await reloader.reload('test');
  });

  it('enforces a new active_server_limit at the next spawn, without touching the running server', async () => {
    const admin = await t.tokenFor('root-admin', { admin: true });
    const start = (user: string) => t.api('POST', `/users/${user}/server`, { token: admin });
    for (const name of ['ann', 'bob']) await t.tokenFor(name); // the users exist
    const first = await start('ann');
    assert.ok(first.status === 201 || first.status === 202, first.text);
    writeConfig({ active_server_limit: 1 });
    assert.deepEqual((await reloader.reload('test')).changed, ['active_server_limit']);
    const refused = await start('bob');
    assert.equal(refused.status, 429, refused.text);
    assert.match(String((refused.body as { message?: string }).message), /Active user limit/);
    const ann = await t.api('GET', '/users/ann', { token: admin });
    assert.equal((ann.body as { servers: Record<string, { ready: boolean }> }).servers['']?.ready, true, 'ann\'s server still runs');
    writeConfig({ active_server_limit: 0 });
    await reloader.reload('test');
    const second = await start('bob');
    assert.ok(second.status === 201 || second.status === 202, second.text);
  });

  it('refuses an invalid file: one log line names each problem, nothing changes', async () => {
    const running = t.hub.config;
    writeFileSync(file, YAML.stringify({ ...base, concurrent_spawn_limit: 'five', allowed_users: ['dan'], bogus_option: 1 }));
    lines.length = 0;
    const outcome = await reloader.reload('test');
    assert.equal(outcome.result, 'refused');
    assert.equal(outcome.problems.length, 2, outcome.problems.join('\n'));
    assert.ok(outcome.problems.some((p) => p.startsWith('concurrent_spawn_limit:')));
    assert.ok(outcome.problems.some((p) => p.startsWith('bogus_option: unknown option')));
    assert.equal(t.hub.config, running, 'the running configuration object is kept');
    const logged = lines.filter((l) => l['level'] === 50);
    assert.equal(logged.length, 1, JSON.stringify(lines));
    assert.match(String(logged[0]!['msg']), /refused \(2 problems\)/);
    assert.deepEqual(logged[0]!['problems'], outcome.problems);
    assert.equal(await canLogIn('dan'), false);
    assert.equal(reloader.status().counts.refused, 1);
    writeConfig({});
  });

  it('keeps restart-only options at their running value and says so, applying the rest', async () => {
    const port = t.hub.config.port;
    const hub = base['hub'];
    lines.length = 0;
    writeConfig({ port: port + 1, hub: { ip: '127.0.0.1', port: 1 }, concurrent_spawn_limit: 7 });
    const outcome = await reloader.reload('test');
    assert.deepEqual(outcome.restart_needed.sort(), ['hub', 'port']);
    assert.deepEqual(outcome.changed, ['concurrent_spawn_limit']);
    assert.equal(t.hub.config.port, port);
    assert.equal(t.hub.config.hub.port, t.hubPort);
    assert.equal(t.hub.config.concurrent_spawn_limit, 7);
    assert.ok(lines.some((l) => l['level'] === 40 && /need a restart/.test(String(l['msg'])) && JSON.stringify((l['options'] as string[]).sort()) === JSON.stringify(['hub', 'port'])), JSON.stringify(lines));
    assert.deepEqual(reloader.status().restart_pending.sort(), ['hub', 'port']);
    const info = await t.api('GET', '/info', { token: await t.tokenFor('root-admin', { admin: true }) });
    const shown = (info.body as { config_reload?: { restart_pending: string[]; last: ReloadOutcome } }).config_reload;
    assert.deepEqual(shown?.restart_pending.sort(), ['hub', 'port']);
    assert.equal(shown?.last.result, 'applied');
    writeConfig({ port, hub });
    await reloader.reload('test');
    assert.deepEqual(reloader.status().restart_pending, []);
  });

  it('writes changed roles to the database and drops cached identities', async () => {
    const token = await t.tokenFor('eve', { scopes: ['inherit'] });
    assert.equal((await t.api('GET', '/users', { token, validate: false })).status, 403);
    writeConfig({ roles: [{ name: 'reader', scopes: ['list:users', 'read:users'], users: ['eve'] }] });
    const outcome = await reloader.reload('test');
    assert.deepEqual(outcome.changed, ['roles']);
    assert.equal((await t.api('GET', '/users', { token })).status, 200);
  });

  it('refuses roles that cannot be stored, leaving the database as it was', async () => {
    writeConfig({ roles: [{ name: 'reader', scopes: ['no-such-scope'], users: ['eve'] }] });
    const outcome = await reloader.reload('test');
    assert.equal(outcome.result, 'refused');
    assert.match(outcome.problems.join(), /no-such-scope/);
    const token = await t.tokenFor('eve', { scopes: ['inherit'] });
    assert.equal((await t.api('GET', '/users', { token })).status, 200, 'the stored role still applies');
    writeConfig({ roles: [{ name: 'reader', scopes: ['list:users', 'read:users'], users: ['eve'] }] });
  });

  it('changes the log level of loggers made before the reload, and the headers of the next answer', async () => {
    const child = t.hub.log.child({ part: 'made-before' });
    assert.equal(child.isLevelEnabled('debug'), false);
    writeConfig({ log_level: 'debug', headers: { 'X-Reload-Test': 'yes' } });
    const outcome = await reloader.reload('test');
    assert.deepEqual(outcome.changed.sort(), ['headers', 'log_level']);
    assert.equal(child.isLevelEnabled('debug'), true);
    const res = await fetch(`${t.hubUrl}/hub/api/`);
    assert.equal(res.headers.get('x-reload-test'), 'yes');
    const missing = await fetch(`${t.hubUrl}/hub/api/no-such-route`);
    assert.equal(missing.headers.get('x-reload-test'), 'yes', 'error answers too');
    writeConfig({ log_level: 'info', headers: {} });
    await reloader.reload('test');
    assert.equal(child.isLevelEnabled('debug'), false);
  });

  it('makes a new admin_users name admin at once, and the shared-password login asks it for the admin password', async () => {
    await loginCookieHeader(t.hubUrl, 'cat', 'test-password');
    writeConfig({ admin_users: ['cat'] });
    await reloader.reload('test');
    const admin = await t.tokenFor('root-admin', { admin: true });
    assert.equal(((await t.api('GET', '/users/cat', { token: admin })).body as { admin: boolean }).admin, true);
    assert.equal(await canLogIn('cat'), false, 'an admin never logs in with the shared password');
  });

  it('reloads by itself when the file changes (debounced, one reload for several writes)', async () => {
    reloader.watch();
    const seen: ReloadOutcome[] = [];
    const stop = reloader.onReload((o) => seen.push(o));
    try {
      writeConfig({ named_server_limit_per_user: 2 });
      writeConfig({ named_server_limit_per_user: 3 });
      const deadline = Date.now() + 5000;
      while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(seen.length, 1, JSON.stringify(seen));
      assert.match(seen[0]!.trigger, /^file changed: ganymede\.yaml/);
      assert.equal((t.hub.config as Config).named_server_limit_per_user, 3);
    } finally {
      stop();
    }
  });
});
