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
import type { ProgressEvent } from '../helpers/e2e.js';
import { parseForm } from '../helpers/e2e.js';
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
    d = await startFirecrestHub(cluster as SlurmCluster, { accessTokenTtl: TOKEN_TTL_S, backends: { daint: { batch_script: HELD_SCRIPT } } });
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
      assert.equal(started.status, 202, `spawn: ${started.status} ${started.text}`);
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
      await d.assertClean([apiToken]);
    } finally {
      await cancelJob(jobId);
    }
  });
});
