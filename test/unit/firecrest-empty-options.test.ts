/**
 * A FirecREST spawn whose user options were never checked by the form (the
 * spawner conformance suite starts with `{}`): the job gets the back-end's
 * `req_nnodes` and `req_runtime`, never an empty node count or `NaN` time.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Value } from '@sinclair/typebox/value';
import { FirecrestSpawnerSchema, type FirecrestSpawnerConfig } from '../../src/spawners/firecrest/firecrest-config.js';
import { jobChoices } from '../../src/spawners/firecrest/firecrest-job-choices.js';
import { FirecrestSpawner } from '../../src/spawners/firecrest/firecrest-spawner.js';
import { FakeUserTokens, FirecrestApiDouble } from '../helpers/firecrest-api-double.js';

function config(more: Record<string, unknown> = {}): FirecrestSpawnerConfig {
  return Value.Default(FirecrestSpawnerSchema, {
    kind: 'firecrest',
    firecrest_url: 'https://firecrest.example/v2',
    system: 'daint',
    startup_poll_interval: 0.01,
    req_nnodes: 2,
    req_runtime: '00:30:00',
    form: { max_nodes: 4 },
    ...more,
  }) as FirecrestSpawnerConfig;
}

describe('FirecREST options never checked by the form', () => {
  it('jobChoices takes req_nnodes and req_runtime when the options name neither', () => {
    const api = new FirecrestApiDouble('daint');
    const job = jobChoices(config(), {}, api.userinfoAnswer);
    assert.equal(job.nnodes, 2);
    assert.equal(job.runtime, '00:30:00');
    assert.equal(jobChoices(config(), { nnodes: 3, runtime: 0.5 }, api.userinfoAnswer).runtime, '00:30:00');
    assert.equal(jobChoices(config(), { nnodes: 3, runtime: 2 }, api.userinfoAnswer).nnodes, 3);
  });

  it('start with empty user options submits a script with the configured nodes and time limit', async () => {
    const api = new FirecrestApiDouble('daint');
    const tokens = new FakeUserTokens(api);
    api.accepted.add(tokens.current('alice'));
    const log = pino({ level: 'silent' });
    const spawner = new FirecrestSpawner(config(), { log, name: 'daint', now: Date.now, fetch, dataDir: '/tmp', userTokens: tokens }, api);
    const r = await spawner.start({
      user: { name: 'alice', admin: false, groups: [] },
      serverName: '',
      backend: 'daint',
      env: { JUPYTERHUB_API_TOKEN: 'tok', JUPYTERHUB_API_URL: 'http://10.0.0.1:8081/hub/api', JUPYTERHUB_USER: 'alice' },
      userOptions: {},
      workDir: '/tmp',
      log,
      saveState: async () => undefined,
      progress: () => undefined,
      reportedPort: async () => 4242,
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(r.url, 'http://nid001:4242');
    const script = api.of('submit')[0]!.body!.script;
    assert.match(script, /^#!\/bin\/bash\n#SBATCH --nodes=2\n#SBATCH --time=00:30:00\n/);
  });
});
