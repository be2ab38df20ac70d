/**
 * A hub restart under Slurm-backed servers (issue 11, "Tests"), on the real
 * Slurm over the test sshd: one job runs, another is still queued (held,
 * `--hold`, so it cannot start before the test releases it), then the hub
 * goes away as a killed process would and a new hub starts on the same data
 * dir, database and proxy, re-attaching as `serve` does. Nothing is
 * cancelled: the running server stays reachable, the queued one is waited
 * for again and becomes ready on the new hub, with the same job id, once it
 * is released.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../../src/lib/free-port.js';
import type { BatchSpawner } from '../../src/spawners/batch/batch-spawner.js';
import { waitFor } from '../helpers/e2e.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { serverRecord } from '../helpers/server-state.js';
import { ensureSlurmCluster, runAsRoot, squeueJob, type SlurmCluster } from '../helpers/slurm-cluster.js';
import { capturedLog, commandLineSampler, jobFiles, jobIdOf, slurmOverSsh, type JobFiles } from '../helpers/slurm-hub.js';

const cluster = await ensureSlurmCluster();
const skip = 'unavailable' in cluster ? `NOTICE: the Slurm e2e tests are skipped: ${cluster.unavailable}` : false;

/**
 * Makes a hub that was detached inert, as a killed process is: its abandoned
 * spawns (still running in this test process) can no longer run a
 * scheduler command, so none of them can cancel a job when it gives up
 * (a dead hub process cancels nothing). Its SSH connections are closed.
 */
async function killBackends(t: TestHub): Promise<void> {
  for (const b of t.hub.spawners.all()) {
    const s = b.spawner as BatchSpawner;
    s.commands.transport.run = () => new Promise(() => undefined);
    await s.close();
  }
}

describe('e2e: a hub restart with one Slurm job running and one queued', { skip, timeout: 240_000 }, () => {
  const c = cluster as SlurmCluster;
  let first: TestHub;
  let second: TestHub | undefined;
  let files: JobFiles;
  const log1 = capturedLog();
  const log2 = capturedLog();
  const jobs = new Set<string>();
  let raw: Record<string, unknown>;

  before(async () => {
    files = await jobFiles(c);
    const hubPort = await freePort('127.0.0.1');
    const backend = (extra: Record<string, unknown>) =>
      slurmOverSsh(c, { cmd: ['/bin/sh', files.launcher, process.execPath, files.trivialServer], hub_connect_url: `http://${c.hubReachableAddress}:${hubPort}`, ...extra });
    raw = {
      allow_named_servers: true,
      start_timeout: 120,
      slow_spawn_timeout: 1,
      // `held` submits its jobs held: they stay queued until released (scontrol release)
      spawners: { cluster: backend({}), held: backend({ req_options: '--hold' }) },
    };
    first = await startTestHub(raw, { hubPort, log: log1.log });
  });

  after(async () => {
    if (second) await second.stop().catch(() => undefined);
    else await first?.proxyServer.close().catch(() => undefined);
    if (jobs.size) await runAsRoot(`scancel ${[...jobs].join(' ')}; for u in alice bob; do for j in ${[...jobs].join(' ')}; do rm -f /home/$u/jupyterhub_slurmspawner_$j.log; done; done`);
    files?.remove();
  });

  it('both are picked up by the new hub, none cancelled: the running one stays reachable, the queued one becomes ready once it can start, same job id', async () => {
    // alice's job runs; bob's is queued (held)
    const a = await first.api('POST', '/users/alice/server', { token: await first.tokenFor('alice'), body: { backend: 'cluster' } });
    assert.ok([201, 202].includes(a.status), `${a.status} ${a.text}`);
    await waitFor('alice ready', async () => (await serverRecord(first, 'alice')).row?.ready === 1, { timeoutMs: 60_000, detail: () => log1.text().slice(-2000) });
    const running = (await jobIdOf(first, 'alice'))!;
    jobs.add(running);
    const b = await first.api('POST', '/users/bob/server', { token: await first.tokenFor('bob'), body: { backend: 'held' } });
    assert.equal(b.status, 202, `${b.status} ${b.text}`);
    const queued = await waitFor('bob\'s job to be submitted', () => jobIdOf(first, 'bob'), { timeoutMs: 30_000 });
    jobs.add(queued);
    await waitFor(`job ${queued} held in the queue`, async () => (await squeueJob(queued))?.state === 'PENDING', { timeoutMs: 10_000 });
    assert.equal((await squeueJob(queued))?.reason, 'JobHeldUser');

    // and a third, queued too, whose job ends while no hub runs
    const g = await first.api('POST', '/users/alice/servers/gone', { token: await first.tokenFor('alice'), body: { backend: 'held' } });
    assert.equal(g.status, 202, `${g.status} ${g.text}`);
    const ended = await waitFor('alice/gone\'s job to be submitted', () => jobIdOf(first, 'alice', 'gone'), { timeoutMs: 30_000 });
    jobs.add(ended);

    // and a fourth, queued, that its user stops on the new hub before it starts
    const l = await first.api('POST', '/users/alice/servers/later', { token: await first.tokenFor('alice'), body: { backend: 'held' } });
    assert.equal(l.status, 202, `${l.status} ${l.text}`);
    const dropped = await waitFor('alice/later\'s job to be submitted', () => jobIdOf(first, 'alice', 'later'), { timeoutMs: 30_000 });
    jobs.add(dropped);

    const sampler = commandLineSampler();
    let seen: string[];
    try {
      // the hub goes away as a killed process does: servers, jobs, proxy and database stay
      await killBackends(first);
      await first.detach();
      const r0 = await runAsRoot(`scancel ${ended}`);
      assert.equal(r0.code, 0, r0.stderr);
      await waitFor(`job ${ended} to end`, async () => !/^(PENDING|RUNNING|COMPLETING)$/.test((await squeueJob(ended))?.state ?? ''), { timeoutMs: 10_000 });
      second = await startTestHub(raw, { dataDir: first.dataDir, proxyServer: first.proxyServer, hubPort: first.hubPort, reattach: true, log: log2.log });
      assert.deepEqual(second.reattached, { kept: 1, cleared: 1, resumed: 2 }, log2.text().slice(-3000));
      const t = second;
      // the one whose job ended is cleared: nothing pending, no state, no token, no route
      const gone = await serverRecord(t, 'alice', 'gone');
      assert.deepEqual([gone.row?.ready, gone.row?.pending, gone.row?.state, gone.serverTokens, gone.routed], [0, null, '{}', 0, false]);
      const said = () => log2.records().filter((r) => r['msg'] !== 'proxy API request').map((r) => JSON.stringify(r)).join('\n');
      assert.ok(log2.records().some((l) => l['user'] === 'alice' && l['server'] === '' && /^re-attached to (a )?running server/.test(String(l['msg']))), said());
      assert.ok(log2.records().some((l) => l['user'] === 'bob' && l['msg'] === 'resumed waiting for a server whose spawn an earlier hub process began'));

      // nothing was cancelled; the running one answers through the proxy
      assert.equal((await squeueJob(running))?.state, 'RUNNING');
      assert.equal((await squeueJob(queued))?.state, 'PENDING');
      const res = await fetch(`${t.publicUrl}/user/alice/api/status`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { user: string }).user, 'alice');
      assert.equal((await serverRecord(t, 'bob')).row?.pending, 'spawn', 'bob\'s spawn is still under way on the new hub');

      // alice gives up waiting for her queued one: the new hub cancels its job
      assert.equal((await squeueJob(dropped))?.state, 'PENDING');
      const del = await t.api('DELETE', '/users/alice/servers/later', { token: await t.tokenFor('alice') });
      assert.ok([202, 204].includes(del.status), `${del.status} ${del.text}`);
      await waitFor('alice/later to be stopped', async () => (await serverRecord(t, 'alice', 'later')).row?.pending === null, { timeoutMs: 30_000 });
      await waitFor(`job ${dropped} to be cancelled`, async () => !/^(PENDING|RUNNING|COMPLETING)$/.test((await squeueJob(dropped))?.state ?? ''), { timeoutMs: 15_000 });
      assert.equal((await serverRecord(t, 'alice', 'later')).row?.state, '{}');

      // bob's job can start now: it runs, reports its port to the new hub, and his server becomes ready
      const r = await runAsRoot(`scontrol release ${queued}`);
      assert.equal(r.code, 0, r.stderr);
      await waitFor('bob ready on the new hub', async () => (await serverRecord(t, 'bob')).row?.ready === 1, { timeoutMs: 60_000, intervalMs: 200, detail: () => log2.text().slice(-3000) }).catch(async (err: Error) => {
        const diag = await runAsRoot(`squeue -h -t all -j ${queued} -o '%T %B %r'; tail -20 /home/bob/jupyterhub_slurmspawner_${queued}.log`);
        throw new Error(`${err.message}\n${diag.stdout}\nrow: ${JSON.stringify((await serverRecord(t, 'bob')).row)}`, { cause: err });
      });
      assert.equal(await jobIdOf(t, 'bob'), queued, 'the same job');
      assert.equal((await squeueJob(queued))?.state, 'RUNNING');
      const bobRes = await fetch(`${t.publicUrl}/user/bob/api/status`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(bobRes.status, 200);
      assert.equal(((await bobRes.json()) as { user: string }).user, 'bob');
      assert.equal((await squeueJob(running))?.state, 'RUNNING');
    } finally {
      seen = await sampler.stop();
    }
    const cancels = seen.filter((l) => /\bscancel\b/.test(l) && new RegExp(`\\b(${running}|${queued})\\b`).test(l));
    assert.deepEqual(cancels, [], 'a job was cancelled across the restart');
    for (const l of [...log1.records(), ...log2.records()].filter((r) => r['server'] !== 'later')) {
      assert.ok(!['spawn failed', 'server stopped', 'server stopped by itself'].includes(String(l['msg'])), `the hub log says ${JSON.stringify(l)}`);
    }
  });
});
