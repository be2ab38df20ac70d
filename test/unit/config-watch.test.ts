import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { FileWatch, filesNamedBy } from '../../src/hub/config-watch.js';
import { ConfigReloader } from '../../src/hub/reload.js';
import { loadConfig } from '../../src/config/load.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = pino({ level: 'silent' });

/** Collects FileWatch callbacks; `next()` waits (bounded) for the next one. */
function recorder() {
  const calls: string[][] = [];
  return {
    calls,
    onChange: (files: string[]) => calls.push(files),
    async settle(ms = 400) {
      await sleep(ms);
      return calls.splice(0);
    },
  };
}

describe('watching the config file and the files it names', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-watch-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('sees a Kubernetes ConfigMap update (the ..data symlink swapped), and only a real change', async () => {
    // the layout kubelet makes: config.yaml -> ..data/config.yaml, ..data -> ..<timestamp>
    const mount = path.join(dir, 'k8s');
    mkdirSync(path.join(mount, '..v1'), { recursive: true });
    writeFileSync(path.join(mount, '..v1', 'config.yaml'), 'port: 8000\n');
    symlinkSync('..v1', path.join(mount, '..data'));
    symlinkSync('..data/config.yaml', path.join(mount, 'config.yaml'));
    const r = recorder();
    const w = new FileWatch({ onChange: r.onChange, log, debounceMs: 50 });
    w.watch([path.join(mount, 'config.yaml')]);
    try {
      // a new version, swapped in atomically by renaming a new link over ..data
      mkdirSync(path.join(mount, '..v2'));
      writeFileSync(path.join(mount, '..v2', 'config.yaml'), 'port: 8001\n');
      symlinkSync('..v2', path.join(mount, '..data_tmp'));
      renameSync(path.join(mount, '..data_tmp'), path.join(mount, '..data'));
      rmSync(path.join(mount, '..v1'), { recursive: true });
      assert.deepEqual(await r.settle(), [[path.join(mount, 'config.yaml')]]);
      // the same content swapped in again: no change
      mkdirSync(path.join(mount, '..v3'));
      writeFileSync(path.join(mount, '..v3', 'config.yaml'), 'port: 8001\n');
      symlinkSync('..v3', path.join(mount, '..data_tmp'));
      renameSync(path.join(mount, '..data_tmp'), path.join(mount, '..data'));
      assert.deepEqual(await r.settle(), []);
      // another file of the directory: nothing
      writeFileSync(path.join(mount, 'other.txt'), 'x');
      assert.deepEqual(await r.settle(), []);
    } finally {
      w.close();
    }
  });

  it('sees an editor\'s write-and-rename and a secret file, folding a burst into one call', async () => {
    const conf = path.join(dir, 'ganymede.yaml');
    const secret = path.join(dir, 'secrets', 'token');
    mkdirSync(path.dirname(secret), { recursive: true });
    writeFileSync(conf, 'port: 8000\n');
    writeFileSync(secret, 'one');
    const r = recorder();
    const w = new FileWatch({ onChange: r.onChange, log, debounceMs: 100 });
    w.watch([conf, secret]);
    try {
      writeFileSync(`${conf}.swp`, 'port: 8002\n');
      renameSync(`${conf}.swp`, conf);
      writeFileSync(secret, 'two');
      const calls = await r.settle();
      assert.equal(calls.length, 1, JSON.stringify(calls));
      assert.deepEqual(calls[0]!.sort(), [conf, secret].sort());
      // deleted, then back: both count
      rmSync(secret);
      assert.deepEqual(await r.settle(), [[secret]]);
      writeFileSync(secret, 'two');
      assert.deepEqual(await r.settle(), [[secret]]);
    } finally {
      w.close();
    }
    writeFileSync(conf, 'port: 9\n');
    assert.deepEqual(await r.settle(200), [], 'nothing after close');
  });

  it('finds the files a configuration names in *_file options', () => {
    assert.deepEqual(filesNamedBy({ auth: { client_secret_file: '/s/oidc' }, services: [{ api_token_file: '/s/culler' }, { api_token_file: '' }], logo_file: '' }), ['/s/oidc', '/s/culler']);
  });

  it('imports a JS config module again on reload, so changed hooks apply', async () => {
    const mod = path.join(dir, 'ganymede.config.mjs');
    const write = (greeting: string, limit: number) =>
      writeFileSync(mod, `export default { concurrent_spawn_limit: ${limit}, hooks: { optionsForm: () => ${JSON.stringify(greeting)} } };\n`);
    write('first', 5);
    const loaded = await loadConfig(mod);
    const target = { config: loaded.config, hooks: loaded.hooks, db: undefined as never, log, identities: { clear: () => undefined } };
    const reloader = new ConfigReloader(target, { file: mod });
    assert.equal((await reloader.reload('test')).result, 'unchanged');
    write('second', 5);
    const outcome = await reloader.reload('test');
    assert.deepEqual(outcome.changed, ['hooks']);
    assert.equal(await target.hooks.optionsForm?.({ name: 'a', admin: false, groups: [] }), 'second');
    write('second', 6);
    assert.deepEqual((await reloader.reload('test')).changed, ['concurrent_spawn_limit']);
    assert.equal(target.config.concurrent_spawn_limit, 6);
  });

  it('never runs two reloads at once: those asked for during one are folded into the next', async () => {
    const config = (await loadConfig(undefined)).config;
    let reads = 0;
    let running = 0;
    const load = async () => {
      reads++;
      running++;
      assert.equal(running, 1, 'one reload at a time');
      await sleep(50);
      running--;
      return { config: { ...config, concurrent_spawn_limit: 10 + reads }, hooks: {}, source: undefined };
    };
    const target = { config, hooks: {}, db: undefined as never, log, identities: { clear: () => undefined } };
    const reloader = new ConfigReloader(target, { file: undefined, load });
    const first = reloader.reload('a');
    await sleep(10); // it reads the file now
    const outcomes = await Promise.all([first, reloader.reload('b'), reloader.reload('c'), reloader.reload('d')]);
    assert.equal(reads, 2, 'the first, then one for all that came while it ran');
    assert.deepEqual(outcomes.map((o) => o.trigger), ['a', 'b', 'b', 'b']);
    assert.equal(target.config.concurrent_spawn_limit, 12);
    assert.deepEqual(reloader.status().counts, { applied: 2, unchanged: 0, refused: 0 });
  });
});
