/**
 * Proves the FirecREST stand-in (test/helpers/firecrest-standin.ts) against
 * the spec and the real parts: JWT access tokens of the real oidc-provider,
 * jobs on the real local Slurm as the token's user, every answer checked
 * against the official FirecREST v2 spec (`violations` stays empty).
 */
import { loginAccessToken } from '../helpers/oidc-user-tokens.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { SignJWT, generateKeyPair } from 'jose';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { startFirecrestStandin, type FirecrestStandin } from '../helpers/firecrest-standin.js';
import { ensureSlurmCluster, squeueJob } from '../helpers/slurm-cluster.js';
import { firecrestSpecAvailable } from '../helpers/firecrest-standin-spec.js';

const REDIRECT = 'http://127.0.0.1:9/callback';
const SERVICE = { clientId: 'jupyterhub-service', clientSecret: 'service-secret-0123456789' };

/** Logs `login` in at the provider (code flow with PKCE) and returns the access token. */
async function accessTokenOf(op: TestOidcProvider, login: string): Promise<string> {
  return (await loginAccessToken(op, login, REDIRECT)).token;
}

/** A client-credentials token of the service client. */
async function serviceToken(op: TestOidcProvider): Promise<string> {
  const res = await fetch(op.tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${SERVICE.clientId}:${SERVICE.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

interface Reply {
  status: number;
  body: unknown;
  location: string | null;
}

async function call(s: FirecrestStandin, method: string, path: string, token?: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers,
    redirect: 'manual',
    signal: AbortSignal.timeout(20_000),
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown), location: res.headers.get('location') };
}

const cluster = await ensureSlurmCluster();
const skip = 'unavailable' in cluster ? cluster.unavailable : false;

describe('FirecREST stand-in', { skip }, () => {
  let op: TestOidcProvider;
  let s: FirecrestStandin;
  let alice: string;
  let bob: string;
  let service: string;
  const jobs: string[] = [];

  before(async () => {
    if (!firecrestSpecAvailable) process.stderr.write('NOTICE: this test runs without the spec checks\n');
    op = await startOidcProvider({ redirectUris: [REDIRECT], jwtAccessTokens: { audience: 'firecrest' }, serviceClients: [SERVICE] });
    s = await startFirecrestStandin({
      issuer: op.issuer,
      jwksUri: op.jwksUri,
      systems: {
        daint: { accounts: { alice: [{ name: 'proj1', default: true }, { name: 'proj2' }] } },
        eiger: { partitions: ['normal', 'debug'] },
      },
      serviceAccounts: [SERVICE.clientId],
    });
    alice = await accessTokenOf(op, 'alice');
    bob = await accessTokenOf(op, 'bob');
    service = await serviceToken(op);
  });
  after(async () => {
    for (const id of jobs) await call(s, 'DELETE', `/compute/daint/jobs/${id}`, alice).catch(() => undefined);
    await s?.close();
    await op?.stop();
    for (const id of jobs) await rm(`/home/alice/standin-test-${id}.out`, { force: true });
  });

  test('liveness needs no token; a token from the provider is accepted, none, forged or expired refused', async () => {
    assert.equal((await call(s, 'GET', '/status/liveness/')).status, 200);
    assert.equal((await call(s, 'GET', '/status/daint/userinfo', alice)).status, 200);
    assert.deepEqual(await call(s, 'GET', '/status/daint/userinfo'), { status: 401, body: { message: 'Not authenticated' }, location: null });

    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ preferred_username: 'alice', sub: 'alice-sub', aud: 'firecrest' })
      .setProtectedHeader({ alg: 'RS256', kid: op.signingKid })
      .setIssuer(op.issuer)
      .setExpirationTime('5m')
      .sign(privateKey);
    const refused = await call(s, 'GET', '/status/daint/userinfo', forged);
    assert.equal(refused.status, 401);
    assert.equal((refused.body as { message: string }).message, 'Access token is invalid.');
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"preferred_username":"alice"}').toString('base64url')}.`;
    assert.equal((await call(s, 'GET', '/status/daint/userinfo', unsigned)).status, 401);

    // a provider whose tokens live 5 s (long enough to be used once on a loaded machine: getting one is a
    // whole login), and a stand-in trusting it; the expiry is waited for from the token's own `exp`
    const shortOp = await startOidcProvider({ redirectUris: [REDIRECT], jwtAccessTokens: { audience: 'firecrest' }, accessTokenTtl: 5 });
    const shortS = await startFirecrestStandin({ issuer: shortOp.issuer, jwksUri: shortOp.jwksUri, systems: { daint: {} } });
    try {
      const token = await accessTokenOf(shortOp, 'alice');
      assert.equal((await call(shortS, 'GET', '/status/daint/userinfo', token)).status, 200);
      const { exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number };
      await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 - Date.now()) + 1100));
      const expired = await call(shortS, 'GET', '/status/daint/userinfo', token);
      assert.equal(expired.status, 401);
      assert.equal((expired.body as { message: string }).message, 'Access token is invalid.');
      assert.deepEqual(shortS.violations, []);
    } finally {
      await shortS.close();
      await shortOp.stop();
    }
    assert.deepEqual(s.violations, []);
  });

  test('bodies the spec refuses get 422, quotes in env 400, a trailing slash 307, an unknown system 404', async () => {
    const missing = await call(s, 'POST', '/compute/daint/jobs', alice, { job: { script: '#!/bin/bash\ntrue\n' } });
    assert.equal(missing.status, 422);
    assert.equal((missing.body as { errorType: string }).errorType, 'validation');
    assert.match((missing.body as { message: string }).message, /workingDirectory/);
    const wrongTypes = await call(s, 'POST', '/compute/daint/jobs', alice, { job: { script: 1, workingDirectory: 5, env: 'A=1' } });
    assert.equal(wrongTypes.status, 422);
    assert.match((wrongTypes.body as { message: string }).message, /workingDirectory/);
    assert.equal((await call(s, 'POST', '/compute/daint/jobs', alice, '{"job":')).status, 422);
    assert.equal((await call(s, 'POST', '/compute/daint/jobs', alice, { job: { workingDirectory: '/home/alice', scriptPath: '/home/alice/job.sh' } })).status, 400, 'inline scripts only');

    const quoted = await call(s, 'POST', '/compute/daint/jobs', alice, {
      job: { script: '#!/bin/bash\ntrue\n', workingDirectory: '/home/alice', env: { JUPYTERHUB_OAUTH_SCOPES: '["access:servers!user=alice"]' } },
    });
    assert.equal(quoted.status, 400);
    assert.equal((quoted.body as { errorType: string }).errorType, 'error');

    const slash = await call(s, 'GET', '/compute/daint/jobs/1/', alice);
    assert.equal(slash.status, 307);
    assert.equal(slash.location, `${s.url}/compute/daint/jobs/1`);
    assert.equal((await call(s, 'GET', '/status/nosuch/userinfo', alice)).status, 404);
    assert.equal(s.submitted.filter((x) => x.jobId !== undefined).length, 0, 'nothing reached Slurm');
    assert.equal(s.clientMistakes.length, 5, s.clientMistakes.join('\n'));
    assert.deepEqual(s.violations, []);
  });

  test('a job submitted as alice runs on the real Slurm as alice; only she and the service account see it; DELETE cancels it', async () => {
    const refusedAccount = await call(s, 'POST', '/compute/daint/jobs', alice, { job: { script: '#!/bin/bash\ntrue\n', workingDirectory: '/home/alice', account: 'proj9' } });
    assert.equal(refusedAccount.status, 400);
    assert.match((refusedAccount.body as { message: string }).message, /Invalid account/);

    const submit = await call(s, 'POST', '/compute/daint/jobs', alice, {
      job: {
        name: 'standin-test',
        script: '#!/bin/bash\necho "probe=$STANDIN_PROBE"\nsleep 300\n',
        workingDirectory: '/home/alice',
        standardOutput: 'standin-test-%j.out',
        standardError: 'standin-test-%j.out',
        account: null,
        env: { STANDIN_PROBE: 'value with spaces & $dollar' },
      },
    });
    assert.equal(submit.status, 201, JSON.stringify(submit.body));
    const id = (submit.body as { jobId: string }).jobId;
    jobs.push(id);
    assert.match(id, /^\d+$/);
    const record = s.submitted.find((x) => x.jobId === id);
    assert.equal(record?.user, 'alice');
    assert.equal(record?.job.env?.['STANDIN_PROBE'], 'value with spaces & $dollar');
    assert.match(record?.job.script ?? '', /sleep 300/);
    assert.ok(!JSON.stringify(s.submitted).includes('value with spaces'), 'env is not printed with the submissions');
    assert.ok(!JSON.stringify(s.submitted).includes('sleep 300'), 'nor is the script');

    const inSlurm = await squeueJob(id);
    assert.equal(inSlurm?.user, 'alice');
    let job: Record<string, unknown> = {};
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const got = await call(s, 'GET', `/compute/daint/jobs/${id}`, alice);
      assert.equal(got.status, 200);
      job = (got.body as { jobs: Record<string, unknown>[] }).jobs[0]!;
      const state = (job['status'] as { state: string }).state;
      assert.match(state, /^(PENDING|RUNNING|CONFIGURING)$/);
      if (state === 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal((job['status'] as { state: string }).state, 'RUNNING');
    assert.equal(job['nodes'], 'unavailable' in cluster ? '' : cluster.node, 'a running job has its node');
    assert.equal(job['allocationNodes'], 1);
    assert.equal(job['user'], 'alice');
    assert.equal(job['account'], 'proj1', 'the default account of userinfo');
    assert.equal(job['workingDirectory'], '/home/alice');
    assert.equal(job['name'], 'standin-test');

    const meta = await call(s, 'GET', `/compute/daint/jobs/${id}/metadata`, alice);
    assert.equal(meta.status, 200);
    const m = (meta.body as { jobs: { standardOutput: string; script: string }[] }).jobs[0]!;
    assert.equal(m.standardOutput, `/home/alice/standin-test-${id}.out`);
    assert.match(m.script, /sleep 300/);
    let out = '';
    for (let i = 0; i < 50 && !out.includes('probe='); i++) {
      out = await readFile(m.standardOutput, 'utf8').catch(() => '');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(out, /^probe=value with spaces & \$dollar$/m, 'the env reached the job');

    assert.equal((await call(s, 'GET', `/compute/daint/jobs/${id}`, bob)).status, 404, 'bob does not see alice’s job');
    assert.equal((await call(s, 'GET', `/compute/daint/jobs/${id}/metadata`, bob)).status, 404);
    assert.equal((await call(s, 'DELETE', `/compute/daint/jobs/${id}`, bob)).status, 404);
    const bySa = await call(s, 'GET', `/compute/daint/jobs/${id}`, service);
    assert.equal(bySa.status, 200, 'the service account reads any job');
    assert.equal(s.requests.at(-1)?.user, SERVICE.clientId);

    assert.equal((await call(s, 'DELETE', `/compute/daint/jobs/${id}`, alice)).status, 204);
    const gone = await call(s, 'GET', `/compute/daint/jobs/${id}`, alice);
    if (gone.status === 200) assert.match(((gone.body as { jobs: { status: { state: string } }[] }).jobs[0]!).status.state, /CANCELLED|COMPLETING/);
    else assert.equal(gone.status, 404);
    assert.match((await squeueJob(id))?.state ?? 'gone', /CANCELLED|COMPLETING|gone/);
    assert.equal((await call(s, 'GET', '/compute/daint/jobs/99999999', alice)).status, 404, 'a job Slurm does not know');
    assert.deepEqual(s.violations, []);
    assert.ok(!JSON.stringify(s.requests).includes(alice), 'no token in the recorded requests');
  });

  test('a finished job shows its state and exit code until Slurm forgets it', async () => {
    const submit = await call(s, 'POST', '/compute/daint/jobs', alice, {
      job: { name: 'standin-exit', script: '#!/bin/bash\nexit 3\n', workingDirectory: '/home/alice', standardOutput: '/dev/null', standardError: '/dev/null' },
    });
    assert.equal(submit.status, 201, JSON.stringify(submit.body));
    const id = (submit.body as { jobId: string }).jobId;
    jobs.push(id);
    let status: { state: string; exitCode?: number | null } = { state: '' };
    for (let i = 0; i < 100 && !/FAILED|COMPLETED/.test(status.state); i++) {
      await new Promise((r) => setTimeout(r, 200));
      const got = await call(s, 'GET', `/compute/daint/jobs/${id}`, alice);
      status = (got.body as { jobs: { status: typeof status }[] }).jobs[0]!.status;
    }
    assert.equal(status.state, 'FAILED');
    assert.equal(status.exitCode, 3);
    assert.deepEqual(s.violations, []);
  });

  test('userinfo and partitions', async () => {
    const info = await call(s, 'GET', '/status/daint/userinfo', alice);
    assert.equal(info.status, 200);
    const u = info.body as { user: { name: string; id: string }; group: { name: string }; accounts: { name: string; default: boolean }[] };
    assert.equal(u.user.name, 'alice');
    assert.match(u.user.id, /^\d+$/);
    assert.deepEqual(u.accounts, [{ name: 'proj1', default: true }, { name: 'proj2', default: false }]);
    assert.deepEqual(((await call(s, 'GET', '/status/eiger/userinfo', bob)).body as { accounts: unknown[] }).accounts, []);

    const real = await call(s, 'GET', '/status/daint/partitions', alice);
    assert.equal(real.status, 200);
    assert.ok((real.body as { partitions: { name: string }[] }).partitions.some((p) => p.name === 'debug'), 'sinfo lists debug');
    const configured = await call(s, 'GET', '/status/eiger/partitions', alice);
    assert.deepEqual((configured.body as { partitions: { name: string }[] }).partitions.map((p) => p.name), ['normal', 'debug']);
    assert.deepEqual(s.violations, []);
  });

  test('usernameClaim and userMap choose the Unix user', async () => {
    const mapped = await startFirecrestStandin({ issuer: op.issuer, usernameClaim: 'sub', userMap: { 'bob-sub': 'carol.proj1' }, systems: { daint: {} } });
    try {
      const info = await call(mapped, 'GET', '/status/daint/userinfo', bob);
      assert.equal((info.body as { user: { name: string } }).user.name, 'carol.proj1');
      assert.equal(mapped.requests.at(-1)?.user, 'carol.proj1');
      assert.equal((await call(mapped, 'GET', '/status/daint/userinfo', alice)).status, 404, 'alice-sub is no Unix user');
      assert.deepEqual(mapped.violations, []);
    } finally {
      await mapped.close();
    }
  });

  test('failNext, and FirecREST failing, hanging or unreachable', async () => {
    s.failNext('GET', /\/userinfo$/, 500);
    assert.equal((await call(s, 'GET', '/status/daint/userinfo', alice)).status, 500);
    assert.equal((await call(s, 'GET', '/status/daint/userinfo', alice)).status, 200, 'only once');

    await s.setDown(503);
    assert.equal((await call(s, 'GET', '/status/daint/partitions', alice)).status, 503);
    await s.setDown('hang');
    await assert.rejects(fetch(`${s.url}/status/liveness/`, { signal: AbortSignal.timeout(300) }));
    await s.setDown('refuse');
    await assert.rejects(fetch(`${s.url}/status/liveness/`, { signal: AbortSignal.timeout(2000) }), (e: Error) => e.name === 'TypeError');
    await s.setDown(false);
    assert.equal((await call(s, 'GET', '/status/liveness/')).status, 200);
    assert.deepEqual(s.violations, []);
  });
});
