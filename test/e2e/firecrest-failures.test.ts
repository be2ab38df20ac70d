/**
 * Issue 12, the failures of the FirecREST deployment end to end: the real
 * hub (OIDC login at the real oidc-provider, JWT access tokens, auth state)
 * drives jobs on the real local Slurm through the spec-checking FirecREST
 * stand-in, each job running bin/ganymede-singleuser and the trivial server
 * (the deployment of test/helpers/firecrest-hub.ts).
 *
 * - FirecREST refusing connections, hanging, answering 503: a clear spawn
 *   error within the timeouts, nothing submitted; a running server kept;
 * - 401 on submit: one refresh and one retry, then "log in again";
 * - forged port reports refused;
 * - a hub restart while the job is pending resumes the wait;
 * - a refresh that fails while a server runs: polls go on with the service
 *   account, the server is kept, the home page and the API say to log in
 *   again before stopping; without a service account the poll is `unknown`
 *   and the server is kept too.
 *
 * Every test ends with the stand-in's `violations` and `clientMistakes`
 * empty and no token in the hub's log.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createToken } from '../../src/db/repos/tokens.js';
import { getServer } from '../../src/db/repos/servers.js';
import { getUser } from '../../src/db/repos/users.js';
import type { SpawnerState } from '../../src/spawners/spawner.js';
import { sleep, waitFor } from '../helpers/e2e.js';
import { FIRECREST_SERVICE_CLIENT, startFirecrestHub, type FirecrestHub, type FirecrestHubOptions } from '../helpers/firecrest-hub.js';
import { HELD_SCRIPT, releaseJob, restartHub, serverTokenOf, storedAccess, type RestartedHub } from '../helpers/firecrest-faults.js';
import type { TestHub } from '../helpers/hub.js';
import { ensureSlurmCluster, type SlurmCluster } from '../helpers/slurm-cluster.js';
import { jobsStillLive, progressEvents } from '../helpers/slurm-hub-failures.js';
import { serverState } from '../helpers/slurm-hub.js';

const found = await ensureSlurmCluster();
const skip = 'unavailable' in found ? found.unavailable : false;
const SYSTEM = 'daint';
const SERVICE = FIRECREST_SERVICE_CLIENT.clientId;
const JOBS = /^\/compute\/daint\/jobs$/;
/** The hub takes a token with less than 60 s left as expired: with 65 s tokens, 5 s after they are issued. */
const SHORT_TTL = 65;

describe('FirecREST through the hub: failures', { skip, concurrency: false, timeout: 600_000 }, () => {
  const cluster = found as SlurmCluster;

  /** Runs `body` with a fresh deployment (hub, stand-in, provider); then the stand-in saw no mistake and the log holds no token; stops it all. */
  const deployed = async (opts: FirecrestHubOptions, body: (d: FirecrestHub) => Promise<void>): Promise<void> => {
    const d = await startFirecrestHub(cluster, { ...opts, auth: { auth_refresh_age: 0, ...opts.auth } });
    try {
      await body(d);
      await d.assertClean(serverTokens(d));
    } finally {
      await d.standin.setDown(false);
      await d.stop();
    }
  };

  /** The API tokens of every server the stand-in was given (in the scripts). */
  const serverTokens = (d: FirecrestHub): string[] => d.standin.submitted.flatMap((s) => (s.job.script ? [serverTokenOf(s.job.script)] : []));

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
    await waitFor('the server to be gone', async () => (await serverModel(t, user, token)) === undefined, { timeoutMs: 30_000, intervalMs: 200 });
    assert.deepEqual(await jobsStillLive([jobId]), [], 'the job is gone');
  };

  /** A spawn of `user` that fails: the API answer, the progress stream's last event, how long it took. */
  const failedSpawn = async (t: TestHub, user: string, token: string): Promise<{ api: { status: number; message?: string }; event: { message?: string; html_message?: string }; ms: number }> => {
    const t0 = Date.now();
    const started = await t.api('POST', `/users/${user}/server`, { token, body: {} });
    const events = await progressEvents(t, user, token, 60_000);
    const ms = Date.now() - t0;
    const last = events.at(-1) as { failed?: boolean; message?: string; html_message?: string } | undefined;
    assert.ok(last?.failed, `the progress stream ends with a failed event: ${JSON.stringify(events)}`);
    const message = (started.body as { message?: unknown } | null)?.message;
    return { api: { status: started.status, ...(typeof message === 'string' ? { message } : {}) }, event: last, ms };
  };

  /** Waits for the job the stand-in accepted after `before` submissions. */
  const submittedJob = (d: FirecrestHub, before: number) =>
    waitFor('the job to be submitted', async () => d.standin.submitted.slice(before).find((s) => s.jobId !== undefined), { timeoutMs: 30_000 });

  it('FirecREST refusing connections, hanging, answering 503: the spawn fails within the timeouts naming FirecREST and the system; nothing is submitted; a running server is kept', async () => {
    await deployed({ backends: { daint: { request_timeout: 2, request_retries: 1 } } }, async (d) => {
      const t = d.hub;
      await d.login('alice');
      const token = await t.tokenFor('alice');
      const submitted = d.standin.submitted.length;
      const unavailable = new RegExp(`FirecREST \\(system ${SYSTEM}\\) is not available right now`);
      for (const mode of ['refuse', 'hang', 503] as const) {
        await d.standin.setDown(mode);
        const { api, event, ms } = await failedSpawn(t, 'alice', token);
        await d.standin.setDown(false);
        assert.match(event.message ?? '', unavailable, `${mode}: the failed event says why`);
        if (api.status !== 202) {
          assert.equal(api.status, 503, `${mode}: the API answer (FirecREST unavailable: 503, not JupyterHub's blanket 500)`);
          assert.match(api.message ?? '', unavailable, `${mode}: the API answer says why`);
        }
        // request_timeout 2 s, one retry: a hanging FirecREST costs two timeouts, not more
        assert.ok(ms < 12_000, `${mode}: failed after ${ms} ms`);
        if (mode === 'hang') assert.ok(ms >= 2000, `hang: failed after ${ms} ms, not before request_timeout`);
        else assert.ok(ms < 5000, `${mode}: failed at once (${ms} ms)`);
        assert.equal(await serverModel(t, 'alice', token), undefined, `${mode}: no server left`);
      }
      assert.equal(d.standin.submitted.length, submitted, 'nothing was submitted to Slurm');
      assert.ok(d.log.records().some((r) => r['msg'] === 'spawn failed' && unavailable.test(String(r['err']))), 'the hub log says why');

      // a running server is kept while FirecREST is down, and is still running when it comes back
      const jobId = await spawnReady(t, 'alice', token);
      for (const mode of ['refuse', 'hang', 503] as const) {
        await d.standin.setDown(mode);
        for (let round = 0; round < 2; round++) await t.hub.servers.pollRound();
        assert.equal((await serverModel(t, 'alice', token))?.ready, true, `${mode}: the server is kept`);
      }
      await d.standin.setDown(false);
      await t.hub.servers.pollRound();
      assert.equal((await serverModel(t, 'alice', token))?.ready, true, 'still running after FirecREST came back');
      await reachable(t, 'alice');
      await stopped(t, 'alice', token, jobId);
    });
  });

  it('a 401 on submit: refreshed once and retried once; twice → "log in again" with a link; once → the spawn works', async () => {
    await deployed({}, async (d) => {
      const t = d.hub;
      const browser = await d.login('alice');
      const token = await t.tokenFor('alice');
      const submitted = d.standin.submitted.length;
      const posts = () => d.standin.requests.filter((r) => r.method === 'POST' && JOBS.test(r.path)).map((r) => r.status);
      const refreshes = () => d.provider.requests.filter((r) => r.startsWith('POST /token')).length;
      const loginLink = /<a class="login-again" href="[^"]*oauth_login\?next=[^"]+">Log in again<\/a>/;

      let p0 = posts().length;
      let r0 = refreshes();
      d.standin.failNext('POST', JOBS, 401);
      d.standin.failNext('POST', JOBS, 401);
      const { event } = await failedSpawn(t, 'alice', token);
      assert.match(event.message ?? '', new RegExp(`FirecREST \\(system ${SYSTEM}\\) needs your own login.*log in again`));
      assert.match(event.html_message ?? '', loginLink, String(event.html_message));
      assert.deepEqual(posts().slice(p0), [401, 401], 'one retry, no more');
      assert.equal(refreshes() - r0, 1, 'the token was refreshed once, between');
      assert.equal(d.standin.submitted.length, submitted, 'no job');
      const page = await browser.navigate('/hub/spawn-pending/alice');
      assert.match(page.text, /needs your own login/);
      assert.match(page.text, loginLink);

      p0 = posts().length;
      r0 = refreshes();
      d.standin.failNext('POST', JOBS, 401);
      const jobId = await spawnReady(t, 'alice', token);
      assert.deepEqual(posts().slice(p0), [401, 201], 'retried once with the refreshed token');
      assert.equal(refreshes() - r0, 1, 'the token was refreshed once');
      await reachable(t, 'alice');
      await stopped(t, 'alice', token, jobId);
    });
  });

  it("forged port reports are refused while the job is pending (no token, another user's, a user's API token, another server's, bad ports); the launcher's report is the port", async () => {
    await deployed({ backends: { daint: { batch_script: HELD_SCRIPT } } }, async (d) => {
      const t = d.hub;
      await d.login('alice');
      const token = await t.tokenFor('alice');
      const before = d.standin.submitted.length;
      const started = await t.api('POST', '/users/alice/server', { token, body: {} });
      assert.equal(started.status, 202, started.text);
      const sub = await submittedJob(d, before);
      const own = serverTokenOf(sub.job.script!);
      const alice = (await getUser(t.hub.db, 'alice'))!;
      const report = async (auth: string | undefined, port: unknown): Promise<number> => {
        const res = await fetch(`${t.hubUrl}/hub/api/firecrestspawner`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: `token ${auth}` } : {}) },
          body: JSON.stringify({ port }),
        });
        await res.arrayBuffer();
        return res.status;
      };
      const bob = await t.tokenFor('bob');
      const otherServer = (await createToken(t.hub.db, alice.id, { kind: 'server', scopes: [], serverName: 'lab' })).token;
      assert.equal(await report(undefined, 40001), 403, 'no token');
      assert.equal(await report(bob, 40001), 403, "another user's token");
      assert.equal(await report(token, 40001), 403, "the user's own API token (not the server's)");
      assert.equal(await report(otherServer, 40001), 409, 'a token of another server (not starting)');
      for (const bad of [0, 70000, 'abc']) assert.equal(await report(own, bad), 400, `port ${JSON.stringify(bad)}`);
      assert.equal((await getServer(t.hub.db, alice.id, ''))?.reported_port ?? null, null, 'no port was taken');
      assert.equal((await serverModel(t, 'alice', token))?.pending, 'spawn');

      await releaseJob(sub.jobId!);
      const events = await progressEvents(t, 'alice', token, 90_000);
      assert.ok(events.at(-1)?.ready, JSON.stringify(events));
      const reports = d.log.records().filter((r) => r['msg'] === 'server reported its port');
      assert.equal(reports.length, 1, "one accepted report: the launcher's");
      assert.equal((await serverState(t, 'alice'))['port'], reports[0]!['port'], "the server's port is the one the launcher reported");
      assert.equal(await report(own, 40001), 409, 'a report after the start is refused');
      await reachable(t, 'alice');
      await stopped(t, 'alice', token, sub.jobId!);
    });
  });

  it('a hub restart while the job is pending: the new hub resumes the wait (no second job, no cancel) and the server comes up', async () => {
    const d = await startFirecrestHub(cluster, { backends: { daint: { batch_script: HELD_SCRIPT } }, auth: { auth_refresh_age: 0 } });
    let again: RestartedHub | undefined;
    try {
      await d.login('alice');
      const token = await d.hub.tokenFor('alice');
      const before = d.standin.submitted.length;
      const started = await d.hub.api('POST', '/users/alice/server', { token, body: {} });
      assert.equal(started.status, 202, started.text);
      const sub = await submittedJob(d, before);
      await waitFor('the job id saved', async () => (await serverState(d.hub, 'alice'))['job_id'] === sub.jobId, { timeoutMs: 10_000 });
      await d.sampleSecrets();
      const deletes = () => d.standin.requests.filter((r) => r.method === 'DELETE').length;
      const d0 = deletes();
      again = await restartHub(d);
      const t = again.t;
      assert.equal(t.reattached?.resumed, 1, JSON.stringify(t.reattached));
      await sleep(1000); // the resumed wait asks FirecREST: the job is still held
      await releaseJob(sub.jobId!);
      await waitFor('the resumed server to be ready', async () => (await serverModel(t, 'alice', token))?.ready === true, { timeoutMs: 90_000, intervalMs: 300 });
      assert.equal(d.standin.submitted.length, before + 1, 'no second job');
      assert.equal(deletes(), d0, 'no cancel');
      assert.equal((await serverState(t, 'alice'))['job_id'], sub.jobId);
      assert.ok(again.log.records().some((r) => r['msg'] === 'server reported its port'), 'the launcher reported to the new hub');
      await reachable(t, 'alice');
      await stopped(t, 'alice', token, sub.jobId!);
      assert.deepEqual(d.standin.violations, []);
      assert.deepEqual(d.standin.clientMistakes, []);
      const logs = d.log.text() + again.log.text();
      assert.doesNotMatch(logs, /eyJ[A-Za-z0-9_-]{8,}\.eyJ/, 'no JWT in the hub logs');
      const leaked = [...d.secrets, ...serverTokens(d)].filter((secret) => logs.includes(secret));
      assert.equal(leaked.length, 0, 'no token in the hub logs');
    } finally {
      await again?.t.stop().catch(() => undefined);
      await d.stop();
    }
  });

  it('a refresh that fails while a server runs: polls go on with the service account, the server is kept and reachable; the home page and the API stop say to log in again; after a new login stop works', async () => {
    await deployed({ accessTokenTtl: SHORT_TTL }, async (d) => {
      const t = d.hub;
      const browser = await d.login('alice');
      const token = await t.tokenFor('alice');
      const jobId = await spawnReady(t, 'alice', token);
      assert.match((await browser.navigate('/hub/home')).text, /<button class="danger" id="stop" type="submit">Stop my server<\/button>/, 'a working stop button while the login works');

      await d.provider.forgetTokens();
      const { expiresAt } = await storedAccess(t, 'alice');
      await sleep(Math.max(0, (expiresAt - 60) * 1000 - Date.now() + 500));

      const home = await browser.navigate('/hub/home');
      assert.equal(home.status, 200);
      assert.match(
        home.text,
        /class="stop-blocker" data-server="">Your login has expired: log in again to stop this server \(it keeps running\)\. <a class="login-again" href="[^"]*oauth_login\?next=[^"]+">Log in again<\/a>/,
        home.text,
      );
      assert.doesNotMatch(home.text, /<button[^>]*type="submit">Stop/, 'no working stop button');

      const servicePolls = () => d.standin.requests.filter((r) => r.method === 'GET' && r.user === SERVICE);
      const s0 = servicePolls().length;
      for (let round = 0; round < 3; round++) await t.hub.servers.pollRound();
      const polls = servicePolls().slice(s0);
      assert.equal(polls.filter((r) => r.path === `/compute/${SYSTEM}/jobs/${jobId}` && r.status === 200).length, 3, `the service account read the job at each poll: ${JSON.stringify(polls)}`);
      assert.equal((await serverModel(t, 'alice', token))?.ready, true, 'the server is kept');
      assert.equal(d.log.records().filter((r) => /polling the job with the service account/.test(String(r['msg']))).length, 1, 'the fallback is logged once');
      await reachable(t, 'alice');

      const refused = await t.api('DELETE', '/users/alice/server', { token });
      assert.equal(refused.status, 401, refused.text);
      assert.match((refused.body as { message: string }).message, /log in again/i);
      assert.equal((await serverModel(t, 'alice', token))?.ready, true, 'the server is kept after the refused stop');
      assert.ok(!d.standin.requests.some((r) => r.method === 'DELETE'), 'no cancel was sent');

      const fresh = await d.login('alice');
      assert.doesNotMatch((await fresh.navigate('/hub/home')).text, /stop-blocker/, 'after a new login the home page offers stop');
      await stopped(t, 'alice', token, jobId);
    });
  });

  it('a refresh that fails without a service account configured: the poll answers unknown and the server is kept', async () => {
    await deployed({ accessTokenTtl: SHORT_TTL, serviceAccount: false }, async (d) => {
      const t = d.hub;
      await d.login('bob');
      const token = await t.tokenFor('bob');
      const jobId = await spawnReady(t, 'bob', token);
      await d.provider.forgetTokens();
      const { expiresAt } = await storedAccess(t, 'bob');
      await sleep(Math.max(0, (expiresAt - 60) * 1000 - Date.now() + 500));

      const row = (await getServer(t.hub.db, (await getUser(t.hub.db, 'bob'))!.id, ''))!;
      const polled = await t.hub.spawners.forRow(row).spawner.poll((await serverState(t, 'bob')) as SpawnerState, { log: t.hub.log });
      assert.equal(polled.status, 'unknown', JSON.stringify(polled));
      assert.match(String((polled as { reason?: string }).reason), /log in again.*the server is kept/);
      const reads = () => d.standin.requests.filter((r) => r.path === `/compute/${SYSTEM}/jobs/${jobId}`).length;
      const r0 = reads();
      for (let round = 0; round < 2; round++) await t.hub.servers.pollRound();
      assert.equal(reads(), r0, 'FirecREST is not asked without a usable token');
      assert.equal((await serverModel(t, 'bob', token))?.ready, true, 'the server is kept');
      await reachable(t, 'bob');
      await d.login('bob');
      await stopped(t, 'bob', token, jobId);
    });
  });
});
