/**
 * Issue 11, "Bad input" and the pending-reason test, end to end, for jobs
 * that Slurm accepted: the real hub and proxy drive the real Slurm over SSH
 * (scripts/slurm-test-env; `jupyterspawner` runs `sudo -n -u <user>`).
 * - a job that cannot start shows its id, PENDING, its reason and its log
 *   path on the progress stream, and is cancelled at the start timeout;
 * - forged port reports while a job is pending are refused and change
 *   nothing: the spawn completes when its own job reports;
 * - a job that ends before its server starts fails the spawn with its final
 *   state and the end of its log.
 * Each failure shows on the spawn-pending page, in the progress stream and in
 * the hub's log; no job is left behind; the user's next spawn works.
 * The failures before any job runs are in slurm-ssh-failures.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { reportedPort } from '../../src/db/repos/servers.js';
import { getServer } from '../../src/db/repos/servers.js';
import { getUser } from '../../src/db/repos/users.js';
import type { ProgressEvent } from '../helpers/e2e.js';
import { ensureSlurmCluster, runAsRoot, squeueJob, type SlurmCluster } from '../helpers/slurm-cluster.js';
import {
  cancelAndForget,
  goodSpawnWorks,
  jobFiles,
  jobsStillLive,
  loggedIn,
  pendingPage,
  progressEvents,
  sshOptions,
  startLoggedHub,
  type JobFiles,
  type LoggedHub,
} from '../helpers/slurm-hub-failures.js';

const found = await ensureSlurmCluster();
const skip = 'unavailable' in found ? found.unavailable : false;

/** A sudoers rule of this test: the service account may `tail` the job users' logs (logTail). */
const TAIL_RULE = '/etc/sudoers.d/ganymede-test-e2e-log-tail';

describe('Slurm over SSH through the hub: jobs that fail', { skip, concurrency: false, timeout: 900_000 }, () => {
  const cluster = found as SlurmCluster;
  let files: JobFiles;
  const hubs: LoggedHub[] = [];

  before(async () => {
    files = await jobFiles(cluster);
    // The environment's sudoers lets jupyterspawner run only sbatch, squeue and scancel as the
    // users; the hub reads the end of a failed job's log with `exec_prefix tail`, so a site that
    // wants it on the failure page allows `tail` too.
    writeFileSync(TAIL_RULE, `jupyterspawner ALL=(alice,bob) NOPASSWD: /usr/bin/tail\n`, { mode: 0o440 });
    const check = await runAsRoot(`visudo -cf ${TAIL_RULE}`);
    assert.equal(check.code, 0, check.stderr + check.stdout);
  });
  after(async () => {
    const jobs = hubs.flatMap((h) => h.jobIds());
    for (const h of hubs) await h.hub.stop().catch(() => undefined);
    await cancelAndForget(jobs, ['/home/alice', '/home/bob']);
    rmSync(TAIL_RULE, { force: true });
    files?.remove();
  });

  const backend = (extra: Record<string, unknown> = {}) => ({
    kind: 'slurm',
    ssh: sshOptions(cluster),
    exec_prefix: 'sudo -n -u {username}',
    cmd: files.cmd,
    startup_poll_interval: 0.3,
    req_runtime: '00:10:00',
    ...extra,
  });

  const hubWith = async (raw: Record<string, unknown>): Promise<LoggedHub> => {
    const h = await startLoggedHub(raw);
    hubs.push(h);
    return h;
  };

  /** The failure on the spawn-pending page and in the hub's "spawn failed" log line. */
  const failureShown = async (h: LoggedHub, user: string, expected: RegExp): Promise<string> => {
    const page = await pendingPage(await loggedIn(h.hub, user), user);
    assert.equal(page.status, 200);
    assert.match(page.text, /Spawn failed/);
    assert.match(page.text, expected, 'the spawn-pending page says why');
    const logged = h.records('spawn failed').map((r) => String(r['err']));
    assert.ok(logged.some((m) => expected.test(m)), `the hub log says why: ${logged.join(' | ')}`);
    return page.text;
  };

  /** The job id in a "Submitted job N" progress event. */
  const submittedJob = (events: ProgressEvent[]): string => {
    const id = events.map((e) => /Submitted job (\d+)/.exec(e.message ?? '')?.[1]).find(Boolean);
    assert.ok(id, `a "Submitted job" event: ${JSON.stringify(events)}`);
    return id;
  };

  it('a job that cannot start: id, PENDING, reason and log path on the stream; cancelled at the start timeout', async () => {
    const nprocs = [{ name: 'nprocs', label: 'CPUs', type: 'number', min: 1, max: 64 }];
    const h = await hubWith({ start_timeout: 8, spawner: backend({ form_fields: nprocs }) });
    const token = await h.hub.tokenFor('bob');
    const t0 = Date.now();
    const started = await h.hub.api('POST', '/users/bob/server', { token, body: { nprocs: cluster.nodeCpus + 1 } });
    assert.equal(started.status, 202, started.text);
    const events = await progressEvents(h.hub, 'bob', token, 150_000);
    const failedAfter = Date.now() - t0;
    const job = submittedJob(events);
    const queued = events.find((e) => /is queued/.test(e.message ?? ''));
    assert.ok(queued, `a queued event: ${JSON.stringify(events)}`);
    assert.match(queued.message!, new RegExp(`^Job ${job} is queued \\(reason: (PartitionConfig|Resources)\\); its log will be /home/bob/jupyterhub_slurmspawner_${job}\\.log$`));
    const last = events.at(-1)!;
    assert.ok(last.failed);
    // the failure says why it did not start: the job's last state and reason
    const timedOut = new RegExp(`did not start within 8 seconds; the last step was: Job ${job} is queued \\(reason: (PartitionConfig|Resources)\\)`);
    assert.match(last.message!, timedOut);
    assert.ok(failedAfter >= 7_500 && failedAfter < 30_000, `failed after ${failedAfter} ms`);
    await failureShown(h, 'bob', timedOut);
    // cancelled by the hub: gone from squeue within a few seconds
    assert.deepEqual(await jobsStillLive([job], 5_000), [], `job ${job} is still ${JSON.stringify(await squeueJob(job))}`);
    assert.match((await squeueJob(job))?.state ?? 'CANCELLED', /CANCELLED/);
    // the good spawn may queue behind other jobs of the shared cluster: more than 8 s for it
    h.hub.hub.config.start_timeout = 120;
    // an empty body would start with the remembered options (9 CPUs again)
    await goodSpawnWorks(h, 'bob', token, { nprocs: 1 });
  });

  it('forged port reports while a job is pending are refused and change nothing; the job\'s own report completes the spawn', async () => {
    // --hold keeps the jobs pending until the test releases them
    const h = await hubWith({ start_timeout: 120, spawner: backend({ req_options: '--hold' }) });
    const db = h.hub.hub.db;
    const tokens = { alice: await h.hub.tokenFor('alice'), bob: await h.hub.tokenFor('bob') };
    for (const user of ['alice', 'bob'] as const) {
      const r = await h.hub.api('POST', `/users/${user}/server`, { token: tokens[user], body: {} });
      assert.equal(r.status, 202, r.text);
    }
    const jobOf = async (user: string): Promise<string> => {
      for (let i = 0; i < 100; i++) {
        const rec = h.records('submitted batch job').find((r) => r['user'] === user);
        if (rec) return String(rec['jobId']);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no job submitted for ${user}: ${h.lines.join('\n')}`);
    };
    const jobs = { alice: await jobOf('alice'), bob: await jobOf('bob') };
    for (const id of Object.values(jobs)) assert.equal((await squeueJob(id))?.state, 'PENDING');
    // what a forger could hold: the server tokens are in the job scripts (root reads them here)
    const serverToken = async (job: string): Promise<string> => {
      const r = await runAsRoot(`scontrol write batch_script ${job} -`);
      const m = /^export JUPYTERHUB_API_TOKEN='([^']+)'$/m.exec(r.stdout);
      assert.ok(m, `the script of job ${job} exports the token`);
      return m[1]!;
    };
    const aliceServer = await serverToken(jobs.alice);
    const bobServer = await serverToken(jobs.bob);
    const report = async (body: unknown, token?: string) => {
      const res = await fetch(`${h.hub.publicUrl}/hub/api/batchspawner`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `token ${token}` } : {}) },
        body: JSON.stringify(body),
      });
      return { status: res.status, message: ((await res.json()) as { message: string }).message };
    };
    const refusals: Array<[string, { status: number; message: string }, number, RegExp]> = [
      ['no token', await report({ port: 1 }), 403, /Missing credentials/],
      ["alice's user API token", await report({ port: 1 }, tokens.alice), 403, /a user's API token, not a server's/],
      ['an unknown token', await report({ port: 1 }, 'f'.repeat(32)), 403, /Invalid or expired token/],
      ["bob's server token naming alice", await report({ port: 1, user: 'alice' }, bobServer), 400, /unknown field "user"/],
      ["bob's server token naming another server", await report({ port: 1, server_name: 'other' }, bobServer), 400, /"server_name" "other" is not the server/],
      ["alice's token with extra fields", await report({ port: 1, ip: '203.0.113.9', url: 'http://evil/' }, aliceServer), 400, /unknown fields "ip", "url"/],
      ["alice's token with a port as a string", await report({ port: '1' }, aliceServer), 400, /must be a JSON integer/],
    ];
    for (const [what, got, status, message] of refusals) {
      assert.equal(got.status, status, `${what}: ${JSON.stringify(got)}`);
      assert.match(got.message, message, what);
    }
    const aliceUser = (await getUser(db, 'alice'))!;
    const aliceRow = (await getServer(db, aliceUser.id, ''))!;
    assert.equal(await reportedPort(db, aliceRow.id), undefined, "no forged report reached alice's server");
    assert.equal(aliceRow.pending, 'spawn', "alice's spawn still waits");
    // bob's own token reports for bob's server only (the server comes from the token, never the body)
    const bobOwn = await report({ port: 1 }, bobServer);
    assert.equal(bobOwn.status, 200, JSON.stringify(bobOwn));
    assert.equal(await reportedPort(db, aliceRow.id), undefined, "bob's report did not reach alice's server");
    const refusedInLog = h.records('port report refused');
    assert.ok(refusedInLog.length >= refusals.length, `the hub log has each refusal: ${JSON.stringify(refusedInLog)}`);
    for (const secret of [aliceServer, bobServer, tokens.alice]) assert.ok(!h.lines.some((l) => l.includes(secret)), 'no token in the hub log');

    // alice's own job runs and reports: her spawn completes
    const release = await runAsRoot(`scontrol release ${jobs.alice}`);
    assert.equal(release.code, 0, release.stderr);
    const events = await progressEvents(h.hub, 'alice', tokens.alice, 150_000);
    assert.ok(events.at(-1)?.ready, `alice's spawn completed: ${JSON.stringify(events)}`);
    assert.ok(events.some((e) => /reason: JobHeld/.test(e.message ?? '')), 'the stream showed the held job');
    const res = await fetch(`${h.hub.publicUrl}/user/alice/api`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { user: string }).user, 'alice');
    // once running, even its own token cannot move it
    const late = await report({ port: 2 }, aliceServer);
    assert.equal(late.status, 409, JSON.stringify(late));
    assert.match(late.message, /is not starting/);

    for (const user of ['alice', 'bob'] as const) {
      const r = await h.hub.api('DELETE', `/users/${user}/server`, { token: tokens[user] });
      assert.ok(r.status === 204 || r.status === 202, `${user}: ${r.status} ${r.text}`);
    }
    assert.deepEqual(await jobsStillLive(Object.values(jobs)), [], 'both jobs are gone after stop');
    // a stopped server's token is gone with it
    assert.equal((await report({ port: 3 }, bobServer)).status, 403);
    assert.equal((await h.hub.api('GET', '/', { token: tokens.bob })).status, 200, 'the hub is healthy');
  });

  it('a job that ends before its server starts: its final state and the end of its log on the failure page', async () => {
    const h = await hubWith({
      start_timeout: 120,
      spawners: {
        cluster: backend(),
        broken: backend({ cmd: ['/bin/sh', '-c', 'echo "the server cannot start: no-such-module" >&2; exit 3'] }),
      },
    });
    const token = await h.hub.tokenFor('bob');
    const started = await h.hub.api('POST', '/users/bob/server', { token, body: { backend: 'broken' } });
    assert.ok(started.status === 202 || started.status === 500, started.text);
    const events = await progressEvents(h.hub, 'bob', token, 150_000);
    const job = submittedJob(events);
    const last = events.at(-1)!;
    assert.ok(last.failed, JSON.stringify(events));
    const ended = new RegExp(`Job ${job} ended before the server started \\(final state FAILED\\); see its log /home/bob/jupyterhub_slurmspawner_${job}\\.log`);
    assert.match(last.message!, ended);
    const page = await failureShown(h, 'bob', ended);
    assert.match(page, /id="log-tail"[^>]*>[^<]*the server cannot start: no-such-module/, 'the end of the job\'s log is on the page');
    assert.deepEqual(await jobsStillLive([job]), []);

    // where sudo allows only the scheduler's commands (no `tail`), the page has the message without the log, and the hub log says why
    rmSync(TAIL_RULE, { force: true });
    const again = await h.hub.api('POST', '/users/bob/server', { token, body: { backend: 'broken' } });
    assert.ok(again.status === 202 || again.status === 500, again.text);
    const second = submittedJob(await progressEvents(h.hub, 'bob', token, 150_000));
    const noTail = await failureShown(h, 'bob', new RegExp(`Job ${second} ended before the server started \\(final state FAILED\\)`));
    assert.doesNotMatch(noTail, /id="log-tail"/);
    const unread = h.records('could not read the end of the job log (exec_prefix tail)');
    assert.ok(unread.some((r) => String(r['path']).endsWith(`jupyterhub_slurmspawner_${second}.log`) && /sudo/.test(String(r['said']))), JSON.stringify(unread));
    assert.deepEqual(await jobsStillLive([second]), []);

    await goodSpawnWorks(h, 'bob', token, { backend: 'cluster' });
  });

  it('leaves no job behind', async () => {
    assert.deepEqual(await jobsStillLive(hubs.flatMap((h) => h.jobIds())), []);
  });
});
