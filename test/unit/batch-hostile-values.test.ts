/**
 * Issue 11 (review): values from outside that reach the batch script or a
 * scheduler command line, driven through BatchSpawner.start with a submit
 * command that only records what it got (no Slurm needed):
 * - a user option with a space would add options to its `#SBATCH` line
 *   (`--partition=debug --hold`, `--gpus=8` past the form's limit): refused
 *   with a 400 naming the option, nothing submitted;
 * - the system account `root` (a hub user called root, or an identity
 *   provider's auth state) is refused, as are names that are shell or option
 *   syntax; a saved state naming root is refused before it reaches `sudo`.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError, HubError, SpawnError } from '../../src/lib/errors.js';
import type { BatchSpawner } from '../../src/spawners/batch/batch-spawner.js';
import { readBatchState } from '../../src/spawners/batch/batch-state.js';
import { createSpawner } from '../../src/spawners/registry.js';
import type { SpawnRequest } from '../../src/spawners/spawner.js';

const log = pino({ level: 'silent' });
const work = mkdtempSync(path.join(os.tmpdir(), 'ganymede-hostile-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Where the recording submit command writes the script it got (it then prints no job id: the spawn fails after it). */
const SUBMITTED = path.join(work, 'submitted');

function spawner(extra: Record<string, unknown> = {}): BatchSpawner {
  return createSpawner(
    validateConfig({
      spawner: {
        kind: 'slurm',
        exec_prefix: '',
        batch_submit_cmd: `cat > ${SUBMITTED}; echo 'sbatch: error: test stops here' >&2; exit 1`,
        cmd: ['true'],
        form_fields: [
          { name: 'partition', label: 'Partition', type: 'text' },
          { name: 'note', label: 'Note', type: 'text' },
          { name: 'options', label: 'Extra options', type: 'text' },
        ],
        ...extra,
      },
    }).spawner,
    { log, name: 'cluster-test', now: Date.now, fetch: globalThis.fetch, dataDir: work },
  ) as BatchSpawner;
}

function request(s: BatchSpawner, userOptions: Record<string, unknown>, more: Partial<SpawnRequest> = {}): SpawnRequest {
  const user = more.user ?? { name: 'alice', admin: false, groups: [] };
  const authState = more.authState ?? null;
  return {
    user,
    serverName: '',
    backend: 'cluster-test',
    env: { JUPYTERHUB_API_TOKEN: 'secret-token', JUPYTERHUB_API_URL: 'http://127.0.0.1:8081/hub/api' },
    userOptions: s.checkOptions(userOptions, { user, authState }),
    authState,
    workDir: work,
    log,
    saveState: async () => undefined,
    progress: () => undefined,
    reportedPort: async () => undefined,
    signal: AbortSignal.timeout(10_000),
    ...more,
  };
}

/** Starts, expecting a failure; the script the submit command got, or undefined when nothing was submitted. */
async function attempt(s: BatchSpawner, req: SpawnRequest, check: (err: unknown) => boolean): Promise<string | undefined> {
  rmSync(SUBMITTED, { force: true });
  await assert.rejects(s.start(req), check);
  return existsSync(SUBMITTED) ? readFileSync(SUBMITTED, 'utf8') : undefined;
}

const refused400 = (re: RegExp) => (err: unknown) => err instanceof HubError && err.status === 400 && re.test(err.message);

describe('a user option cannot add options to its #SBATCH line', () => {
  it('a tab or a line break is refused already by the form check', () => {
    const s = spawner();
    for (const value of ['debug\t--uid=0', 'debug\n#SBATCH --uid=0']) assert.throws(() => request(s, { partition: value }), refused400(/control characters/));
  });

  for (const value of ['debug --hold', 'gpu --gpus=8', 'debug\u00a0--export=ALL', 'debug\u2003--hold']) {
    it(`partition ${JSON.stringify(value)} is refused on every path (checkOptions, and the script's variables), nothing submitted`, async () => {
      const s = spawner();
      assert.throws(() => request(s, { partition: value }), refused400(/Option "partition" holds a space/));
      const unchecked = { ...request(s, {}), userOptions: { partition: value } }; // a caller that skipped checkOptions
      assert.equal(await attempt(s, unchecked, refused400(/Option "partition" holds a space/)), undefined, 'nothing was submitted');
    });
  }

  it('a form field by its own name is one word too', async () => {
    const s = spawner();
    assert.throws(() => request(s, { note: 'a --hold' }), refused400(/Option "note" holds a space/));
    assert.equal(await attempt(s, { ...request(s, {}), userOptions: { note: 'a --hold' } }, refused400(/Option "note" holds a space/)), undefined);
  });

  it('one word still reaches its line; `options` may hold several (extra #SBATCH options by definition)', async () => {
    const s = spawner();
    const script = await attempt(s, request(s, { partition: 'debug', options: '--nodes=1 --exclusive' }), (err) => err instanceof SpawnError && /test stops here/.test(err.message));
    assert.match(script!, /^#SBATCH --partition=debug$/m);
    assert.match(script!, /^#SBATCH --nodes=1 --exclusive$/m);
    assert.doesNotMatch(script!.split('\n').filter((l) => l.startsWith('#SBATCH')).join('\n'), /secret-token/, 'the token is never in a directive');
  });
});

describe('form values with a space in the config', () => {
  it('are a config error naming the key (they could never be used), except for options', () => {
    const choice = { name: 'partition', label: 'P', type: 'select', choices: [{ value: 'gpu large', label: 'GPU' }] };
    assert.throws(() => spawner({ form_fields: [choice] }), (err: unknown) => err instanceof ConfigError && /form_fields\[0\]\.choices\[0\]\.value: holds a space/.test(err.message));
    const text = { name: 'qos', label: 'Q', type: 'text', default: 'a b' };
    assert.throws(() => spawner({ form_fields: [text] }), (err: unknown) => err instanceof ConfigError && /form_fields\[0\]\.default: holds a space/.test(err.message));
    assert.ok(spawner({ form_fields: [{ name: 'options', label: 'O', type: 'text', default: '--nodes=1 --exclusive' }] }));
  });
});

describe('hub user and server names in a site batch script', () => {
  const SITE_SCRIPT = '#!/bin/bash\n#SBATCH --job-name=jupyter-{{ hub_username }}-{{ server_name }}\n{{ cmd }}\n';

  it('a server name with a space is refused when the script uses it, naming it', async () => {
    const s = spawner({ batch_script: SITE_SCRIPT });
    const script = await attempt(s, request(s, {}, { serverName: 'x --hold' }), refused400(/server name "x --hold" holds a space.*uses server_name/));
    assert.equal(script, undefined);
  });

  it('a user name with a space likewise', async () => {
    const s = spawner({ batch_script: SITE_SCRIPT, system_user_name: 'alice' });
    const user = { name: 'ann --uid=0', admin: false, groups: [] };
    assert.equal(await attempt(s, request(s, {}, { user, serverName: 'gpu' }), refused400(/user name "ann --uid=0" holds a space.*uses hub_username/)), undefined);
  });

  it('names without spaces reach the script; a script that does not use them takes any name', async () => {
    const stops = (err: unknown) => err instanceof SpawnError && /test stops here/.test(err.message);
    const site = spawner({ batch_script: SITE_SCRIPT });
    assert.match((await attempt(site, request(site, {}, { serverName: 'gpu' }), stops))!, /^#SBATCH --job-name=jupyter-alice-gpu$/m);
    const plain = spawner();
    assert.ok(await attempt(plain, request(plain, {}, { serverName: 'my server' }), stops), 'the default script never mentions the names');
  });
});

describe('the system account jobs run as', () => {
  it('is never root, whether from the hub user name or the auth state', async () => {
    const s = spawner();
    const root = { name: 'root', admin: false, groups: [] };
    assert.equal(await attempt(s, request(s, {}, { user: root }), (err) => err instanceof SpawnError && err.status === 400 && /"root".*jobs never run as root/.test(err.message)), undefined);
    const fromIdp = spawner({ system_user_name: '{{ auth_state.username }}' });
    assert.equal(
      await attempt(fromIdp, request(fromIdp, {}, { authState: { username: 'root' } }), (err) => err instanceof SpawnError && err.status === 400 && /jobs never run as root/.test(err.message)),
      undefined,
    );
  });

  for (const name of ['x; rm -rf ~', '-u root', '$(id)', '`id`', 'ali ce', '../etc', "al'ice", '0', ' root ']) {
    it(`refuses ${JSON.stringify(name)} from an identity provider before any command runs`, async () => {
      const s = spawner({ system_user_name: '{{ auth_state.username }}' });
      const script = await attempt(s, request(s, {}, { authState: { username: name } }), (err) => err instanceof SpawnError && err.status === 400 && /not a valid account name|never run as root/.test(err.message));
      assert.equal(script, undefined);
    });
  }

  it('a saved state naming root is refused before it reaches exec_prefix', () => {
    assert.throws(() => readBatchState({ v: 1, job_id: '42', system_user: 'root', where: 'x' }), /bad system user/);
  });
});
