/**
 * The configuration docs/firecrest.md shows is real: it loads, its login
 * passes the OIDC rules, its two FirecREST systems build, and a spawn on
 * daint (over the in-memory FirecREST of test/helpers/firecrest-api-double.ts)
 * submits the job, the environment split and the script the page says.
 * The built-in script printed on the page is the one in the code.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { checkOidcOptions, type OidcAuthConfig } from '../../src/auth/oidc/schema.js';
import { SpawnerBackends } from '../../src/spawners/backends.js';
import type { FirecrestSpawnerConfig } from '../../src/spawners/firecrest/firecrest-config.js';
import { DEFAULT_FIRECREST_SCRIPT } from '../../src/spawners/firecrest/firecrest-script.js';
import { createFirecrestSpawner } from '../../src/spawners/firecrest/firecrest-spawner.js';
import type { SpawnerState } from '../../src/spawners/spawner.js';
import { FakeUserTokens, FirecrestApiDouble } from '../helpers/firecrest-api-double.js';

const silent = pino({ level: 'silent' });
const API_TOKEN = 'hubapitoken-docs-0123456789';
const DOC = readFileSync(new URL('../../docs/firecrest.md', import.meta.url), 'utf8');

/** The fenced blocks of the page whose info string is `lang` ('' for none), each with its final newline. */
function blocks(lang: string): string[] {
  const out: string[] = [];
  let open: { lang: string; lines: string[] } | undefined;
  for (const line of DOC.split('\n')) {
    const fence = /^ *```(\S*)$/.exec(line);
    if (!open && fence) open = { lang: fence[1]!, lines: [] };
    else if (open && fence && fence[1] === '') {
      if (open.lang === lang) out.push(open.lines.map((l) => `${l}\n`).join(''));
      open = undefined;
    } else open?.lines.push(line);
  }
  return out;
}

/** The whole configuration of the page (the YAML block with `spawners:`). */
function siteConfig(): string {
  const block = blocks('yaml').find((b) => /^spawners:/m.test(b));
  assert.ok(block, 'docs/firecrest.md shows a configuration with spawners:');
  return block;
}

describe('the configuration of docs/firecrest.md', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-docs-firecrest-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const load = async (text: string): Promise<Config> => {
    const f = path.join(dir, `c${n++}.yaml`);
    writeFileSync(f, text);
    return (await loadConfig(f)).config;
  };
  const deps = (name: string, tokens: FakeUserTokens) => ({ log: silent, name, now: Date.now, fetch: globalThis.fetch, dataDir: dir, userTokens: tokens });

  it('loads; the OIDC login keeps and refreshes tokens and reads the ID token; daint and eiger build as FirecREST systems', async () => {
    const config = await load(siteConfig());
    assert.equal(config.auth.kind, 'oidc');
    const auth = config.auth as OidcAuthConfig;
    checkOidcOptions(auth);
    assert.equal(auth.userdata_from_id_token, true);
    assert.equal(auth.enable_auth_state, true);
    assert.equal(auth.refresh_pre_spawn, true);
    const backends = SpawnerBackends.fromConfig(config, { log: silent, dataDir: dir });
    assert.deepEqual(
      backends.all().map((b) => [b.name, b.spawner.kind, b.displayName]),
      [
        ['daint', 'firecrest', 'Daint'],
        ['eiger', 'firecrest', 'Eiger'],
      ],
    );
    const daint = config.spawners['daint'] as FirecrestSpawnerConfig;
    const eiger = config.spawners['eiger'] as FirecrestSpawnerConfig;
    assert.notEqual(daint.firecrest_url, eiger.firecrest_url, 'each system its own URL');
    assert.equal(daint.service_account?.client_secret_file, '/etc/ganymede/firecrest/poller-secret');
    assert.deepEqual(
      daint.form.environments.map((e) => [e.name, e.mount]),
      [
        ['jupyterlab', '/user-tools'],
        ['prgenv-gnu', '/user-environments'],
      ],
    );
    // the defaults the notes say eiger takes
    assert.equal(eiger.workdir, '/home/{{ username }}');
    assert.equal(eiger.req_runtime, '01:00:00');
    assert.equal(eiger.req_srun, '');
    await backends.close(silent);
  });

  it('the built-in script the page prints is the one in the code', () => {
    assert.ok(blocks('').includes(DEFAULT_FIRECREST_SCRIPT), 'docs/firecrest.md prints DEFAULT_FIRECREST_SCRIPT as it is');
  });

  it("alice's job on daint: the description, the environment split and the script the page shows", async () => {
    const config = (await load(siteConfig())).spawners['daint'] as FirecrestSpawnerConfig;
    const api = new FirecrestApiDouble('daint');
    const tokens = new FakeUserTokens(api);
    api.accepted.add(tokens.current('alice'));
    const spawner = createFirecrestSpawner({ ...config, startup_poll_interval: 0.01 }, deps('daint', tokens), api);
    const user = { name: 'alice', admin: false, groups: [] };
    const options = await spawner.checkOptions({ environment: 'jupyterlab', runtime: 2, nnodes: 1 }, { user, authState: null });
    const states: SpawnerState[] = [];
    const scopes = '["access:servers!server=alice/", "access:servers!user=alice"]';
    const result = await spawner.start({
      user,
      serverName: '',
      backend: 'daint',
      env: {
        JUPYTERHUB_API_TOKEN: API_TOKEN,
        JPY_API_TOKEN: API_TOKEN,
        JUPYTERHUB_API_URL: 'http://127.0.0.1:8081/hub/api',
        JUPYTERHUB_ACTIVITY_URL: 'http://127.0.0.1:8081/hub/api/users/alice/activity',
        JUPYTERHUB_USER: 'alice',
        JUPYTERHUB_CLIENT_ID: 'jupyterhub-user-alice',
        JUPYTERHUB_SERVICE_PREFIX: '/user/alice/',
        JUPYTERHUB_OAUTH_SCOPES: scopes,
        JUPYTERHUB_OAUTH_ACCESS_SCOPES: scopes,
        HOME: '/var/lib/ganymede',
        PATH: '/usr/bin',
      },
      userOptions: options,
      authState: null,
      workDir: dir,
      log: silent,
      saveState: async (s) => void states.push(s),
      progress: () => undefined,
      reportedPort: async () => 4242,
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(result.url, 'http://nid001.daint.example.org:4242', 'node_name_template makes the host');

    const [submit] = api.of('submit');
    const job = submit!.body!;
    assert.equal(submit!.token, 'alice-t1', "the user's own token");
    assert.equal(job.workingDirectory, '/home/alice');
    assert.equal(job.name, 'jupyterhub-alice');
    assert.equal(job.account, 'proj2', 'the account userinfo marks default');
    assert.equal(job.partition, 'normal', 'req_partition');
    assert.equal(job.standardOutput, '/home/alice/jupyterhub-firecrest-%j.log');
    assert.equal(job.standardError, job.standardOutput);
    assert.deepEqual(job.env, {
      JUPYTERHUB_API_URL: 'https://jupyter.example.org/hub/api',
      JUPYTERHUB_ACTIVITY_URL: 'https://jupyter.example.org/hub/api/users/alice/activity',
      JUPYTERHUB_USER: 'alice',
      JUPYTERHUB_CLIENT_ID: 'jupyterhub-user-alice',
      JUPYTERHUB_SERVICE_PREFIX: '/user/alice/',
      JUPYTERHUB_SERVICE_URL: 'http://0.0.0.0:0/user/alice/',
    });

    const script = job.script;
    assert.ok(!script.includes(API_TOKEN) && !script.includes('access:servers'), 'secrets and quoted values are not in clear');
    const b64 = Buffer.from(API_TOKEN).toString('base64');
    assert.ok(
      script.split('\n').includes(`JUPYTERHUB_API_TOKEN="$(printf '%s' '${b64}' | base64 -d; printf .)"; export JUPYTERHUB_API_TOKEN="\${JUPYTERHUB_API_TOKEN%.}"`),
      'the encoded line has the shape the page shows',
    );
    // the page's script, its encoded lines shortened to '…': every other line is the real one, in order
    const shown = blocks('sh').find((b) => b.startsWith('#!/bin/bash\n#SBATCH --nodes=1'));
    assert.ok(shown, 'the page shows the script alice gets');
    const real = script.split('\n');
    let at = 0;
    for (const line of shown.split('\n')) {
      if (line === '…') continue;
      if (line.includes("'…'")) {
        const name = line.slice(0, line.indexOf('='));
        assert.ok(real.some((l) => l.startsWith(`${name}="$(printf '%s' '`)), `the script encodes ${name}`);
        continue;
      }
      const found = real.indexOf(line, at);
      assert.ok(found >= at, `the script has the line ${JSON.stringify(line)} where the page shows it:\n${script}`);
      at = found + 1;
    }
    assert.equal(states.at(-1)!['job_id'], '101');
  });

  it('the custom environment pattern admits uenv names and refuses images', async () => {
    const config = (await load(siteConfig())).spawners['daint'] as FirecrestSpawnerConfig;
    const tokens = new FakeUserTokens();
    const spawner = createFirecrestSpawner(config, deps('daint', tokens), new FirecrestApiDouble('daint'));
    const ctx = { user: { name: 'alice', admin: false, groups: [] }, authState: null };
    const ok = await spawner.checkOptions({ environment: 'custom', custom_environment: 'prgenv-gnu/24.11:v1' }, ctx);
    assert.equal(ok['custom_environment'], 'prgenv-gnu/24.11:v1');
    await assert.rejects(spawner.checkOptions({ environment: 'custom', custom_environment: 'docker.io/library/ubuntu:24.04' }, ctx), /custom_environment .* does not match/);
  });
});
