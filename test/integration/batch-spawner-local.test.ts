/**
 * The batch spawner (`kind: slurm`) against the real Slurm of this machine,
 * its commands run by the local transport as root with
 * `exec_prefix: sudo -n -u {username}`, jobs running as alice. Each job runs
 * the trivial server through a launcher that reports its port to a callback
 * server of the test (standing in for the hub's `POST /hub/api/batchspawner`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { SpawnError } from '../../src/lib/errors.js';
import type { BatchSpawner } from '../../src/spawners/batch/batch-spawner.js';
import { createSpawner } from '../../src/spawners/registry.js';
import type { ProgressEvent, SpawnRequest, SpawnerState } from '../../src/spawners/spawner.js';
import { cancelJobs, jobCommandDir, jobLive, jobState, portReports, removeDir, removeJobLogs, slurmUnavailable } from '../helpers/slurm-jobs.js';

const log = pino({ level: 'silent' });
const skip = slurmUnavailable();

describe('batch spawner (kind: slurm) on the local Slurm', { skip, concurrency: false }, () => {
  let job: { dir: string; cmd: string[] };
  let reports: Awaited<ReturnType<typeof portReports>>;
  let work = '';
  const jobs = new Set<string>();

  before(async () => {
    job = jobCommandDir();
    reports = await portReports();
    work = mkdtempSync(path.join(os.tmpdir(), 'ganymede-batch-test-'));
  });
  after(async () => {
    cancelJobs(jobs);
    removeJobLogs(jobs);
    await reports.close();
    removeDir(job.dir);
    rmSync(work, { recursive: true, force: true });
  });

  /** A spawner from config, as the hub builds it. */
  const spawner = (extra: Record<string, unknown> = {}): BatchSpawner =>
    createSpawner(
      validateConfig({
        spawner: { kind: 'slurm', exec_prefix: 'sudo -n -u {username}', cmd: job.cmd, startup_poll_interval: 0.2, req_runtime: '00:10:00', ...extra },
      }).spawner,
      { log, name: 'cluster-test', now: Date.now, fetch: globalThis.fetch, dataDir: work },
    ) as BatchSpawner;

  /** A spawn request for alice, recording saved states and progress. */
  const request = (signal: AbortSignal, more: Partial<SpawnRequest> = {}) => {
    const token = randomBytes(16).toString('hex');
    const saved: SpawnerState[] = [];
    const events: ProgressEvent[] = [];
    const req: SpawnRequest = {
      user: { name: 'alice', admin: false, groups: [] },
      serverName: '',
      backend: 'cluster-test',
      env: {
        JUPYTERHUB_API_TOKEN: token,
        JUPYTERHUB_USER: 'alice',
        JUPYTERHUB_SERVICE_PREFIX: '/user/alice/',
        JUPYTERHUB_API_URL: 'http://127.0.0.1:8081/hub/api',
        TEST_REPORT_URL: reports.url,
        HOME: '/root',
      },
      userOptions: {},
      workDir: work,
      log,
      saveState: async (s) => {
        saved.push(JSON.parse(JSON.stringify(s)) as SpawnerState);
        if (typeof s['job_id'] === 'string') jobs.add(s['job_id']);
      },
      progress: (e) => events.push(e),
      reportedPort: async () => reports.portOf(token),
      signal,
      ...more,
    };
    return { req, saved, events, token };
  };

  const answer = async (url: string): Promise<Record<string, unknown>> => {
    for (let i = 0; ; i++) {
      try {
        return (await (await fetch(url, { signal: AbortSignal.timeout(2000) })).json()) as Record<string, unknown>;
      } catch (err) {
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  it('starts a job as alice that reports its port: the URL answers, poll says running, stop cancels the job', async () => {
    const s = spawner();
    const { req, saved, events } = request(AbortSignal.timeout(60_000));
    const result = await s.start(req);
    assert.match(result.url, /^http:\/\/vm:\d+$/);
    const jobId = String(result.state['job_id']);
    assert.equal(saved[0]?.['job_id'], jobId, 'the job id was saved first');
    assert.deepEqual(Object.keys(saved[0]!).sort(), ['job_id', 'log', 'system_user', 'v', 'where']);
    assert.equal(result.state['host'], 'vm');
    assert.ok(events.some((e) => e.message.includes(`Submitted job ${jobId}`)));
    const body = await answer(`${result.url}/user/alice/api`);
    assert.equal(body['user'], 'alice');
    assert.equal(body['uid'], Number(execFileSync('id', ['-u', 'alice'], { encoding: 'utf8' })), 'the job runs as alice');
    assert.notEqual((body['env'] as Record<string, unknown>)['HOME'], '/root', "the hub's HOME reached the job");
    assert.deepEqual(await s.poll(result.state, { log }), { status: 'running' });
    await s.stop(result.state, { log });
    assert.equal(jobLive(jobId), false, `job ${jobId} is still ${jobState(jobId)}`);
    assert.equal((await s.poll(result.state, { log })).status, 'stopped');
    await s.stop(result.state, { log }); // idempotent
  });

  it('a job that cannot start stays pending with its reason on the progress stream; start rejects when aborted; stop leaves no job', async () => {
    // the agreed default query prints no reason (as batchspawner's); %r adds it
    const s = spawner({ batch_query_cmd: "squeue -h -j {job_id} -o '%T %B %r'" });
    const ctl = new AbortController();
    const { req, saved, events } = request(ctl.signal, { userOptions: { nprocs: 9 } });
    const starting = s.start(req);
    const end = Date.now() + 20_000;
    while (!events.some((e) => /reason: (PartitionConfig|Resources)/.test(e.message))) {
      assert.ok(Date.now() < end, `no pending reason in ${JSON.stringify(events)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const pending = events.find((e) => /queued/.test(e.message))!;
    assert.match(pending.message, new RegExp(`Job ${saved[0]!['job_id']} is queued .*jupyterhub_slurmspawner_${saved[0]!['job_id']}\\.log`));
    assert.equal(events.filter((e) => e.message === pending.message).length, 1, 'the same progress event was repeated');
    const polled = await s.poll(saved[0]!, { log });
    assert.equal(polled.status, 'pending');
    ctl.abort();
    await assert.rejects(starting, (err: unknown) => err instanceof SpawnError && err.reason === 'cancelled');
    const jobId = String(saved[0]!['job_id']);
    await s.stop(saved.at(-1)!, { log });
    assert.equal(jobLive(jobId), false);
  });

  it('a job that ends before its server reports fails the spawn; logTail shows the end of its log', async () => {
    const s = spawner({ cmd: ['/bin/sh', '-c', 'echo hello-from-the-job; exit 3'] });
    const { req, saved } = request(AbortSignal.timeout(30_000));
    await assert.rejects(s.start(req), (err: unknown) => err instanceof SpawnError && err.reason === 'job-ended' && /ended before the server started/.test(err.message));
    const tail = await s.logTail(saved[0]!, { log, lines: 20, maxBytes: 4096 });
    assert.match(tail ?? '', /hello-from-the-job/);
    await s.stop(saved[0]!, { log });
  });

  it('a template that fails to render is a clear error, and nothing is submitted', async () => {
    const s = spawner({ batch_script: '#!/bin/bash\n{% if partition %}\nsrun {{ cmd }}\n' });
    const ran: string[] = [];
    const run = s.commands.transport.run.bind(s.commands.transport);
    s.commands.transport.run = (cmd, o) => (ran.push(cmd), run(cmd, o));
    const { req, saved } = request(AbortSignal.timeout(20_000));
    await assert.rejects(s.start(req), (err: unknown) => err instanceof SpawnError && /batch_script template does not render/.test(err.message) && /nothing was submitted/.test(err.message));
    assert.deepEqual(ran, []);
    assert.deepEqual(saved, []);
  });

  it('a system_user_name that gives no valid account name fails the spawn naming it', async () => {
    const s = spawner({ system_user_name: '{{ username }} x' });
    const { req } = request(AbortSignal.timeout(20_000));
    await assert.rejects(s.start(req), (err: unknown) => err instanceof SpawnError && err.status === 400 && /"alice x".*not a valid account name/.test(err.message));
  });

  it("sbatch refusing the job is a clear message quoting it, and no job is left", async () => {
    const s = spawner({ req_partition: 'no-such-partition' });
    const { req, saved } = request(AbortSignal.timeout(20_000));
    await assert.rejects(s.start(req), (err: unknown) => err instanceof SpawnError && /The scheduler refused the job .*invalid partition/i.test(err.message));
    assert.deepEqual(saved, []);
  });

  it('a job cancelled outside the hub polls as stopped at the next poll', async () => {
    const s = spawner();
    const { req } = request(AbortSignal.timeout(60_000));
    const result = await s.start(req);
    const jobId = String(result.state['job_id']);
    execFileSync('scancel', [jobId]);
    const end = Date.now() + 3000;
    let polled = await s.poll(result.state, { log });
    // COMPLETING (a running state) lasts a few ms after scancel
    while (polled.status !== 'stopped' && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      polled = await s.poll(result.state, { log });
    }
    assert.equal(polled.status, 'stopped');
    await s.stop(result.state, { log });
  });

  it('a start resumed from saved state (a restarted hub) waits for the same job instead of submitting another', async () => {
    const first = spawner();
    const ctl = new AbortController();
    const a = request(ctl.signal);
    const starting = first.start(a.req);
    while (a.saved.length === 0) await new Promise((r) => setTimeout(r, 20));
    ctl.abort();
    await assert.rejects(starting);
    const jobId = String(a.saved[0]!['job_id']);
    const second = spawner();
    const ran: string[] = [];
    const run = second.commands.transport.run.bind(second.commands.transport);
    second.commands.transport.run = (cmd, o) => (ran.push(cmd), run(cmd, o));
    const b = request(AbortSignal.timeout(60_000), { resumeState: a.saved[0]!, reportedPort: a.req.reportedPort });
    const result = await second.start(b.req);
    assert.equal(result.state['job_id'], jobId);
    assert.ok(!ran.some((c) => c.includes('sbatch')), 'the resumed start submitted a job');
    assert.equal((await answer(`${result.url}/user/alice/api`))['user'], 'alice');
    await second.stop(result.state, { log });
    assert.equal(jobLive(jobId), false);
  });

  it('query and cancel commands get the job id in SLURMSPAWNER_JOB_ID (the BriCS wrappers read it from there)', async () => {
    const id = execFileSync('sudo', ['-n', '-u', 'alice', 'sbatch', '--parsable', '--hold', '--chdir=/tmp', '--output=/dev/null', '--wrap=sleep 60'], { encoding: 'utf8' }).trim();
    jobs.add(id);
    const s = spawner({ exec_prefix: '', batch_query_cmd: `squeue -h -j "$SLURMSPAWNER_JOB_ID" -o '%T %B'`, batch_cancel_cmd: 'scancel "$SLURMSPAWNER_JOB_ID"' });
    const state = { v: 1, job_id: id, system_user: 'alice', where: "the hub's machine" };
    assert.deepEqual(await s.poll(state, { log }), { status: 'pending' });
    await s.stop(state, { log });
    assert.equal(jobLive(id), false);
    assert.equal((await s.poll(state, { log })).status, 'stopped');
  });

  it('pollMany with batch_query_all_cmd asks Slurm once for every job; concurrent start-loop polls share one command', async () => {
    const calls = path.join(work, 'query-all.calls');
    const wrapper = path.join(work, 'query-all.sh');
    writeFileSync(wrapper, `#!/bin/sh\necho x >> '${calls}'\nexec squeue -h -t all -o '%i %T %B %r'\n`);
    chmodSync(wrapper, 0o755);
    const held: string[] = [];
    for (let i = 0; i < 4; i++) {
      const out = execFileSync('sudo', ['-n', '-u', 'alice', 'sbatch', '--parsable', '--hold', '--chdir=/tmp', '--output=/dev/null', '--wrap=sleep 60'], { encoding: 'utf8' });
      held.push(out.trim());
      jobs.add(out.trim());
    }
    const s = spawner({ batch_query_all_cmd: wrapper });
    const states: SpawnerState[] = [...held.map((id) => ({ v: 1, job_id: id, system_user: 'alice', where: "the hub's machine" })), { v: 1, job_id: '99999999', system_user: 'alice', where: 'x' }, {} as SpawnerState];
    appendFileSync(calls, '');
    const before = readFileSync(calls, 'utf8').length;
    const results = await s.pollMany!(states, { log });
    assert.deepEqual(
      results.map((r) => r.status),
      ['pending', 'pending', 'pending', 'pending', 'stopped', 'stopped'],
    );
    assert.equal(readFileSync(calls, 'utf8').length - before, 2, 'more than one query for all jobs');
    const singles = await Promise.all(held.map((id, i) => s.poll(states[i]!, { log }).then((r) => [id, r.status])));
    assert.deepEqual(singles.map(([, st]) => st), ['pending', 'pending', 'pending', 'pending']);
    assert.equal(readFileSync(calls, 'utf8').length - before, 4, 'the concurrent single polls did not share one command');
    cancelJobs(held);
  });
});
