/**
 * The life of Slurm-backed servers through the hub (in-process, real proxy,
 * poll loop every 2 s), on the real Slurm over the test sshd: a local and a
 * Slurm back-end side by side, a job cancelled outside the hub, and the
 * Slurm controller down for a while (issue 11, "Tests").
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { freePort } from '../../src/lib/free-port.js';
import { sleep, waitFor } from '../helpers/e2e.js';
import { startTestHub, TRIVIAL_SERVER, type TestHub } from '../helpers/hub.js';
import { serverRecord } from '../helpers/server-state.js';
import { ensureSlurmCluster, runAsRoot, squeueJob, startSlurmctld, stopSlurmctld, type SlurmCluster } from '../helpers/slurm-cluster.js';
import { capturedLog, jobFiles, jobIdOf, slurmOverSsh, type JobFiles } from '../helpers/slurm-hub.js';

const cluster = await ensureSlurmCluster();
const skip = 'unavailable' in cluster ? `NOTICE: the Slurm e2e tests are skipped: ${cluster.unavailable}` : false;
const POLL_INTERVAL = 2;
const LIVE = /^(PENDING|CONFIGURING|RUNNING|COMPLETING)$/;

describe('e2e: Slurm-backed servers through the hub: two back-ends, outside cancel, controller down', { skip, timeout: 300_000, concurrency: false }, () => {
  const c = cluster as SlurmCluster;
  let t: TestHub;
  let files: JobFiles;
  const hubLog = capturedLog();
  const jobs = new Set<string>();

  before(async () => {
    files = await jobFiles(c);
    const hubPort = await freePort('127.0.0.1');
    t = await startTestHub(
      {
        allow_named_servers: true,
        poll_interval: POLL_INTERVAL,
        start_timeout: 90,
        slow_spawn_timeout: 1,
        spawners: {
          local: { kind: 'local-process', cmd: [process.execPath, TRIVIAL_SERVER], run_as: 'hub' },
          cluster: slurmOverSsh(c, { cmd: ['/bin/sh', files.launcher, process.execPath, files.trivialServer], hub_connect_url: `http://${c.hubReachableAddress}:${hubPort}` }),
        },
      },
      { hubPort, log: hubLog.log },
    );
    t.hub.servers.startPolling();
  });

  after(async () => {
    await t?.stop().catch(() => undefined);
    if (jobs.size) await runAsRoot(`scancel ${[...jobs].join(' ')}; for u in alice bob; do for j in ${[...jobs].join(' ')}; do rm -f /home/$u/jupyterhub_slurmspawner_$j.log; done; done`);
    files?.remove();
  });

  const token = (name: string) => t.tokenFor(name);

  /** Starts `user`'s server `server` on back-end `backend` and waits until ready; returns the job id (cluster) and the row's URL. */
  async function startOn(user: string, server: string, backend: string): Promise<{ jobId: string | undefined; url: string }> {
    const path = server ? `/users/${user}/servers/${server}` : `/users/${user}/server`;
    const r = await t.api('POST', path, { token: await token(user), body: { backend } });
    assert.ok([201, 202].includes(r.status), `start ${user}/${server} on ${backend}: ${r.status} ${r.text}`);
    await waitFor(`${user}/${server} ready on ${backend}`, async () => (await serverRecord(t, user, server)).row?.ready === 1, {
      timeoutMs: 90_000,
      intervalMs: 200,
      detail: () => hubLog.text().slice(-3000),
    });
    const jobId = await jobIdOf(t, user, server);
    if (jobId) jobs.add(jobId);
    return { jobId, url: (await serverRecord(t, user, server)).row!.url! };
  }

  /** What the trivial server answers through the proxy at `prefix`. */
  async function throughProxy(prefix: string): Promise<Record<string, unknown>> {
    const res = await fetch(`${t.publicUrl}${prefix}api/status`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    assert.equal(res.status, 200, `GET ${prefix} through the proxy: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as Record<string, unknown>;
  }

  async function waitGone(jobId: string): Promise<void> {
    await waitFor(`job ${jobId} to be gone`, async () => {
      const j = await squeueJob(jobId);
      return j === null || !LIVE.test(j.state);
    }, { timeoutMs: 20_000, intervalMs: 200 });
  }

  it('two back-ends at once: alice runs her default server on Slurm and a named one locally, both through the proxy; each stops through its own back-end', async () => {
    const onCluster = await startOn('alice', '', 'cluster');
    const onLocal = await startOn('alice', 'lab', 'local');
    assert.match(onCluster.jobId ?? '', /^\d+$/, 'the cluster server records its job');
    assert.equal(onLocal.jobId, undefined);
    assert.equal((await serverRecord(t, 'alice')).row!.spawner, 'cluster');
    assert.equal((await serverRecord(t, 'alice', 'lab')).row!.spawner, 'local');
    const jobId = onCluster.jobId!;
    assert.equal((await squeueJob(jobId))?.user, 'alice');

    const fromCluster = await throughProxy('/user/alice/');
    assert.equal(fromCluster['uid'], Number(execFileSync('id', ['-u', 'alice'], { encoding: 'utf8' })), 'the Slurm job serves /user/alice/ as alice');
    assert.equal(fromCluster['user'], 'alice');
    const fromLocal = await throughProxy('/user/alice/lab/');
    assert.equal(fromLocal['uid'], process.getuid?.(), 'the local server serves /user/alice/lab/ as the hub');
    assert.match(String(fromLocal['path']), /^\/user\/alice\/lab\//);

    const stopLocal = await t.api('DELETE', '/users/alice/servers/lab', { token: await token('alice') });
    assert.ok([202, 204].includes(stopLocal.status), `${stopLocal.status} ${stopLocal.text}`);
    await waitFor('the local server to stop', async () => (await serverRecord(t, 'alice', 'lab')).row?.ready === 0, { timeoutMs: 15_000 });
    await assert.rejects(fetch(`${onLocal.url}/user/alice/lab/api`, { signal: AbortSignal.timeout(3000) }), 'the local process is gone');
    assert.equal((await squeueJob(jobId))?.state, 'RUNNING', 'stopping the local server left the Slurm job alone');

    const stopCluster = await t.api('DELETE', '/users/alice/server', { token: await token('alice') });
    assert.ok([202, 204].includes(stopCluster.status), `${stopCluster.status} ${stopCluster.text}`);
    await waitFor('the cluster server to stop', async () => {
      const r = (await serverRecord(t, 'alice')).row;
      return r?.ready === 0 && r.pending === null;
    }, { timeoutMs: 30_000 });
    await waitGone(jobId);
    const routes = await t.hub.proxy.getAllRoutes();
    assert.ok(![...routes.keys()].some((k) => k.startsWith('/user/alice')), `routes left: ${[...routes.keys()].join(', ')}`);
  });

  it('a job cancelled with scancel outside the hub: the server is marked stopped and its route removed within a poll interval', async () => {
    const { jobId } = await startOn('bob', '', 'cluster');
    assert.ok(jobId);
    assert.equal((await serverRecord(t, 'bob')).routed, true);
    const r = await runAsRoot(`scancel ${jobId}`);
    assert.equal(r.code, 0, r.stderr);
    const cancelledAt = Date.now();
    await waitFor('the hub to notice the cancelled job', async () => {
      const rec = await serverRecord(t, 'bob');
      return rec.row?.ready === 0 && !rec.routed;
    }, { timeoutMs: (2 * POLL_INTERVAL + 5) * 1000, intervalMs: 100, detail: () => hubLog.text().slice(-2000) });
    const took = Date.now() - cancelledAt;
    assert.equal((await serverRecord(t, 'bob')).serverTokens, 0, "the server's token is revoked");
    assert.ok(hubLog.records().some((l) => l['user'] === 'bob' && l['msg'] === 'server stopped by itself'), 'the hub log says the server stopped by itself');
    process.stderr.write(`# the hub noticed the outside scancel after ${took} ms (poll_interval ${POLL_INTERVAL} s)\n`);
    const page = await fetch(`${t.publicUrl}/user/bob/api/status`, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    await page.body?.cancel();
    assert.notEqual(page.status, 200, 'the proxy no longer sends /user/bob/ to the job');
  });

  it('slurmctld down for a few poll intervals: the server is never declared dead, and afterwards answers through the proxy and stops', async () => {
    const { jobId } = await startOn('bob', '', 'cluster');
    assert.ok(jobId);
    const logMark = hubLog.records().length;
    const sawUnknown = () => hubLog.records().slice(logMark).some((l) => l['user'] === 'bob' && l['msg'] === 'could not learn whether the server runs; keeping it');
    // At least three poll intervals, and until a poll has said "unknown" (squeue needs ~9 s to give up on
    // the controller). Other test processes on this machine start slurmctld again when they bring the
    // cluster up (up.sh): it is stopped again at each round, so it stays down for the whole window.
    const minEnd = Date.now() + 3 * POLL_INTERVAL * 1000;
    const maxEnd = Date.now() + 45_000;
    await stopSlurmctld();
    try {
      while ((Date.now() < minEnd || !sawUnknown()) && Date.now() < maxEnd) {
        await stopSlurmctld();
        const rec = await serverRecord(t, 'bob');
        assert.equal(rec.row?.ready, 1, 'the server was declared dead while the controller was down');
        assert.equal(rec.routed, true, 'the route was removed while the controller was down');
        const api = await t.api('GET', '/users/bob', { token: await token('bob') });
        assert.equal((api.body as { servers: Record<string, { ready: boolean }> }).servers['']?.ready, true);
        await sleep(300);
      }
      assert.ok(sawUnknown(), `the hub log does not say it could not tell:\n${hubLog.records().slice(logMark).filter((l) => l['msg'] !== 'proxy API request').map((l) => JSON.stringify(l)).join('\n').slice(-4000)}`);
    } finally {
      await startSlurmctld();
    }
    assert.equal((await serverRecord(t, 'bob')).row?.ready, 1);
    assert.equal((await squeueJob(jobId))?.state, 'RUNNING', 'the job ran on while the controller was down');
    // a poll round after the restart still keeps it
    await sleep((POLL_INTERVAL + 1) * 1000);
    assert.equal((await serverRecord(t, 'bob')).row?.ready, 1);
    const answer = await throughProxy('/user/bob/').catch(async (err: Error) => {
      // on a machine shared with other tests, say what became of the job
      const diag = await runAsRoot(`ps -u bob -o pid,stat,args; squeue -h -t all -j ${jobId}; tail -20 /home/bob/jupyterhub_slurmspawner_${jobId}.log`);
      throw new Error(`${err.message}\n${diag.stdout}`, { cause: err });
    });
    assert.equal(answer['user'], 'bob');
    const stop = await t.api('DELETE', '/users/bob/server', { token: await token('bob') });
    assert.ok([202, 204].includes(stop.status), `${stop.status} ${stop.text}`);
    await waitFor('bob\'s server to stop', async () => (await serverRecord(t, 'bob')).row?.pending === null && (await serverRecord(t, 'bob')).row?.ready === 0, { timeoutMs: 30_000 });
    await waitGone(jobId);
  });
});
