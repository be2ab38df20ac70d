/**
 * The FirecREST deployment end to end (issue 12, "Tests"), all real but
 * FirecREST: users log in at the real OpenID provider (JWT access tokens,
 * lifetime 20 s, so the hub refreshes before every use), the hub (in-process,
 * real proxy) has two `kind: firecrest` back-ends, `daint` and `eiger`, on the
 * spec-validating FirecREST stand-in, which runs the jobs on the real local
 * Slurm as the token's user. A job runs the repo's launcher, which reports
 * its port to the hub, then the trivial server. Each test ends with the
 * stand-in's `violations` and `clientMistakes` empty and no token in the hub log.
 *
 * The default server's job on daint is submitted held (`#SBATCH --hold`, by
 * the back-end's script) so that it waits with a pending reason until the test
 * releases it: that keeps the shared test node free for other tests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { DEFAULT_FIRECREST_SCRIPT } from '../../src/spawners/firecrest/firecrest-script.js';
import { parseForm, type ProgressEvent } from '../helpers/e2e.js';
import { serverRecord } from '../helpers/server-state.js';
import { ensureSlurmCluster, runAsRoot, squeueJob, type SlurmCluster } from '../helpers/slurm-cluster.js';
import { jobIdOf, processEnvOf } from '../helpers/slurm-hub.js';
import { startFirecrestHub, type FirecrestHub } from '../helpers/firecrest-hub.js';
import type { TestHub } from '../helpers/hub.js';

const cluster = await ensureSlurmCluster();
const skip = 'unavailable' in cluster ? `NOTICE: the FirecREST e2e tests are skipped: ${cluster.unavailable}` : false;
const TOKEN_TTL_S = 20;
/** The built-in script, the default server's job held until the test releases it. */
const HELD_SCRIPT = DEFAULT_FIRECREST_SCRIPT.replace('#!/bin/bash\n', "#!/bin/bash\n{% if server_name == '' %}#SBATCH --hold\n{% endif %}");
const LIVE = /^(PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED)$/;

/** The progress URL of `user`'s server `server` (API). */
function progressUrl(t: TestHub, user: string, server = ''): string {
  return `${t.hubUrl}/hub/api/users/${user}/${server ? `servers/${server}` : 'server'}/progress`;
}

/** Reads a progress stream until ready or failed, calling `onEvent` on each event as it comes. */
async function followProgress(t: TestHub, token: string, user: string, server: string, onEvent: (e: ProgressEvent) => Promise<void> | void = () => undefined): Promise<ProgressEvent[]> {
  const res = await fetch(progressUrl(t, user, server), { headers: { Authorization: `token ${token}`, Accept: 'text/event-stream' }, signal: AbortSignal.timeout(90_000) });
  assert.equal(res.status, 200, `progress of ${user}/${server}: ${res.status}`);
  assert.ok(res.body);
  const events: ProgressEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const data = buffer
        .slice(0, end)
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('\n');
      buffer = buffer.slice(end + 2);
      if (!data) continue;
      const e = JSON.parse(data) as ProgressEvent;
      events.push(e);
      await onEvent(e);
      if (e.ready || e.failed) {
        await res.body.cancel().catch(() => undefined);
        return events;
      }
    }
  }
  return events;
}

/** Waits until `check` holds (every 100 ms), failing after `ms`. */
async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stops `user`'s server through the API and waits until the hub has it stopped. */
async function stopServer(d: FirecrestHub, token: string, user: string, server = ''): Promise<void> {
  const res = await d.hub.api('DELETE', `/users/${user}/${server ? `servers/${server}` : 'server'}`, { token });
  assert.ok([202, 204].includes(res.status), `stop ${user}/${server}: ${res.status} ${res.text}`);
  await until(`${user}/${server} stopped`, async () => {
    const row = (await serverRecord(d.hub, user, server)).row;
    return row === undefined || (row.ready === 0 && row.pending === null);
  });
}

/** The HTML of back-end `name`'s fieldset on the spawn page. */
function fieldsetOf(html: string, name: string): string {
  const m = new RegExp(`<fieldset class="backend-options" data-backend="${name}"[^>]*>([^]*?)</fieldset>`).exec(html);
  assert.ok(m, `no fieldset for ${name} on the spawn page`);
  return m[1]!;
}

/** Adds the API token of alice's running server (the trivial server's environment) to the secrets the hub log must not hold. */
async function rememberServerToken(d: FirecrestHub): Promise<void> {
  const token = (await processEnvOf('alice', d.files.trivialServer))?.['JUPYTERHUB_API_TOKEN'];
  assert.match(token ?? '', /^\S{16,}$/, "the server's API token");
  d.secrets.add(token!);
}

/** The hub's warnings and errors so far (the happy path has none: no refused token, no unknown poll). */
function hubWarnings(d: FirecrestHub): string[] {
  return d.log.records().flatMap((r) => (Number(r['level']) >= 40 ? [`${String(r['msg'])} ${JSON.stringify(r['err'] ?? r['reason'] ?? '')}`] : []));
}

/** Cancels a job as root when Slurm still runs it (a test's `finally`). */
async function cancelJob(jobId: string | undefined): Promise<void> {
  if (jobId && /^\d+$/.test(jobId)) await runAsRoot(`scancel ${jobId}`).catch(() => undefined);
}

/** The claims of alice's access tokens the hub held (sampled): one entry per distinct token. */
function accessTokenClaims(d: FirecrestHub, user: string): { iat: number; exp: number; jti: string }[] {
  const out: { iat: number; exp: number; jti: string }[] = [];
  for (const s of d.secrets) {
    if (!s.startsWith('eyJ')) continue;
    try {
      const c = decodeJwt(s);
      if (c['preferred_username'] === user && c.aud === 'firecrest') out.push({ iat: c.iat ?? 0, exp: c.exp ?? 0, jti: String(c.jti) });
    } catch {
      // not a JWT
    }
  }
  return out;
}

describe('e2e: the FirecREST deployment (OIDC provider, FirecREST stand-in, real Slurm, real hub)', { skip, timeout: 240_000 }, () => {
  let d: FirecrestHub;
  let alice: string;

  before(async () => {
    d = await startFirecrestHub(cluster as SlurmCluster, {
      accessTokenTtl: TOKEN_TTL_S,
      hubConfig: { allow_named_servers: true },
      backends: { daint: { batch_script: HELD_SCRIPT } },
    });
    alice = await d.hub.tokenFor('alice');
  });
  after(async () => {
    await d?.stop();
  });

  it('spawn on daint: submitted, pending with its reason, ready; reached through the proxy; job as alice with her default account; env plain, scopes intact; launcher-reported port; stop cancels', async () => {
    const browser = await d.login('alice');
    let jobId: string | undefined;
    try {
      const started = await d.hub.api('POST', '/users/alice/server', { token: alice, body: {} });
      assert.ok([201, 202].includes(started.status), `spawn: ${started.status} ${started.text}`);
      let released = false;
      const events = await followProgress(d.hub, alice, 'alice', '', async (e) => {
        const m = /Job (\d+) is queued \(reason: (\w+)\)/.exec(e.message ?? '');
        if (m && !released) {
          released = true;
          jobId = m[1];
          assert.equal((await squeueJob(m[1]!))?.state, 'PENDING');
          const r = await runAsRoot(`scontrol release ${m[1]}`);
          assert.equal(r.code, 0, r.stderr);
        }
      });
      jobId ??= await jobIdOf(d.hub, 'alice');
      assert.ok(events.at(-1)?.ready, `not ready: ${JSON.stringify(events)}\n${d.log.text().slice(-3000)}`);
      assert.match(jobId ?? '', /^\d+$/);
      const messages = events.map((e) => e.message ?? '');
      assert.ok(messages.includes(`Submitted job ${jobId} on daint`), JSON.stringify(messages));
      assert.ok(
        messages.some((m) => m.startsWith(`Job ${jobId} is queued (reason: JobHeldUser)`)),
        `the pending reason was shown: ${JSON.stringify(messages)}`,
      );

      // through the proxy, as alice's browser
      const page = await browser.navigate('/user/alice/');
      assert.equal(page.status, 200, page.text.slice(0, 300));
      const served = JSON.parse(page.text) as { user: string; uid: number; argv: string[] };
      assert.equal(served.user, 'alice');
      const job = await squeueJob(jobId!);
      assert.equal(job?.state, 'RUNNING');
      assert.equal(job?.user, 'alice', 'the job runs as alice');

      // what FirecREST was sent
      const subs = d.standin.submitted.filter((s) => s.jobId === jobId);
      assert.equal(subs.length, 1);
      const sub = subs[0]!;
      assert.equal(sub.system, 'daint');
      assert.equal(sub.user, 'alice');
      for (const k of Object.keys(sub.job)) assert.match(k, /^[a-z]+([A-Z][a-z]*)*$/, `field ${k} is camelCase`);
      assert.ok('workingDirectory' in sub.job && 'standardOutput' in sub.job, `camelCase fields: ${Object.keys(sub.job).join(', ')}`);
      assert.equal(sub.job['account'], 'proj1', "alice's default account");
      const env = sub.job.env ?? {};
      assert.ok(Object.keys(env).length > 0, 'env is given');
      for (const [k, v] of Object.entries(env)) {
        assert.doesNotMatch(v, /["']/, `env ${k} holds a quote`);
        assert.doesNotMatch(k, /TOKEN|SECRET|PASSWORD/i, `env ${k} looks like a secret`);
      }
      assert.equal(env['JUPYTERHUB_OAUTH_SCOPES'], undefined, 'the scopes (with quotes) are not in env');

      // what the job had: the scopes intact, the API token, a port the launcher picked and reported
      const jobEnv = await processEnvOf('alice', d.files.trivialServer);
      assert.ok(jobEnv, "the trivial server's environment is readable");
      const apiToken = jobEnv['JUPYTERHUB_API_TOKEN'] ?? '';
      assert.match(apiToken, /^\S{16,}$/);
      d.secrets.add(apiToken);
      for (const v of Object.values(env)) assert.ok(!v.includes(apiToken), 'the API token is in the env FirecREST got');
      for (const s of d.secrets) for (const v of Object.values(env)) assert.ok(!v.includes(s), 'a token is in the env FirecREST got');
      const scopes = JSON.parse(jobEnv['JUPYTERHUB_OAUTH_SCOPES'] ?? 'null') as unknown;
      const access = JSON.parse(jobEnv['JUPYTERHUB_OAUTH_ACCESS_SCOPES'] ?? 'null') as unknown;
      assert.ok(Array.isArray(scopes) && scopes.includes('access:servers!server=alice/'), `JUPYTERHUB_OAUTH_SCOPES: ${jobEnv['JUPYTERHUB_OAUTH_SCOPES']}`);
      assert.ok(Array.isArray(access) && access.includes('access:servers!server=alice/'), `JUPYTERHUB_OAUTH_ACCESS_SCOPES: ${jobEnv['JUPYTERHUB_OAUTH_ACCESS_SCOPES']}`);
      const port = Number(/^--port=(\d+)$/.exec(served.argv[0] ?? '')?.[1]);
      assert.ok(port > 0, `the launcher gave the server a port: ${JSON.stringify(served.argv)}`);
      const row = (await serverRecord(d.hub, 'alice')).row;
      assert.equal(new URL(row?.url ?? 'http://x').port, String(port), 'the hub connects to the reported port');
      assert.ok(
        d.log.records().some((r) => r['msg'] === 'server reported its port' && r['port'] === port && r['user'] === 'alice'),
        'the launcher reported the port to the hub',
      );
      assert.ok(!('port' in (d.hub.hub.config.spawners['daint'] ?? {})), 'no port is configured');

      // stop: DELETE through FirecREST, the job gone, the server stopped
      await stopServer(d, alice, 'alice');
      assert.ok(d.standin.requests.some((r) => r.method === 'DELETE' && r.path === `/compute/daint/jobs/${jobId}` && r.status === 204 && r.user === 'alice'), 'DELETE seen');
      const gone = await squeueJob(jobId!);
      assert.ok(gone === null || !LIVE.test(gone.state), `job ${jobId} is still ${gone?.state}`);
      assert.equal((await serverRecord(d.hub, 'alice')).routed, false);
      assert.deepEqual(hubWarnings(d), []);
      await d.assertClean([apiToken]);
    } finally {
      await cancelJob(jobId);
    }
  });

  it('the spawn form: both systems, alice\'s accounts from FirecREST (default preselected) and the partitions; an account not hers is refused naming the field, nothing submitted', async () => {
    const browser = await d.login('alice');
    const page = await browser.navigate('/hub/spawn');
    assert.equal(page.status, 200, page.text.slice(0, 500));
    assert.match(page.text, /<input[^>]*name="backend"[^>]*value="daint"/);
    assert.match(page.text, /<input[^>]*name="backend"[^>]*value="eiger"/);
    const daint = fieldsetOf(page.text, 'daint');
    assert.match(daint, /<select name="account">(<option value="">[^<]*<\/option>)?<option value="proj1" selected>proj1<\/option><option value="proj2">proj2<\/option><\/select>/);
    assert.match(daint, /<select name="partition">[^]*<option value="debug"[^>]*>debug<\/option>/);
    const eiger = fieldsetOf(page.text, 'eiger');
    assert.match(eiger, /<option value="normal"[^>]*>normal<\/option>/);
    assert.match(eiger, /<option value="debug"[^>]*>debug<\/option>/);
    assert.ok(d.standin.requests.some((r) => r.path === '/status/daint/userinfo' && r.user === 'alice' && r.status === 200), 'the form asked FirecREST as alice');
    assert.ok(d.standin.requests.some((r) => r.path === '/status/eiger/partitions' && r.user === 'alice' && r.status === 200), "the form listed eiger's partitions as alice");

    const xsrf = parseForm(page.text).fields['_xsrf'] ?? '';
    const submits = d.standin.requests.filter((r) => r.method === 'POST').length;
    const submitted = d.standin.submitted.length;
    const refused = await browser.request('/hub/spawn', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _xsrf: xsrf, backend: 'daint', account: 'bobproj', partition: 'debug', nnodes: '1', runtime: '1' }).toString(),
    });
    const text = await refused.text();
    assert.equal(refused.status, 400, text.slice(0, 500));
    assert.match(refused.headers.get('content-type') ?? '', /html/);
    assert.match(text, /account &quot;bobproj&quot; is not one of your accounts on daint/);
    assert.equal(d.standin.requests.filter((r) => r.method === 'POST').length, submits, 'nothing was submitted');
    assert.equal(d.standin.submitted.length, submitted);
    const row = (await serverRecord(d.hub, 'alice')).row;
    assert.ok(row === undefined || (!row.ready && row.pending === null), 'no server is starting');
    assert.deepEqual(hubWarnings(d), []);
    await d.assertClean();
  });

  it('two systems from one hub: a named server on eiger is submitted, polled and cancelled on /compute/eiger', async () => {
    const browser = await d.login('alice');
    const form = await browser.navigate('/hub/spawn/alice/ez');
    assert.equal(form.status, 200, form.text.slice(0, 500));
    for (const system of ['daint', 'eiger']) assert.match(form.text, new RegExp(`<input[^>]*name="backend"[^>]*value="${system}"`), `the spawn page offers ${system}`);
    let jobId: string | undefined;
    try {
      const started = await d.hub.api('POST', '/users/alice/servers/ez', { token: alice, body: { backend: 'eiger' } });
      assert.ok([201, 202].includes(started.status), `spawn on eiger: ${started.status} ${started.text}`);
      const events = await followProgress(d.hub, alice, 'alice', 'ez');
      jobId = await jobIdOf(d.hub, 'alice', 'ez');
      assert.ok(events.at(-1)?.ready, `not ready: ${JSON.stringify(events)}\n${d.log.text().slice(-3000)}`);
      // a spawn done before the stream was opened shows only "ready": the hub's log says what was submitted where
      assert.ok(
        d.log.records().some((r) => r['msg'] === 'submitted FirecREST job' && r['jobId'] === jobId && r['system'] === 'eiger'),
        'the hub submitted the job on eiger',
      );
      if (started.status === 202 && events.length > 1) assert.ok(events.some((e) => e.message === `Submitted job ${jobId} on eiger`), JSON.stringify(events));
      const rec = await serverRecord(d.hub, 'alice', 'ez');
      assert.equal(rec.row?.spawner, 'eiger', "the server's row records eiger");
      assert.equal(JSON.parse(rec.row?.state ?? '{}').system, 'eiger');
      const sub = d.standin.submitted.find((s) => s.jobId === jobId);
      assert.equal(sub?.system, 'eiger');
      assert.ok(d.standin.requests.some((r) => r.method === 'POST' && r.path === '/compute/eiger/jobs' && r.status === 201));
      assert.equal((await squeueJob(jobId!))?.user, 'alice');
      await rememberServerToken(d);
      const page = await browser.navigate('/user/alice/ez/');
      assert.equal(page.status, 200);

      const before = d.standin.requests.length;
      await d.hub.hub.servers.pollRound();
      const polls = d.standin.requests.slice(before).filter((r) => r.path.startsWith('/compute/'));
      assert.ok(polls.some((r) => r.method === 'GET' && r.path === `/compute/eiger/jobs/${jobId}` && r.status === 200), JSON.stringify(polls));
      assert.ok(!polls.some((r) => r.path.includes(`/jobs/${jobId}`) && !r.path.startsWith('/compute/eiger/')), 'the poll asked another system');
      assert.equal((await serverRecord(d.hub, 'alice', 'ez')).row?.ready, 1);

      await stopServer(d, alice, 'alice', 'ez');
      assert.ok(d.standin.requests.some((r) => r.method === 'DELETE' && r.path === `/compute/eiger/jobs/${jobId}` && r.status === 204));
      assert.ok(!d.standin.requests.some((r) => r.path.startsWith('/compute/daint/') && r.path.includes(`/jobs/${jobId}`)), 'daint was asked about the eiger job');
      const gone = await squeueJob(jobId!);
      assert.ok(gone === null || !LIVE.test(gone.state), `job ${jobId} is still ${gone?.state}`);
      assert.deepEqual(hubWarnings(d), []);
      await d.assertClean();
    } finally {
      await cancelJob(jobId);
    }
  });

  it('the access token expires while the server runs: polls and the stop use refreshed tokens, no login-again', async () => {
    const browser = await d.login('alice');
    let jobId: string | undefined;
    try {
      const tokenCalls = () => d.provider.requests.filter((r) => r.startsWith('POST /token')).length;
      const started = await d.hub.api('POST', '/users/alice/servers/long', { token: alice, body: {} });
      assert.ok([201, 202].includes(started.status), `spawn: ${started.status} ${started.text}`);
      const events = await followProgress(d.hub, alice, 'alice', 'long');
      jobId = await jobIdOf(d.hub, 'alice', 'long');
      assert.ok(events.at(-1)?.ready, `not ready: ${JSON.stringify(events)}\n${d.log.text().slice(-3000)}`);

      await rememberServerToken(d);
      // the token the hub holds now (the newest of the submit and the start-up polls) expires while the server runs
      await d.sampleSecrets();
      const held = accessTokenClaims(d, 'alice').sort((a, b) => b.iat - a.iat)[0];
      assert.ok(held, 'the hub holds an access token of alice');
      const refreshesBefore = tokenCalls();
      const pollsSeen = (): number => d.standin.requests.filter((r) => r.method === 'GET' && r.path === `/compute/daint/jobs/${jobId}` && r.user === 'alice' && r.status === 200).length;
      // one poll half-way, then past the expiry
      await new Promise((r) => setTimeout(r, 8000));
      await d.hub.hub.servers.pollRound();
      await until('the held access token to expire', async () => Date.now() / 1000 > held.exp + 1, (TOKEN_TTL_S + 5) * 1000);
      const polled = pollsSeen();
      const afterExpiry = d.standin.requests.length;
      await d.hub.hub.servers.pollRound();
      assert.equal(pollsSeen(), polled + 1, 'the poll after the expiry reached FirecREST as alice');
      assert.equal((await serverRecord(d.hub, 'alice', 'long')).row?.ready, 1, 'the server is kept');
      assert.equal((await squeueJob(jobId!))?.state, 'RUNNING');

      await stopServer(d, alice, 'alice', 'long');
      const late = d.standin.requests.slice(afterExpiry);
      assert.ok(late.some((r) => r.method === 'DELETE' && r.path === `/compute/daint/jobs/${jobId}` && r.status === 204 && r.user === 'alice'), JSON.stringify(late));
      assert.deepEqual(late.filter((r) => r.status >= 400), [], 'FirecREST refused no call after the expiry');
      const gone = await squeueJob(jobId!);
      assert.ok(gone === null || !LIVE.test(gone.state), `job ${jobId} is still ${gone?.state}`);

      // refreshed, never through the service account, never "log in again"
      await d.sampleSecrets();
      const tokens = accessTokenClaims(d, 'alice');
      assert.ok(new Set(tokens.map((c) => c.jti)).size >= 3, `distinct access tokens of alice: ${tokens.length}`);
      assert.ok(tokens.some((c) => c.iat > held.exp), 'a token issued after the held one expired was used');
      assert.ok(tokenCalls() > refreshesBefore + 1, 'the hub refreshed at the provider');
      assert.ok(d.standin.requests.every((r) => r.user === undefined || r.user === 'alice'), 'only alice\'s tokens were used (no service account)');
      assert.doesNotMatch(d.log.text(), /log in again|login has expired|could not learn whether the server runs/i);
      const home = await browser.navigate('/hub/home');
      assert.equal(home.status, 200);
      assert.doesNotMatch(home.text, /log in again/i);
      assert.deepEqual(hubWarnings(d), []);
      await d.assertClean();
    } finally {
      await cancelJob(jobId);
    }
  });
});
