/**
 * The FirecREST spawner over an in-memory FirecREST (test/helpers/firecrest-api-double.ts)
 * and fake user tokens: what it submits, which token each call carries, the
 * 401 → refresh → retry → log-in-again path, the service account for polls
 * only, outages, state, resume, stop and stopBlocker. The end-to-end run
 * against the spec-checked stand-in and real Slurm is another test.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { Value } from '@sinclair/typebox/value';
import { ConfigError, HubError, SpawnError } from '../../src/lib/errors.js';
import { FirecrestError } from '../../src/spawners/firecrest/firecrest-api.js';
import { FirecrestForm, type FirecrestChoices, type FirecrestFormSources } from '../../src/spawners/firecrest/firecrest-form.js';
import { FirecrestSpawnerSchema, type FirecrestSpawnerConfig } from '../../src/spawners/firecrest/firecrest-config.js';
import { createFirecrestSpawner, FirecrestSpawner, hubErrorOf } from '../../src/spawners/firecrest/firecrest-spawner.js';
import { readFirecrestState } from '../../src/spawners/firecrest/firecrest-state.js';
import type { ProgressEvent, SpawnerState, SpawnRequest } from '../../src/spawners/spawner.js';
import { FakeUserTokens, FirecrestApiDouble } from '../helpers/firecrest-api-double.js';

const API_TOKEN = 'hubapitoken-SECRET-0123456789';

/** A logger whose lines the test can read. */
function capturedLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) });
  return { log: pino({ level: 'debug' }, stream), lines };
}

function config(more: Partial<FirecrestSpawnerConfig> = {}): FirecrestSpawnerConfig {
  return Value.Default(FirecrestSpawnerSchema, {
    kind: 'firecrest',
    firecrest_url: 'https://firecrest.example/v2',
    system: 'daint',
    startup_poll_interval: 0.01,
    cancel_wait_timeout: 0.5,
    request_timeout: 2,
    ...more,
  }) as FirecrestSpawnerConfig;
}

interface World {
  api: FirecrestApiDouble;
  tokens: FakeUserTokens;
  spawner: FirecrestSpawner;
  log: Logger;
  lines: string[];
  service: { token(): Promise<string>; asked: number };
}

function world(opts: { service?: boolean; cfg?: Partial<FirecrestSpawnerConfig> } = {}): World {
  const api = new FirecrestApiDouble('daint');
  const tokens = new FakeUserTokens(api);
  api.accepted.add(tokens.current('alice'));
  api.accepted.add('service-token');
  const { log, lines } = capturedLog();
  const service = {
    asked: 0,
    token(): Promise<string> {
      this.asked++;
      return Promise.resolve('service-token');
    },
  };
  const deps = { log, name: 'daint', now: Date.now, fetch, dataDir: '/tmp', userTokens: tokens };
  const spawner = new FirecrestSpawner(config(opts.cfg), deps, api, opts.service ? service : undefined);
  return { api, tokens, spawner, log, lines, service };
}

function request(w: World, more: Partial<SpawnRequest> = {}): SpawnRequest & { saved: SpawnerState[]; events: ProgressEvent[] } {
  const saved: SpawnerState[] = [];
  const events: ProgressEvent[] = [];
  return {
    user: { name: 'alice', admin: false, groups: [] },
    serverName: '',
    backend: 'daint',
    env: {
      JUPYTERHUB_API_TOKEN: API_TOKEN,
      JPY_API_TOKEN: API_TOKEN,
      JUPYTERHUB_API_URL: 'http://10.0.0.1:8081/hub/api',
      JUPYTERHUB_USER: 'alice',
      JUPYTERHUB_OAUTH_SCOPES: '["access:servers!server=alice/"]',
      PATH: '/usr/bin',
    },
    userOptions: { nnodes: 1, runtime: 1 },
    workDir: '/tmp',
    log: w.log,
    saveState: async (s) => void saved.push(s),
    progress: (e) => void events.push(e),
    reportedPort: async () => 4242,
    signal: AbortSignal.timeout(10_000),
    saved,
    events,
    ...more,
  };
}

describe('FirecrestSpawner.start', () => {
  it('submits with the user token: workdir, name, account, log files, plain env only, secrets encoded in the script; progress and URL', async () => {
    const w = world();
    const req = request(w);
    const r = await w.spawner.start(req);
    assert.equal(r.url, 'http://nid001:4242');
    assert.deepEqual(r.state, { v: 1, job_id: '101', system: 'daint', user: 'alice', log: '/home/alice/jupyterhub-firecrest-101.log', host: 'nid001', port: 4242 });
    assert.deepEqual(readFirecrestState(r.state), r.state);
    const [submit] = w.api.of('submit');
    const body = submit!.body!;
    assert.equal(body.workingDirectory, '/home/alice');
    assert.equal(body.name, 'jupyterhub-alice');
    assert.equal(body.account, 'proj2');
    assert.equal(body.standardOutput, '/home/alice/jupyterhub-firecrest-%j.log');
    assert.equal(body.standardError, body.standardOutput);
    assert.deepEqual(Object.keys(body.env ?? {}).sort(), ['JUPYTERHUB_API_URL', 'JUPYTERHUB_SERVICE_URL', 'JUPYTERHUB_USER']);
    assert.ok(!JSON.stringify(body.env).includes(API_TOKEN));
    assert.ok(!body.script.includes(API_TOKEN), 'token in clear in the script');
    assert.ok(body.script.includes(Buffer.from(API_TOKEN).toString('base64')));
    assert.match(body.script, /^#!\/bin\/bash\n#SBATCH --nodes=1\n#SBATCH --time=01:00:00\n/);
    assert.match(body.script, /'ganymede-singleuser' 'jupyterhub-singleuser'/);
    assert.ok(!body.script.includes('--uenv'));
    for (const c of w.api.calls) assert.equal(c.token, 'alice-t1');
    assert.ok(req.events.some((e) => e.message === 'Submitted job 101 on daint'));
    assert.ok(req.events.some((e) => /queued \(reason: Priority\)/.test(e.message)));
    assert.ok(req.saved.some((s) => s['job_id'] === '101' && s['host'] === undefined), 'state saved right after submit');
    // saved at every step a restarted hub resumes from: submitted, running on a host, serving on a port
    assert.deepEqual(
      req.saved.map((s) => [s['job_id'], s['host'], s['port']]),
      [
        ['101', undefined, undefined],
        ['101', 'nid001', undefined],
        ['101', 'nid001', 4242],
      ],
    );
    assert.ok(!w.lines.join('').includes(API_TOKEN) && !w.lines.join('').includes('alice-t1'), 'token in a log line');
  });

  it('a refused token is refreshed once and the call retried', async () => {
    const w = world();
    w.api.accepted.clear();
    w.tokens.acceptNext('alice');
    const r = await w.spawner.start(request(w));
    assert.equal(r.url, 'http://nid001:4242');
    assert.deepEqual(w.api.of('userinfo').map((c) => c.token), ['alice-t1', 'alice-t2']);
    assert.deepEqual(w.api.of('submit').map((c) => c.token), ['alice-t2']);
    assert.equal(w.tokens.asked.filter((a) => a.refresh).length, 1);
  });

  it('a token refused twice, or a login that expired, fails with 401 and "log in again"; nothing submitted', async () => {
    const w = world();
    w.api.accepted.clear();
    await assert.rejects(w.spawner.start(request(w)), (err: unknown) => err instanceof SpawnError && err.status === 401 && /log in again/.test(err.message));
    assert.equal(w.api.of('userinfo').length, 2);
    const w2 = world({ service: true });
    w2.tokens.expired.add('alice');
    await assert.rejects(w2.spawner.start(request(w2)), (err: unknown) => err instanceof SpawnError && err.status === 401 && /log in again/.test(err.message));
    assert.equal(w2.api.calls.length, 0, 'the service account never submits');
    assert.equal(w2.service.asked, 0);
  });

  it('FirecREST down: a clear 503 error, nothing submitted', async () => {
    const w = world();
    w.api.down = 0;
    await assert.rejects(w.spawner.start(request(w)), (err: unknown) => err instanceof SpawnError && err.status === 503 && /not available/.test(err.message));
    assert.equal(w.api.of('submit').length, 0);
  });

  it('a job that ends before its server starts fails the spawn with its final state', async () => {
    const w = world();
    w.api.nextStates = [{ state: 'PENDING' }, { state: 'FAILED' }];
    await assert.rejects(w.spawner.start(request(w)), /final state FAILED/);
  });

  it('node_name_template makes the host; a template that gives no host name fails the spawn', async () => {
    const w = world({ cfg: { node_name_template: '{}.daint.cscs.ch' } });
    assert.equal((await w.spawner.start(request(w))).url, 'http://nid001.daint.cscs.ch:4242');
    const bad = world({ cfg: { node_name_template: '{}/evil' } });
    await assert.rejects(bad.spawner.start(request(bad)), /not a host name/);
  });

  it('a login that expires while the job is queued: the wait goes on with the service account', async () => {
    const w = world({ service: true });
    const job = w.api.job.bind(w.api);
    w.api.job = async (t, id, signal) => {
      w.tokens.expired.add('alice');
      return job(t, id, signal);
    };
    const r = await w.spawner.start(request(w));
    assert.equal(r.url, 'http://nid001:4242');
    assert.deepEqual(w.api.of('submit').map((c) => c.token), ['alice-t1']);
    assert.ok(w.api.of('job').slice(1).every((c) => c.token === 'service-token'));
  });

  it('resumes a saved job without submitting again', async () => {
    const w = world();
    w.api.jobs.set('77', { states: [{ state: 'RUNNING', nodes: 'nid009' }], asked: 0, cancelled: false });
    const req = request(w, { resumeState: { v: 1, job_id: '77', system: 'daint', user: 'alice' } });
    const r = await w.spawner.start(req);
    assert.equal(r.url, 'http://nid009:4242');
    assert.equal(w.api.of('submit').length, 0);
  });

  it('a spawn cancelled while the job was submitted cancels the job', async () => {
    const w = world();
    const ac = new AbortController();
    const submit = w.api.submit.bind(w.api);
    w.api.submit = async (t, j) => {
      const id = await submit(t, j);
      ac.abort(new Error('user cancelled'));
      return id;
    };
    await assert.rejects(w.spawner.start(request(w, { signal: ac.signal })), (err: unknown) => err instanceof SpawnError && err.reason === 'cancelled');
    assert.deepEqual(w.api.of('cancel').map((c) => c.jobId), ['101']);
  });

  it('refuses a bad job id in FirecREST\'s answer', async () => {
    const w = world();
    w.api.submit = async () => '1; rm -rf /';
    await assert.rejects(w.spawner.start(request(w)), (err: unknown) => err instanceof SpawnError && err.status === 502 && /not a job id/.test(err.message));
  });

  it('refuses hostile choices that would add script lines', async () => {
    const w = world();
    w.api.userinfoAnswer = { ...w.api.userinfoAnswer, user: { id: '1', name: 'alice\n#SBATCH --uid=0' } };
    await assert.rejects(w.spawner.start(request(w)), /control character/);
    assert.equal(w.api.of('submit').length, 0);
  });
});

describe('FirecrestSpawner.poll', () => {
  const state = { v: 1, job_id: '55', system: 'daint', user: 'alice', host: 'nid001', port: 4242 };
  const running = (w: World) => w.api.jobs.set('55', { states: [{ state: 'RUNNING', nodes: 'nid001' }], asked: 0, cancelled: false });

  it('polls with the user token', async () => {
    const w = world({ service: true });
    running(w);
    assert.deepEqual(await w.spawner.poll(state, { log: w.log }), { status: 'running' });
    assert.deepEqual(w.api.calls.map((c) => c.token), ['alice-t1']);
    assert.equal(w.service.asked, 0);
  });

  it('an expired login polls with the service account (logged once, no token), and the server is kept', async () => {
    const w = world({ service: true });
    running(w);
    w.tokens.expired.add('alice');
    assert.deepEqual(await w.spawner.poll(state, { log: w.log }), { status: 'running' });
    assert.deepEqual(await w.spawner.poll(state, { log: w.log }), { status: 'running' });
    assert.deepEqual(w.api.calls.map((c) => c.token), ['service-token', 'service-token']);
    const said = w.lines.filter((l) => l.includes('polling the job with the service account'));
    assert.equal(said.length, 1);
    assert.ok(!w.lines.join('').includes('service-token'));
    w.service.token = () => Promise.reject(new FirecrestError('the identity provider did not answer', 0));
    assert.equal((await w.spawner.poll(state, { log: w.log })).status, 'unknown');
  });

  it('a token refused twice also falls back to the service account', async () => {
    const w = world({ service: true });
    running(w);
    w.api.accepted.delete('alice-t1');
    assert.deepEqual(await w.spawner.poll(state, { log: w.log }), { status: 'running' });
    assert.deepEqual(w.api.calls.map((c) => c.token), ['alice-t1', 'alice-t2', 'service-token']);
  });

  it('without a service account an expired login answers unknown, never stopped', async () => {
    const w = world();
    running(w);
    w.tokens.expired.add('alice');
    const r = await w.spawner.poll(state, { log: w.log });
    assert.equal(r.status, 'unknown');
    assert.match(r.status === 'unknown' ? r.reason : '', /log in again.*kept/);
  });

  it('FirecREST unreachable or failing answers unknown; a job FirecREST no longer has is stopped', async () => {
    const w = world();
    running(w);
    w.api.down = 0;
    assert.equal((await w.spawner.poll(state, { log: w.log })).status, 'unknown');
    w.api.down = 503;
    assert.equal((await w.spawner.poll(state, { log: w.log })).status, 'unknown');
    w.api.down = undefined;
    w.api.jobs.delete('55');
    assert.deepEqual(await w.spawner.poll(state, { log: w.log }), { status: 'stopped' });
    assert.deepEqual(await w.spawner.poll({ v: 1 }, { log: w.log }), { status: 'stopped' });
  });

  it('a job FirecREST answers 404 for is stopped only once the system is confirmed: an unknown system answers unknown, naming it', async () => {
    const w = world({ service: true });
    running(w);
    w.api.systemKnown = false;
    const r = await w.spawner.poll(state, { log: w.log });
    assert.equal(r.status, 'unknown');
    assert.match(r.status === 'unknown' ? r.reason : '', /system daint/);
    // the confirmation carries the same token as the question about the job
    assert.deepEqual(w.api.calls.map((c) => [c.op, c.token]), [['job', 'alice-t1'], ['partitions', 'alice-t1']]);
    w.tokens.expired.add('alice');
    assert.equal((await w.spawner.poll(state, { log: w.log })).status, 'unknown');
    w.api.systemKnown = true;
    w.api.jobs.delete('55');
    assert.deepEqual(await w.spawner.poll(state, { log: w.log }), { status: 'stopped' });
  });

  it('a poll is bounded even when the confirmation of a vanished job does not answer', async () => {
    const w = world({ cfg: { request_timeout: 0.2, request_retries: 0 } });
    w.api.hangStatus = true;
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      w.spawner.poll(state, { log: w.log }),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no answer'), 8000))),
    ]).finally(() => clearTimeout(timer));
    assert.equal(typeof r === 'string' ? r : r.status, 'unknown');
  });

  it('a forged state answers unknown, and the state of a newer version is refused', async () => {
    const w = world();
    assert.equal((await w.spawner.poll({ v: 1, job_id: '1; rm', system: 'daint', user: 'alice' }, { log: w.log })).status, 'unknown');
    assert.throws(() => w.spawner.upgradeState({ v: 2, job_id: '1' }), /version 2/);
    assert.deepEqual(w.spawner.upgradeState(state), state);
    assert.throws(() => readFirecrestState({ ...state, host: 'a b' }), /bad host/);
    assert.throws(() => readFirecrestState({ ...state, port: 70000 }), /bad port/);
    assert.throws(() => readFirecrestState({ ...state, system: '../x' }), /bad system/);
  });
});

describe('FirecrestSpawner.stop', () => {
  const state = { v: 1, job_id: '55', system: 'daint', user: 'alice' };

  it('cancels with the user token and waits until the job is gone', async () => {
    const w = world();
    w.api.jobs.set('55', { states: [{ state: 'RUNNING' }], asked: 0, cancelled: false });
    w.api.afterCancel = [{ state: 'RUNNING' }, { state: 'COMPLETING' }, { state: 'CANCELLED' }];
    await w.spawner.stop(state, { log: w.log });
    assert.equal(w.api.of('cancel').length, 1);
    assert.equal(w.api.of('job').length, 3);
    assert.ok(w.api.calls.every((c) => c.token === 'alice-t1'));
  });

  it('a job already gone is success; a job that stays past cancel_wait_timeout is an error', async () => {
    const w = world();
    await w.spawner.stop(state, { log: w.log });
    await w.spawner.stop({ v: 1 }, { log: w.log });
    w.api.jobs.set('55', { states: [{ state: 'RUNNING' }], asked: 0, cancelled: false });
    w.api.afterCancel = [{ state: 'RUNNING' }];
    await assert.rejects(w.spawner.stop(state, { log: w.log }), /still running after 0.5 s/);
  });

  it('on a system FirecREST does not know, the DELETE and GET 404s are no success: stop fails naming the system', async () => {
    const w = world();
    w.api.systemKnown = false;
    await assert.rejects(w.spawner.stop(state, { log: w.log }), /system daint/);
  });

  it('stop is bounded by cancel_wait_timeout even when FirecREST does not answer the questions about the job', async () => {
    const w = world({ cfg: { cancel_wait_timeout: 0.3, request_timeout: 30 } });
    w.api.jobs.set('55', { states: [{ state: 'RUNNING' }], asked: 0, cancelled: false });
    w.api.hangJobs = true;
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      w.spawner.stop(state, { log: w.log }).then(
        () => 'stopped',
        (err: Error) => err.message,
      ),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no answer'), 3000))),
    ]);
    clearTimeout(timer);
    assert.match(outcome, /could not say whether it is gone/);
    assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
  });

  it('an expired login: an error saying to log in again; never the service account', async () => {
    const w = world({ service: true });
    w.api.jobs.set('55', { states: [{ state: 'RUNNING' }], asked: 0, cancelled: false });
    w.tokens.expired.add('alice');
    await assert.rejects(w.spawner.stop(state, { log: w.log }), /log in again/);
    w.tokens.expired.delete('alice');
    w.api.accepted.delete('alice-t1');
    await assert.rejects(w.spawner.stop(state, { log: w.log }), (err: unknown) => err instanceof HubError && err.status === 401 && /log in again/.test(err.message));
    assert.equal(w.service.asked, 0);
    assert.ok(w.api.calls.every((c) => c.token !== 'service-token'));
  });

  it('stopBlocker says when the login expired, and nothing otherwise', async () => {
    const w = world();
    assert.equal(await w.spawner.stopBlocker(state, { user: 'alice', log: w.log }), undefined);
    w.tokens.expired.add('alice');
    assert.match((await w.spawner.stopBlocker(state, { user: 'alice', log: w.log })) ?? '', /log in again to stop this server \(it keeps running\)/);
  });

  it('logTail says where the log is', async () => {
    const w = world();
    w.api.jobs.set('55', { states: [{ state: 'FAILED' }], asked: 0, cancelled: false });
    const text = await w.spawner.logTail(state, { log: w.log, lines: 10, maxBytes: 1000 });
    assert.match(text ?? '', /\/home\/alice\/jupyterhub-firecrest-55\.log on daint/);
  });
});

describe('FirecrestSpawner form delegation', () => {
  it('a FirecREST that does not answer: the form and the check fail with 503 within request_timeout + 5 s, not never', async () => {
    const w = world({ cfg: { request_timeout: 0.2 } });
    w.api.hangStatus = true;
    const ctx = { user: { name: 'alice', admin: false, groups: [] }, authState: null };
    let timer: NodeJS.Timeout | undefined;
    const outcome = (work: Promise<unknown>) =>
      Promise.race([
        work.then(
          () => 'drawn',
          (err: unknown) => (err instanceof HubError ? `${err.status} ${err.message}` : String(err)),
        ),
        new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no answer'), 8000))),
      ]).finally(() => clearTimeout(timer));
    try {
      assert.match(await outcome(w.spawner.optionsForm({ name: 'alice', admin: false, groups: [] })), /^503 FirecREST \(system daint\) did not answer within 5\.2 s/);
      assert.match(await outcome(w.spawner.checkOptions({ account: 'proj1', partition: 'normal', nnodes: 1, runtime: 1 }, ctx)), /^503 FirecREST \(system daint\) did not answer/);
    } finally {
      clearTimeout(timer);
    }
  });

  it("checkOptions gives the form FirecREST answers with the user's token; errors as 401 (log in again) and 503 (unavailable)", async () => {
    const original = FirecrestForm.prototype.check;
    FirecrestForm.prototype.check = async function (_options: Record<string, unknown>, sources: FirecrestFormSources): Promise<FirecrestChoices> {
      await sources.userinfo();
      await sources.userinfo();
      await sources.partitions();
      return { nnodes: 1, runtime: 1 };
    };
    try {
      const w = world({ service: true });
      const ctx = { user: { name: 'alice', admin: false, groups: [] }, authState: null };
      assert.deepEqual(await w.spawner.checkOptions({}, ctx), { nnodes: 1, runtime: 1 });
      assert.deepEqual(w.api.calls.map((c) => [c.op, c.token]), [['userinfo', 'alice-t1'], ['partitions', 'alice-t1']]);
      w.api.down = 0;
      await assert.rejects(w.spawner.checkOptions({}, ctx), (err: unknown) => err instanceof HubError && err.status === 503);
      w.api.down = undefined;
      w.tokens.expired.add('alice');
      await assert.rejects(w.spawner.checkOptions({}, ctx), (err: unknown) => err instanceof HubError && err.status === 401 && /log in again/.test(err.message));
      assert.equal(w.service.asked, 0, 'the service account never serves the form');
    } finally {
      FirecrestForm.prototype.check = original;
    }
  });
});

describe('createFirecrestSpawner and errors', () => {
  const deps = { log: pino({ level: 'silent' }), name: 'daint', now: Date.now, fetch, dataDir: '/tmp' };
  it('refuses a firecrest_url that is not http(s) and a service account without a secret', () => {
    assert.throws(() => createFirecrestSpawner(config({ firecrest_url: 'ftp://x' }), deps), ConfigError);
    assert.throws(() => createFirecrestSpawner(config({ firecrest_url: 'not a url' }), deps), ConfigError);
    assert.throws(() => createFirecrestSpawner(config({ service_account: { client_id: 'sa', client_secret: '', client_secret_file: '', token_url: 'https://idp/token', scope: '' } }), deps), /client_secret/);
    assert.ok(createFirecrestSpawner(config({ service_account: { client_id: 'sa', client_secret: 's', client_secret_file: '', token_url: 'https://idp/token', scope: '' } }), deps) instanceof FirecrestSpawner);
  });

  it('refuses at start a firecrest_url with credentials or a query as a ConfigError naming it (not a bare Error)', () => {
    for (const url of ['https://user:pw@f7t.example/v2', 'https://f7t.example/v2?x=1']) {
      assert.throws(() => createFirecrestSpawner(config({ firecrest_url: url }), deps), (err: unknown) => err instanceof ConfigError && /firecrest_url/.test(err.message) && !err.message.includes('pw'));
    }
  });

  it('FirecREST errors reach the user as 503 (unavailable) or 502 (refused), in words', () => {
    const down = hubErrorOf(new FirecrestError('FirecREST (system daint) did not answer in 30 s', 0), 'daint');
    assert.ok(down instanceof HubError && down.status === 503 && /not available right now/.test(down.message));
    const refused = hubErrorOf(new FirecrestError('FirecREST (system daint) refused: bad partition', 400, 'validation'), 'daint');
    assert.ok(refused instanceof HubError && refused.status === 502 && /bad partition/.test(refused.message));
  });
});
