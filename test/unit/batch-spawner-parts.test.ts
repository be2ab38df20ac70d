/** The batch spawner's pure parts: user option checks, saved state, the job's environment, query coalescing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../src/lib/errors.js';
import { checkBatchOptions } from '../../src/spawners/batch/batch-options.js';
import { readBatchState, upgradeBatchState } from '../../src/spawners/batch/batch-state.js';
import { batchJobEnv } from '../../src/spawners/batch/job-env.js';
import { QueryBatcher } from '../../src/spawners/batch/query-batcher.js';
import { SshTransport } from '../../src/spawners/batch/ssh-transport.js';
import { LocalTransport } from '../../src/spawners/batch/local-transport.js';
import { transportFor } from '../../src/spawners/batch/transport-for.js';
import { validateConfig } from '../../src/config/load.js';
import pino from 'pino';

const bad400 = (pattern: RegExp) => (err: unknown) => err instanceof HubError && err.status === 400 && pattern.test(err.message);

describe('checkBatchOptions', () => {
  it('accepts the req_* short names and the form fields, strings and numbers', () => {
    const opts = { partition: 'gpu', runtime: '01:00:00', ngpus: 2, brics_project: 'p1' };
    assert.deepEqual(checkBatchOptions(opts, ['brics_project'], 'cluster-a'), opts);
  });
  it('refuses a name the back-end does not declare, naming it and the back-end', () => {
    assert.throws(() => checkBatchOptions({ srun: 'rm -rf' }, [], 'cluster-a'), bad400(/Unknown option "srun" for back-end "cluster-a"/));
    assert.throws(() => checkBatchOptions({ __proto__x: 1 }, [], 'b'), bad400(/Unknown option/));
  });
  it('refuses line breaks, control characters, lists, objects, huge values and non-finite numbers', () => {
    assert.throws(() => checkBatchOptions({ partition: 'a\n#SBATCH --uid=0' }, [], 'b'), bad400(/"partition" holds a line break/));
    assert.throws(() => checkBatchOptions({ partition: 'a\0' }, [], 'b'), bad400(/control character/));
    assert.throws(() => checkBatchOptions({ partition: ['a'] }, [], 'b'), bad400(/not a list/));
    assert.throws(() => checkBatchOptions({ partition: { a: 1 } }, [], 'b'), bad400(/not object/));
    assert.throws(() => checkBatchOptions({ partition: 'x'.repeat(5000) }, [], 'b'), bad400(/longer than/));
    assert.throws(() => checkBatchOptions({ nprocs: Infinity }, [], 'b'), bad400(/finite/));
  });
});

describe('batch state', () => {
  const good = { v: 1, job_id: '42', system_user: 'carol.proj1', where: "the hub's machine" };
  it('reads a good state, and nothing from one naming no job', () => {
    assert.deepEqual(readBatchState(good), good);
    assert.deepEqual(readBatchState({ ...good, host: 'vm', port: 4000 }), { ...good, host: 'vm', port: 4000 });
    assert.equal(readBatchState({ v: 1 }), undefined);
    assert.equal(readBatchState({} as never), undefined);
  });
  it('refuses a forged or damaged state before any of it reaches a command line', () => {
    assert.throws(() => readBatchState({ ...good, job_id: '1; rm -rf /' }), /bad job id/);
    assert.throws(() => readBatchState({ ...good, system_user: 'root -s' }), /bad system user/);
    assert.throws(() => readBatchState({ ...good, host: 'a b' }), /bad host/);
    assert.throws(() => readBatchState({ ...good, port: 70000 }), /bad port/);
    assert.throws(() => readBatchState({ ...good, v: 2 }), /version 2/);
  });
  it('upgradeState keeps version 1 and refuses an unknown version with a clear message', () => {
    assert.deepEqual(upgradeBatchState(good), good);
    assert.throws(() => upgradeBatchState({ ...good, v: 7 }), /version 7 cannot be read \(this hub knows version 1\)/);
  });
});

describe('batchJobEnv', () => {
  const env = {
    HOME: '/root',
    PATH: '/usr/bin',
    USER: 'alice',
    SHELL: '/bin/bash',
    JUPYTERHUB_API_TOKEN: 't',
    JUPYTERHUB_API_URL: 'http://127.0.0.1:8081/hub/api',
    JUPYTERHUB_ACTIVITY_URL: 'http://127.0.0.1:8081/hub/api/users/alice/activity',
    JUPYTERHUB_SERVICE_PREFIX: '/user/alice/',
  };
  it('drops what describes the hub machine and adds a service URL for the launcher to complete', () => {
    const out = batchJobEnv(env, '');
    assert.equal(out['HOME'], undefined);
    assert.equal(out['PATH'], undefined);
    assert.equal(out['USER'], undefined);
    assert.equal(out['JUPYTERHUB_API_TOKEN'], 't');
    assert.equal(out['JUPYTERHUB_API_URL'], env.JUPYTERHUB_API_URL);
    assert.equal(out['JUPYTERHUB_SERVICE_URL'], 'http://0.0.0.0:0/user/alice/');
  });
  it('moves the hub API URLs to hub_connect_url', () => {
    const out = batchJobEnv(env, 'https://hub.cluster.edu:8443/');
    assert.equal(out['JUPYTERHUB_API_URL'], 'https://hub.cluster.edu:8443/hub/api');
    assert.equal(out['JUPYTERHUB_ACTIVITY_URL'], 'https://hub.cluster.edu:8443/hub/api/users/alice/activity');
    assert.equal(batchJobEnv(env, 'http://gw:80/prefix')['JUPYTERHUB_API_URL'], 'http://gw/prefix/hub/api');
    assert.throws(() => batchJobEnv(env, 'ftp://x/'), /not an http/);
  });
});

describe('QueryBatcher', () => {
  it('answers the questions of one window with one command, and a missing job with the default', async () => {
    const asked: string[][] = [];
    const b = new QueryBatcher<string>(
      async (ids) => {
        asked.push(ids);
        return new Map(ids.filter((id) => id !== '3').map((id) => [id, `s${id}`]));
      },
      (id) => `gone${id}`,
      20,
    );
    const answers = await Promise.all(['1', '2', '3', '1'].map((id) => b.query(id)));
    assert.deepEqual(answers, ['s1', 's2', 'gone3', 's1']);
    assert.deepEqual(asked, [['1', '2', '3']]);
    assert.equal(b.commands, 1);
  });
  it('rejects every question of a window when the command could not be run, then works again', async () => {
    let fail = true;
    const b = new QueryBatcher<string>(
      async (ids) => {
        if (fail) throw new Error('unreachable');
        return new Map(ids.map((id) => [id, 'ok']));
      },
      () => 'gone',
      5,
    );
    await assert.rejects(Promise.all([b.query('1'), b.query('2')]), /unreachable/);
    fail = false;
    assert.equal(await b.query('1'), 'ok');
  });
  it('gathers the questions asked while a command runs for the next one', async () => {
    const asked: string[][] = [];
    let release: () => void = () => undefined;
    const b = new QueryBatcher<string>(
      async (ids) => {
        asked.push(ids);
        if (asked.length === 1) await new Promise<void>((r) => (release = r));
        return new Map(ids.map((id) => [id, 'ok']));
      },
      () => 'gone',
      5,
    );
    const first = b.query('1');
    await new Promise((r) => setTimeout(r, 30));
    const later = [b.query('2'), b.query('3')];
    release();
    await Promise.all([first, ...later]);
    assert.deepEqual(asked, [['1'], ['2', '3']]);
  });
});

describe('transportFor and the slurm config', () => {
  const deps = { log: pino({ level: 'silent' }), name: 'cluster-a', now: Date.now, fetch: globalThis.fetch, dataDir: '/tmp' };
  it('runs locally without ssh:, and hands ssh: to the SSH transport (or the factory given)', async () => {
    assert.ok(transportFor({}, deps) instanceof LocalTransport);
    const ssh = { host: 'login1', port: 22, user: 'jupyterspawner', key_file: '/k', known_hosts: '/kh', connect_timeout: 10, command_timeout: 30, max_sessions: 8 };
    const fake = { where: 'login1', run: async () => ({ stdout: '', stderr: '', code: 0 }), close: async () => undefined };
    let got: unknown;
    assert.equal(transportFor({ ssh }, deps, (s) => ((got = s), fake)), fake);
    assert.deepEqual(got, ssh);
    const real = transportFor({ ssh }, deps);
    assert.ok(real instanceof SshTransport);
    await real.close();
  });
  it('accepts a local and a slurm back-end side by side, with the agreed defaults', () => {
    const c = validateConfig({ spawners: { local: { kind: 'local-process' }, 'cluster-a': { kind: 'slurm', req_partition: 'gpu' } } });
    const slurm = c.spawners['cluster-a']!;
    assert.ok(slurm.kind === 'slurm');
    assert.equal(slurm.exec_prefix, 'sudo -E -u {username}');
    assert.equal(slurm.batch_query_cmd, "squeue -h -t all -j {job_id} -o '%T %B %r'");
    assert.equal(slurm.startup_poll_interval, 0.5);
    assert.deepEqual(slurm.cmd, ['batchspawner-singleuser', 'jupyterhub-singleuser']);
    assert.throws(() => validateConfig({ spawner: { kind: 'slurm', req_partiton: 'x' } }), /req_partiton: unknown option \(did you mean "req_partition"\?\)/);
  });
});
