/**
 * The configurations docs/slurm.md and docs/spawners.md show are real: each
 * one loads and its back-ends build (which also checks `form_fields`, what
 * `config check` alone does not), and the BriCS one, in production and in
 * dev mode, sends the command lines and the script the page says, through a
 * transport that records them instead of running them.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { SpawnerBackends } from '../../src/spawners/backends.js';
import type { SlurmSpawnerConfig } from '../../src/spawners/batch/batch-config.js';
import { createSlurmSpawner } from '../../src/spawners/batch/slurm-spawner.js';
import type { CommandResult, RunOptions, Transport } from '../../src/spawners/batch/transport.js';
import type { SpawnerState } from '../../src/spawners/spawner.js';

const silent = pino({ level: 'silent' });

/** The values a deployment would give (docs/slurm.md, "BriCS: the complete configuration"). */
const ENV: Record<string, string> = {
  GANYMEDE_CRYPT_KEY: 'ab'.repeat(32),
  DEPLOY_CONFIG_SSH_HOSTNAME: 'login1.example.org',
  DEPLOY_CONFIG_SLURM_SPAWNER_WRAPPERS_BIN: '/opt/slurmspawner_wrappers/bin',
  DEPLOY_CONFIG_CONDA_PREFIX_DIR: '/opt/conda',
  DEPLOY_CONFIG_JUPYTER_DATA_DIR: '/opt/jupyter/share/jupyter',
  DEPLOY_CONFIG_HUB_CONNECT_URL: 'http://hub.example.org:8081',
  DEPLOY_CONFIG_OIDC_SERVER: 'https://keycloak.example.org/realms/example',
  DEPLOY_CONFIG_JWT_AUDIENCE: 'zenith-jupyter',
  DEPLOY_CONFIG_BRICS_PLATFORM: 'brics.aip1.notebooks',
  DEPLOY_CONFIG_LOGOUT_URL: 'https://notebooks.example.org/_oidc/sign_out?rd=https%3A%2F%2Fnotebooks.example.org%2F',
  DEPLOY_CONFIG_DUMMY_AUTH_PASSWORD: 'a-dev-password',
  DEPLOY_CONFIG_DEV_USERS: 'alice.proj1 alice.proj2 bob.proj1',
};

function yamlBlocks(doc: string): string[] {
  const text = readFileSync(new URL(`../../docs/${doc}`, import.meta.url), 'utf8');
  return [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** Records every command; answers submit with a job id and queries with RUNNING on node1. */
class RecordingTransport implements Transport {
  readonly where = 'jupyterspawner@login1.example.org:22';
  readonly runs: { command: string; opts: RunOptions }[] = [];
  async run(command: string, opts: RunOptions): Promise<CommandResult> {
    this.runs.push({ command, opts });
    if (opts.stdin !== undefined) return { stdout: '4242\n', stderr: '', code: 0 };
    return { stdout: 'RUNNING node1\n', stderr: '', code: 0 };
  }
  async close(): Promise<void> {}
}

describe('the configurations of docs/slurm.md and docs/spawners.md', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-docs-slurm-'));
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(ENV)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  let n = 0;
  const load = async (text: string): Promise<Config> => {
    const f = path.join(dir, `c${n++}.yaml`);
    writeFileSync(f, text);
    return (await loadConfig(f)).config;
  };

  const whole = (doc: string) => yamlBlocks(doc).filter((b) => /^(?:spawner|spawners|base_url|allow_named_servers):/m.test(b));
  const brics = () => {
    const block = yamlBlocks('slurm.md').find((b) => b.includes('kind: jwt-header'));
    assert.ok(block, 'docs/slurm.md shows the BriCS production configuration');
    return block;
  };

  for (const [doc, count] of [
    ['slurm.md', 3],
    ['spawners.md', 2],
  ] as const) {
    it(`every configuration of docs/${doc} loads and its back-ends build`, async () => {
      const blocks = whole(doc);
      assert.ok(blocks.length >= count, `${doc}: ${blocks.length} configurations`);
      const kinds = new Set<string>();
      for (const block of blocks) {
        const config = await load(block);
        const backends = SpawnerBackends.fromConfig(config, { log: silent, dataDir: dir });
        for (const b of backends.all()) kinds.add(b.spawner.kind);
        await backends.close(silent);
      }
      assert.ok(kinds.has('slurm'), `${doc} shows a slurm back-end`);
    });
  }

  it('the two back-ends of docs/spawners.md: local first (the default), cluster-a limited to its group', async () => {
    const block = whole('spawners.md').find((b) => b.includes('spawners:'));
    assert.ok(block);
    const backends = SpawnerBackends.fromConfig(await load(block), { log: silent, dataDir: dir });
    assert.deepEqual(
      backends.all().map((b) => [b.name, b.spawner.kind, b.displayName, b.allowedGroups]),
      [
        ['local', 'local-process', 'This machine', []],
        ['cluster-a', 'slurm', 'Cluster A (Slurm)', ['cluster-a-users']],
      ],
    );
    await backends.close(silent);
  });

  it('the dev-mode auth block of docs/slurm.md replaces the production one', async () => {
    const dev = yamlBlocks('slurm.md').find((b) => b.includes('dev_users'));
    assert.ok(dev);
    const prod = brics();
    const text = prod.replace(/^auth:\n(?: {2}.*\n)+/m, dev);
    const config = await load(text);
    assert.equal(config.auth.kind, 'shared-password');
    assert.equal((config.spawner as SlurmSpawnerConfig).kind, 'slurm');
  });

  for (const [mode, project, account, home] of [
    ['production', 'proj1.portal', 'carol.proj1', '/home/proj1/carol.proj1'],
    ['dev mode', 'proj1', 'alice.proj1', '/home/proj1/alice.proj1'],
  ] as const) {
    it(`BriCS (${mode}): the wrappers run under sudo -n -u the project account, the script as the page shows it`, async () => {
      const config = (await load(brics())).spawner as SlurmSpawnerConfig;
      const transport = new RecordingTransport();
      const spawner = createSlurmSpawner(config, { log: silent, name: 'default', now: Date.now, fetch: globalThis.fetch, dataDir: dir }, () => transport);
      const user = { name: account.split('.')[0]!, admin: false, groups: [] };
      const authState = { [project]: { name: 'Project 1', username: account } };
      const options = await spawner.checkOptions({ brics_project: project, runtime: '02:00:00', ngpus: 2, partition: 'workq' }, { user, authState });
      const states: SpawnerState[] = [];
      const result = await spawner.start({
        user,
        serverName: '',
        backend: 'default',
        env: { JUPYTERHUB_API_TOKEN: 'the-token', JUPYTERHUB_API_URL: 'http://127.0.0.1:8081/hub/api', JUPYTERHUB_SERVICE_PREFIX: `/user/${user.name}/`, HOME: '/root' },
        userOptions: options,
        authState,
        workDir: dir,
        log: silent,
        saveState: async (s) => void states.push(s),
        progress: () => undefined,
        reportedPort: async () => 8888,
        signal: new AbortController().signal,
      });
      assert.equal(result.url, 'http://node1:8888');
      const [submit, query] = transport.runs;
      assert.equal(submit!.command, `sudo -n -u '${account}' /opt/slurmspawner_wrappers/bin/slurmspawner_sbatch`);
      assert.equal(query!.command, `sudo -n -u '${account}' /opt/slurmspawner_wrappers/bin/slurmspawner_squeue`);
      assert.deepEqual(query!.opts.env, { SLURMSPAWNER_JOB_ID: '4242' });
      const script = submit!.opts.stdin!;
      assert.ok(!submit!.command.includes('the-token'), 'no token on the command line');
      for (const line of [
        `#SBATCH --output=${home}/jupyterhub_slurmspawner_%j.log`,
        `#SBATCH --chdir=${home}`,
        '#SBATCH --time=02:00:00',
        '#SBATCH --gpus=2',
        '#SBATCH --partition=workq',
        '#SBATCH --nodes=1',
        "export JUPYTERHUB_API_TOKEN='the-token'",
        "export JUPYTERHUB_API_URL='http://hub.example.org:8081/hub/api'",
        'source /opt/conda/bin/activate jupyter-user-env',
        'export JUPYTER_PATH="/opt/jupyter/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"',
        "srun --export=ALL 'batchspawner-singleuser' 'jupyterhub-singleuser'",
      ]) {
        assert.ok(script.split('\n').includes(line), `the script has the line ${line}:\n${script}`);
      }
      assert.ok(!script.includes('--reservation'), 'no reservation line when none is given');
      assert.ok(!/^export HOME=/m.test(script), "the hub's HOME stays out of the job");
      assert.ok(script.indexOf('export JUPYTERHUB_API_TOKEN') > script.lastIndexOf('#SBATCH'), 'the exports come after the #SBATCH header');
      assert.equal(states.at(-1)!['job_id'], '4242');
      await spawner.close();
    });
  }
});
