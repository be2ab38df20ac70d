/**
 * Issue 12, the failures of the FirecREST deployment end to end: the real
 * hub (OIDC login at the real oidc-provider, JWT access tokens, auth state)
 * drives jobs on the real local Slurm through the spec-checking FirecREST
 * stand-in, each job running bin/ganymede-singleuser and the trivial server.
 *
 * - a refresh that fails while a server runs: polls go on with the service
 *   account, the server is kept, the home page and the API say to log in
 *   again before stopping; without a service account the poll is `unknown`
 *   and the server is kept too;
 * - FirecREST refusing connections, hanging, answering 503: a clear spawn
 *   error within the timeouts, nothing submitted; a running server kept;
 * - forged port reports refused;
 * - 401 on submit: one refresh and one retry, then "log in again";
 * - a hub restart while the job is pending resumes the wait.
 *
 * Every test ends with the stand-in's `violations` and `clientMistakes`
 * empty and no token in the hub's log.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createToken } from '../../src/db/repos/tokens.js';
import { getServer } from '../../src/db/repos/servers.js';
import { getUser } from '../../src/db/repos/users.js';
import type { SpawnerState } from '../../src/spawners/spawner.js';
import { sleep, waitFor } from '../helpers/e2e.js';
import type { TestHub } from '../helpers/hub.js';
import { ensureSlurmCluster, type SlurmCluster } from '../helpers/slurm-cluster.js';
import { jobsStillLive, progressEvents } from '../helpers/slurm-hub-failures.js';
import { serverState } from '../helpers/slurm-hub.js';
import {
  assertNoTokenInLog,
  HELD_SCRIPT,
  oidcLogin,
  releaseJob,
  SERVICE,
  serverTokenOf,
  startFaultRig,
  storedAccess,
  SYSTEM,
  type FaultRig,
  type RigHub,
} from '../helpers/firecrest-faults.js';

const found = await ensureSlurmCluster();
const skip = 'unavailable' in found ? found.unavailable : false;
const JOBS = /^\/compute\/daint\/jobs$/;

describe('FirecREST through the hub: failures', { skip, concurrency: false, timeout: 600_000 }, () => {
  let rig: FaultRig;
  const savedKey = process.env['GANYMEDE_CRYPT_KEY'];
  /** Tokens the hub's log must not hold (access tokens, server tokens), gathered as the tests see them. */
  const secrets: string[] = [];

  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = 'a7'.repeat(32);
    rig = await startFaultRig(found as SlurmCluster);
  });
  after(async () => {
    await rig?.close();
    if (savedKey === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
    else process.env['GANYMEDE_CRYPT_KEY'] = savedKey;
  });

  /** Adds the tokens the hub holds now (users' access and refresh tokens, servers' API tokens) to `secrets`. */
  const rememberTokens = async (t: TestHub): Promise<void> => {
    for (const s of rig.standin.submitted) if (s.job.script) secrets.push(serverTokenOf(s.job.script));
    for (const u of ['alice', 'bob']) {
      if (!(await getUser(t.hub.db, u))?.auth_state) continue;
      const { token, refreshToken } = await storedAccess(t, u);
      secrets.push(token, refreshToken);
    }
  };

  /** Runs `body` with a hub, then checks the stand-in saw no mistake and the log no token, and stops the hub. */
  const withHub = async (spawners: Record<string, Record<string, unknown>>, body: (h: RigHub) => Promise<void>): Promise<void> => {
    const h = await rig.hub(spawners);
    try {
      await body(h);
      await rememberTokens(h.t);
      assert.deepEqual(rig.standin.violations, [], 'the stand-in answered by the spec');
      assert.deepEqual(rig.standin.clientMistakes, [], 'the hub made no request the spec refuses');
      assertNoTokenInLog(h.logText(), secrets);
    } finally {
      await rig.standin.setDown(false);
      await h.t.stop().catch(() => undefined);
    }
  };

  /** The model of `user`'s default server (undefined when none). */
  const serverModel = async (t: TestHub, user: string, token: string): Promise<{ ready: boolean; pending: string | null } | undefined> => {
    const res = await t.api('GET', `/users/${user}`, { token });
    return (res.body as { servers: Record<string, { ready: boolean; pending: string | null }> }).servers[''];
  };

  /** Starts `user`'s server and waits for it to be ready; returns its job id. */
  const spawnReady = async (t: TestHub, user: string, token: string, body: Record<string, unknown> = {}): Promise<string> => {
    const started = await t.api('POST', `/users/${user}/server`, { token, body });
    assert.ok(started.status === 201 || started.status === 202, `spawn: ${started.status} ${started.text}`);
    const events = await progressEvents(t, user, token, 90_000);
    assert.ok(events.at(-1)?.ready, `ready: ${JSON.stringify(events)}`);
    const id = (await serverState(t, user))['job_id'];
    assert.equal(typeof id, 'string');
    return id as string;
  };

  /** The server answers through the proxy as `user`. */
  const reachable = async (t: TestHub, user: string): Promise<void> => {
    const res = await fetch(`${t.publicUrl}/user/${user}/api`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200, 'the server answers through the proxy');
    assert.equal(((await res.json()) as { user: string }).user, user);
  };

  /** Stops `user`'s server through the API and checks its job is gone. */
  const stopped = async (t: TestHub, user: string, token: string, jobId: string): Promise<void> => {
    const res = await t.api('DELETE', `/users/${user}/server`, { token });
    assert.ok(res.status === 204 || res.status === 202, `stop: ${res.status} ${res.text}`);
    await waitFor('the server to be gone', async () => (await serverModel(t, user, token)) === undefined, { timeoutMs: 20_000, intervalMs: 200 });
    assert.deepEqual(await jobsStillLive([jobId]), [], 'the job is gone');
  };

  /** A spawn of `user` that fails: the API answer, the progress stream's last event; how long it took. */
  const failedSpawn = async (t: TestHub, user: string, token: string): Promise<{ api: { status: number; message?: string }; event: { message?: string; html_message?: string }; ms: number }> => {
    const t0 = Date.now();
    const started = await t.api('POST', `/users/${user}/server`, { token, body: {} });
    const events = await progressEvents(t, user, token, 60_000);
    const ms = Date.now() - t0;
    const last = events.at(-1) as { failed?: boolean; message?: string; html_message?: string } | undefined;
    assert.ok(last?.failed, `the progress stream ends with a failed event: ${JSON.stringify(events)}`);
    return { api: { status: started.status, ...(typeof started.body === 'object' && started.body !== null ? { message: (started.body as { message?: string }).message } : {}) }, event: last, ms };
  };

  it('FirecREST refusing connections, hanging, answering 503: the spawn fails within the timeouts naming FirecREST and the system; nothing is submitted; a running server is kept', async () => {
    await withHub({ daint: rig.backend() }, async (h) => {
      await oidcLogin(rig, 'alice');
      const token = await h.t.tokenFor('alice');
      const submitted = rig.standin.submitted.length;
      const unavailable = new RegExp(`FirecREST \\(system ${SYSTEM}\\) is not available right now`);
      for (const mode of ['refuse', 'hang', 503] as const) {
        await rig.standin.setDown(mode);
        const { api, event, ms } = await failedSpawn(h.t, 'alice', token);
        await rig.standin.setDown(false);
        assert.match(event.message ?? '', unavailable, `${mode}: the failed event says why`);
        if (api.status !== 202) {
          assert.equal(api.status, 500, `${mode}: the API answer (a failed spawn, as JupyterHub)`);
          assert.match(api.message ?? '', unavailable, `${mode}: the API answer says why`);
        }
        // request_timeout 2 s, one retry: a hanging FirecREST costs two timeouts, not more
        assert.ok(ms < 12_000, `${mode}: failed after ${ms} ms`);
        if (mode === 'hang') assert.ok(ms >= 2000, `hang: failed after ${ms} ms, not before request_timeout`);
        else assert.ok(ms < 5000, `${mode}: failed at once (${ms} ms)`);
        assert.equal(await serverModel(h.t, 'alice', token), undefined, `${mode}: no server left`);
      }
      assert.equal(rig.standin.submitted.length, submitted, 'nothing was submitted to Slurm');
      assert.ok(h.records().some((r) => r['msg'] === 'spawn failed' && unavailable.test(String(r['err']))), 'the hub log says why');

      // a running server is kept while FirecREST is down, and is still running when it comes back
      const jobId = await spawnReady(h.t, 'alice', token);
      for (const mode of ['refuse', 'hang', 503] as const) {
        await rig.standin.setDown(mode);
        for (let round = 0; round < 2; round++) await h.t.hub.servers.pollRound();
        const model = await serverModel(h.t, 'alice', token);
        assert.equal(model?.ready, true, `${mode}: the server is kept`);
      }
      await rig.standin.setDown(false);
      await h.t.hub.servers.pollRound();
      assert.equal((await serverModel(h.t, 'alice', token))?.ready, true, 'still running after FirecREST came back');
      await reachable(h.t, 'alice');
      await stopped(h.t, 'alice', token, jobId);
    });
  });

  it('a 401 on submit: refreshed once and retried once; twice → "log in again" with a link; once → the spawn works', async () => {
    await withHub({ daint: rig.backend() }, async (h) => {
      const browser = await oidcLogin(rig, 'alice');
      const token = await h.t.tokenFor('alice');
      await rememberTokens(h.t);
      const submitted = rig.standin.submitted.length;
      const posts = () => rig.standin.requests.filter((r) => r.method === 'POST' && JOBS.test(r.path)).map((r) => r.status);
      const refreshes = () => rig.op.requests.filter((r) => r.startsWith('POST /token')).length;

      let p0 = posts().length;
      let r0 = refreshes();
      rig.standin.failNext('POST', JOBS, 401);
      rig.standin.failNext('POST', JOBS, 401);
      const { event } = await failedSpawn(h.t, 'alice', token);
      assert.match(event.message ?? '', new RegExp(`FirecREST \\(system ${SYSTEM}\\) needs your own login.*log in again`));
      assert.match(event.html_message ?? '', /<a class="login-again" href="[^"]*oauth_login\?next=[^"]+">Log in again<\/a>/, String(event.html_message));
      assert.deepEqual(posts().slice(p0), [401, 401], 'one retry, no more');
      assert.ok(refreshes() - r0 >= 1, 'the token was refreshed between');
      assert.equal(rig.standin.submitted.length, submitted, 'no job');
      const page = await browser.get('/hub/spawn-pending/alice');
      const html = await page.text();
      assert.match(html, /needs your own login/);
      assert.match(html, /<a class="login-again" href="[^"]*oauth_login\?next=[^"]+">Log in again<\/a>/);

      p0 = posts().length;
      r0 = refreshes();
      rig.standin.failNext('POST', JOBS, 401);
      const jobId = await spawnReady(h.t, 'alice', token);
      assert.deepEqual(posts().slice(p0), [401, 201], 'retried once with the refreshed token');
      assert.ok(refreshes() - r0 >= 1, 'the token was refreshed');
      await reachable(h.t, 'alice');
      await stopped(h.t, 'alice', token, jobId);
    });
  });

  it('forged port reports are refused while the job is pending: no token, another user\'s, a user API token, another server\'s, bad ports; the launcher\'s report wins', async () => {
    await withHub({ daint: rig.backend({ batch_script: HELD_SCRIPT }) }, async (h) => {
      await oidcLogin(rig, 'alice');
      const token = await h.t.tokenFor('alice');
      const before = rig.standin.submitted.length;
      const started = await h.t.api('POST', '/users/alice/server', { token, body: {} });
      assert.equal(started.status, 202, started.text);
      const sub = await waitFor('the held job', async () => rig.standin.submitted.slice(before).find((s) => s.jobId !== undefined), { timeoutMs: 20_000 });
      const own = serverTokenOf(sub.job.script!);
      const alice = (await getUser(h.t.hub.db, 'alice'))!;
      const report = async (auth: string | undefined, port: unknown): Promise<number> => {
        const res = await fetch(`${h.t.hubUrl}/hub/api/firecrestspawner`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: `token ${auth}` } : {}) },
          body: JSON.stringify({ port }),
        });
        await res.arrayBuffer();
        return res.status;
      };
      const bob = await h.t.tokenFor('bob');
      const otherServer = (await createToken(h.t.hub.db, alice.id, { kind: 'server', scopes: [], serverName: 'lab' })).token;
      assert.equal(await report(undefined, 40001), 403, 'no token');
      assert.equal(await report(bob, 40001), 403, "another user's token");
      assert.equal(await report(token, 40001), 403, "the user's own API token (not the server's)");
      assert.equal(await report(otherServer, 40001), 409, 'a token of another server (not starting)');
      for (const bad of [0, 70000, 'abc']) assert.equal(await report(own, bad), 400, `port ${JSON.stringify(bad)}`);
      const row = await getServer(h.t.hub.db, alice.id, '');
      assert.equal(row?.reported_port ?? null, null, 'no port was taken');
      assert.equal((await serverModel(h.t, 'alice', token))?.pending, 'spawn');

      await releaseJob(sub.jobId!);
      const events = await progressEvents(h.t, 'alice', token, 90_000);
      assert.ok(events.at(-1)?.ready, JSON.stringify(events));
      const reports = h.records().filter((r) => r['msg'] === 'server reported its port');
      assert.equal(reports.length, 1, 'one accepted report: the launcher\'s');
      assert.equal((await serverState(h.t, 'alice'))['port'], reports[0]!['port'], "the server's port is the one the launcher reported");
      assert.equal(await report(own, 40001), 409, 'a report after the start is refused');
      await reachable(h.t, 'alice');
      await stopped(h.t, 'alice', token, sub.jobId!);
    });
  });

  it('a hub restart while the job is pending: the new hub resumes the wait (no second job, no cancel) and the server comes up', async () => {
    const spawners = { daint: rig.backend({ batch_script: HELD_SCRIPT }) };
    const first = await rig.hub(spawners);
    let second: RigHub | undefined;
    try {
      await oidcLogin(rig, 'alice');
      const token = await first.t.tokenFor('alice');
      const before = rig.standin.submitted.length;
      const started = await first.t.api('POST', '/users/alice/server', { token, body: {} });
      assert.equal(started.status, 202, started.text);
      const sub = await waitFor('the held job', async () => rig.standin.submitted.slice(before).find((s) => s.jobId !== undefined), { timeoutMs: 20_000 });
      await waitFor('the job id saved', async () => (await serverState(first.t, 'alice'))['job_id'] === sub.jobId, { timeoutMs: 10_000 });
      await first.t.detach();
      const deletes = () => rig.standin.requests.filter((r) => r.method === 'DELETE').length;
      const d0 = deletes();
      second = await rig.hub(spawners, {}, { dataDir: first.t.dataDir, proxyServer: first.t.proxyServer, reattach: true });
      assert.equal(second.t.reattached?.resumed, 1, JSON.stringify(second.t.reattached));
      await sleep(1000);
      await releaseJob(sub.jobId!);
      await waitFor('the resumed server to be ready', async () => (await serverModel(second!.t, 'alice', token))?.ready === true, { timeoutMs: 90_000, intervalMs: 300 });
      assert.equal(rig.standin.submitted.length, before + 1, 'no second job');
      assert.equal(deletes(), d0, 'no cancel');
      assert.equal((await serverState(second.t, 'alice'))['job_id'], sub.jobId);
      await reachable(second.t, 'alice');
      await stopped(second.t, 'alice', token, sub.jobId!);
      await rememberTokens(second.t);
      assert.deepEqual(rig.standin.violations, []);
      assert.deepEqual(rig.standin.clientMistakes, []);
      assertNoTokenInLog(first.logText() + second.logText(), secrets);
    } finally {
      if (second) await second.t.stop().catch(() => undefined);
      else await first.t.stop().catch(() => undefined);
    }
  });

  it('a refresh that fails while servers run: polls go on with the service account, the server is kept and reachable; the home page and the API stop say to log in again; after a new login stop works; without a service account the poll is unknown and the server kept', async () => {
    await withHub({ daint: rig.backend(), nosa: rig.backend({ service_account: null }) }, async (h) => {
      const aliceBrowser = await oidcLogin(rig, 'alice');
      await oidcLogin(rig, 'bob');
      const alice = await h.t.tokenFor('alice');
      const bob = await h.t.tokenFor('bob');
      const aliceJob = await spawnReady(h.t, 'alice', alice, { backend: 'daint' });
      const bobJob = await spawnReady(h.t, 'bob', bob, { backend: 'nosa' });
      const home0 = await (await aliceBrowser.get('/hub/home')).text();
      assert.match(home0, /<button class="danger" id="stop" type="submit">Stop my server<\/button>/, 'a working stop button while the login works');

      await rig.op.forgetTokens();
      // the hub takes a token with less than 60 s left as expired (ACCESS_TTL 65 s)
      for (const u of ['alice', 'bob']) {
        const { token, refreshToken, expiresAt } = await storedAccess(h.t, u);
        secrets.push(token, refreshToken);
        const wait = (expiresAt - 60) * 1000 - Date.now() + 500;
        if (wait > 0) await sleep(wait);
      }

      const home = await aliceBrowser.get('/hub/home');
      assert.equal(home.status, 200);
      const html = await home.text();
      assert.match(html, /class="stop-blocker" data-server="">Your login has expired: log in again to stop this server \(it keeps running\)\. <a class="login-again" href="[^"]*oauth_login\?next=[^"]+">Log in again<\/a>/, html);
      assert.doesNotMatch(html, /<button[^>]*type="submit">Stop/, 'no working stop button');

      const servicePolls = () => rig.standin.requests.filter((r) => r.method === 'GET' && r.user === SERVICE.clientId);
      const s0 = servicePolls().length;
      for (let round = 0; round < 2; round++) await h.t.hub.servers.pollRound();
      const polls = servicePolls().slice(s0);
      assert.ok(polls.some((r) => r.path === `/compute/${SYSTEM}/jobs/${aliceJob}` && r.status === 200), `the service account read alice's job: ${JSON.stringify(polls)}`);
      assert.ok(!polls.some((r) => r.path.includes(`/jobs/${bobJob}`)), 'no service account for the back-end without one');
      assert.equal((await serverModel(h.t, 'alice', alice))?.ready, true, "alice's server is kept");
      assert.equal((await serverModel(h.t, 'bob', bob))?.ready, true, "bob's server is kept");
      const bobRow = (await getServer(h.t.hub.db, (await getUser(h.t.hub.db, 'bob'))!.id, ''))!;
      const bobPoll = await h.t.hub.spawners.forRow(bobRow).spawner.poll((await serverState(h.t, 'bob')) as SpawnerState, { log: h.t.hub.log });
      assert.equal(bobPoll.status, 'unknown', `without a service account the poll is unknown: ${JSON.stringify(bobPoll)}`);
      assert.match(String((bobPoll as { reason?: string }).reason), /log in again.*the server is kept/);
      assert.ok(h.records().some((r) => /polling the job with the service account/.test(String(r['msg']))), 'the fallback is logged');
      await reachable(h.t, 'alice');
      await reachable(h.t, 'bob');

      const refused = await h.t.api('DELETE', '/users/alice/server', { token: alice });
      assert.equal(refused.status, 401, refused.text);
      assert.match((refused.body as { message: string }).message, /log in again/i);
      assert.equal((await serverModel(h.t, 'alice', alice))?.ready, true, 'the server is kept after the refused stop');
      assert.equal(rig.standin.requests.filter((r) => r.method === 'DELETE').filter((r) => r.path.endsWith(`/${aliceJob}`)).length, 0, 'no cancel was sent');

      const again = await oidcLogin(rig, 'alice');
      const home2 = await (await again.get('/hub/home')).text();
      assert.doesNotMatch(home2, /stop-blocker/, 'after a new login the home page offers stop');
      await stopped(h.t, 'alice', alice, aliceJob);
      await oidcLogin(rig, 'bob');
      await stopped(h.t, 'bob', bob, bobJob);
    });
  });
});
