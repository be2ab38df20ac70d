/**
 * FirecrestClient against small HTTP servers on 127.0.0.1 that play
 * FirecREST v2 (well and badly): paths, bodies and headers sent; retries;
 * time limits; redirects; error bodies in plain words; hostile answers; no
 * token in any message or log line.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { getEventListeners } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import Ajv2020Module from 'ajv/dist/2020.js';
import { FirecrestClient } from '../../src/spawners/firecrest/firecrest-client.js';
import { FirecrestError, type FirecrestJobDescription } from '../../src/spawners/firecrest/firecrest-api.js';
import { capturedLogger, closedPort, sendJson, startHttpRecorder, type HttpRecorder, type RecordedRequest } from '../helpers/http-recorder.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXVzZXItdG9rZW4.c2lnbmF0dXJl';
const { log, lines } = capturedLogger();
const servers: HttpRecorder[] = [];

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  for (const line of lines) {
    assert.ok(!line.includes(TOKEN), `the token is in a log line: ${line.slice(0, 200)}`);
    assert.doesNotMatch(line, /bearer|authorization/i, `a log line names the Authorization header: ${line.slice(0, 200)}`);
  }
});

async function server(handler: (req: RecordedRequest, res: ServerResponse, n: number) => void): Promise<HttpRecorder> {
  const s = await startHttpRecorder(handler);
  servers.push(s);
  return s;
}

function client(base: string, opts: { system?: string; timeoutMs?: number; retries?: number } = {}): FirecrestClient {
  return new FirecrestClient({ baseUrl: base, system: opts.system ?? 'daint', fetch: globalThis.fetch, timeoutMs: opts.timeoutMs ?? 2000, retries: opts.retries ?? 2, log });
}

/** The FirecrestError `work` rejects with (fails when it resolves or throws something else). */
async function failure(work: Promise<unknown>): Promise<FirecrestError> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof FirecrestError, `a FirecrestError, not ${String(err)}`);
    assert.ok(!err.message.includes(TOKEN), 'the token is in the message');
    // eslint-disable-next-line no-control-regex -- control characters are what is looked for
    assert.doesNotMatch(err.message, /[\u0000-\u001f\u007f]/, 'control characters in the message');
    return err;
  }
  assert.fail('the call succeeded');
}

/** The official FirecREST v2 spec (../shared/specs), to check what the client sends and what these tests answer. */
const SPEC_FILE = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'specs', 'firecrest-v2-openapi.yaml');
const Ajv2020 = Ajv2020Module as unknown as typeof Ajv2020Module.default;
const ajv = new Ajv2020({ strict: false, allErrors: true });
/** The spec puts OpenAPI 3.0's `nullable` next to `anyOf`s that already allow null; Ajv refuses it without `type`, so it goes. */
function withoutNullable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNullable);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'nullable').map(([k, x]) => [k, withoutNullable(x)]));
}
if (existsSync(SPEC_FILE)) ajv.addSchema({ $id: 'firecrest', ...(withoutNullable(parseYaml(readFileSync(SPEC_FILE, 'utf8'))) as object) });

/** Fails when `value` is not a valid `schema` (a components/schemas name) of the spec; skipped without the spec file. */
function assertSpec(schema: string, value: unknown): void {
  if (!existsSync(SPEC_FILE)) return;
  const validate = ajv.getSchema(`firecrest#/components/schemas/${schema}`);
  assert.ok(validate, `no schema ${schema}`);
  assert.ok(validate(value), `${schema}: ${ajv.errorsText(validate.errors)}`);
}

const JOB = {
  jobId: '20',
  name: 'jupyterhub',
  status: { state: 'PENDING', stateReason: 'Priority', exitCode: 0, interruptSignal: null },
  time: { elapsed: 0, start: null, end: null, suspended: 0, limit: 3600 },
  allocationNodes: 1,
  cluster: 'daint',
  nodes: 'None assigned',
  partition: 'normal',
  user: 'alice',
  group: 'alice',
  account: 'proj1',
  priority: 1,
  killRequestUser: null,
  tasks: null,
  workingDirectory: '/home/alice',
};

describe('FirecrestClient: the calls as the spec names them', () => {
  it('submits POST /compute/{system}/jobs with the job in camelCase, the bearer token, and reads 201 {jobId}', async () => {
    const s = await server((_req, res) => sendJson(res, 201, { jobId: '20' }));
    const job: FirecrestJobDescription = {
      script: '#!/bin/bash\necho "hi"\n',
      workingDirectory: '/home/alice',
      name: 'jupyterhub',
      account: 'proj1',
      partition: 'normal',
      reservation: '',
      constraints: 'gpu',
      env: { A: 'b' },
      standardOutput: '/home/alice/jupyterhub.log',
      standardError: '/home/alice/jupyterhub.log',
    };
    assert.equal(await client(`${s.url}/api/v2/`).submit(TOKEN, job), '20');
    assert.equal(s.requests.length, 1);
    const r = s.requests[0]!;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/api/v2/compute/daint/jobs');
    assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assertSpec('PostJobSubmitRequest', JSON.parse(r.body));
    assert.deepEqual(JSON.parse(r.body), {
      job: {
        script: '#!/bin/bash\necho "hi"\n',
        workingDirectory: '/home/alice',
        name: 'jupyterhub',
        account: 'proj1',
        partition: 'normal',
        constraints: 'gpu',
        standardOutput: '/home/alice/jupyterhub.log',
        standardError: '/home/alice/jupyterhub.log',
        env: { A: 'b' },
      },
    });
  });

  it('reads a job from GET /compute/{system}/jobs/{id}; 404, an empty list and null are "no such job"', async () => {
    const answers: [number, unknown][] = [
      [200, { jobs: [JOB] }],
      [404, { errorType: 'error', message: 'Job not found' }],
      [200, { jobs: [] }],
      [200, { jobs: null }],
    ];
    const s = await server((_req, res, n) => sendJson(res, answers[n]![0], answers[n]![1]));
    const c = client(s.url);
    assert.deepEqual(await c.job(TOKEN, '20'), {
      jobId: '20',
      name: 'jupyterhub',
      status: { state: 'PENDING', stateReason: 'Priority', exitCode: 0 },
      nodes: 'None assigned',
      partition: 'normal',
      user: 'alice',
      workingDirectory: '/home/alice',
    });
    assert.equal(await c.job(TOKEN, '20'), undefined);
    assert.equal(await c.job(TOKEN, '20'), undefined);
    assert.equal(await c.job(TOKEN, '20'), undefined);
    assert.deepEqual(
      s.requests.map((r) => `${r.method} ${r.url}`),
      Array(4).fill('GET /compute/daint/jobs/20'),
    );
  });

  it('cancels with DELETE (204); a job FirecREST no longer knows (404) counts as cancelled', async () => {
    const s = await server((_req, res, n) => (n === 0 ? sendJson(res, 204) : sendJson(res, 404, { message: 'Job not found' })));
    const c = client(s.url);
    await c.cancel(TOKEN, '20');
    await c.cancel(TOKEN, '21');
    assert.deepEqual(
      s.requests.map((r) => `${r.method} ${r.url} ${r.headers.authorization === `Bearer ${TOKEN}`}`),
      ['DELETE /compute/daint/jobs/20 true', 'DELETE /compute/daint/jobs/21 true'],
    );
  });

  it('reads metadata, userinfo and partitions', async () => {
    const s = await server((req, res) => {
      if (req.url.endsWith('/metadata')) sendJson(res, 200, { jobs: [{ jobId: '20', script: '#!/bin/bash', standardOutput: '/home/alice/j.log', standardError: null, standardInput: null }] });
      else if (req.url.endsWith('/userinfo'))
        sendJson(res, 200, { user: { id: '1000', name: 'alice' }, group: { id: '1000', name: 'alice' }, groups: [{ id: '1000', name: 'alice' }, { id: '2000', name: 'proj1' }], accounts: [{ name: 'proj1', default: true }, { name: 'proj2', default: false }] });
      else sendJson(res, 200, { partitions: [{ name: 'normal', partition: 'normal', cpus: 10, totalNodes: 2 }, { name: 'debug', partition: ['debug'], cpus: null, totalNodes: null, state: 'UP' }] });
    });
    const c = client(s.url);
    assert.deepEqual(await c.metadata(TOKEN, '20'), { jobId: '20', script: '#!/bin/bash', standardOutput: '/home/alice/j.log', standardError: null });
    assert.deepEqual(await c.userinfo(TOKEN), {
      user: { id: '1000', name: 'alice' },
      group: { id: '1000', name: 'alice' },
      groups: [{ id: '1000', name: 'alice' }, { id: '2000', name: 'proj1' }],
      accounts: [{ name: 'proj1', default: true }, { name: 'proj2' }],
    });
    assert.deepEqual(await c.partitions(TOKEN), [{ name: 'normal' }, { name: 'debug', state: 'UP' }]);
    assert.deepEqual(
      s.requests.map((r) => `${r.method} ${r.url}`),
      ['GET /compute/daint/jobs/20/metadata', 'GET /status/daint/userinfo', 'GET /status/daint/partitions'],
    );
  });

  it('encodes the system as one path segment, drops the base URL\'s trailing slashes and never adds one', async () => {
    const s = await server((req, res) => {
      if (req.method === 'POST') sendJson(res, 201, { jobId: '7' });
      else if (req.url.includes('/userinfo')) sendJson(res, 200, { user: { id: '1', name: 'a' }, group: { id: '1', name: 'a' }, groups: [] });
      else if (req.url.includes('/partitions')) sendJson(res, 200, { partitions: [] });
      else if (req.method === 'DELETE') sendJson(res, 204);
      else sendJson(res, 200, { jobs: [] });
    });
    const c = client(`${s.url}/v2//`, { system: 'my sys/x?y#z' });
    await c.submit(TOKEN, { script: 'x', workingDirectory: '/tmp' });
    await c.job(TOKEN, '7');
    await c.metadata(TOKEN, '7');
    await c.cancel(TOKEN, '7');
    await c.userinfo(TOKEN);
    await c.partitions(TOKEN);
    const sys = 'my%20sys%2Fx%3Fy%23z';
    assert.deepEqual(
      s.requests.map((r) => r.url),
      [`/v2/compute/${sys}/jobs`, `/v2/compute/${sys}/jobs/7`, `/v2/compute/${sys}/jobs/7/metadata`, `/v2/compute/${sys}/jobs/7`, `/v2/status/${sys}/userinfo`, `/v2/status/${sys}/partitions`],
    );
    for (const r of s.requests) assert.ok(!r.url.endsWith('/'), `trailing slash in ${r.url}`);
  });

  it('refuses a job id that is not one before any request (no path tricks reach FirecREST)', async () => {
    const s = await server((_req, res) => sendJson(res, 200, { jobs: [] }));
    const c = client(s.url);
    for (const bad of ['1/../../status/daint/userinfo', '..', '1 2', '1\n2', '', '%2e%2e', '1?x=1']) {
      const e = await failure(c.job(TOKEN, bad));
      assert.equal(e.status, 400);
      assert.match(e.message, /^FirecREST \(system daint\) was not called: .* is not a job id/);
      await failure(c.cancel(TOKEN, bad));
      await failure(c.metadata(TOKEN, bad));
    }
    assert.equal(s.requests.length, 0);
  });

  it('refuses a base URL that is not http(s) or carries credentials or a query, and a dot-only system', () => {
    for (const baseUrl of ['ftp://x/v2', 'http://u:p@x/v2', 'http://x/v2?a=1', 'not a url']) {
      assert.throws(() => client(baseUrl), /firecrest_url/);
    }
    assert.throws(() => client('http://x/v2', { system: '..' }), /path segment/);
  });
});

describe('FirecrestClient: retries, time limits, unreachable FirecREST', () => {
  it('retries a GET after a 5xx and gets the answer', async () => {
    const s = await server((_req, res, n) => (n < 2 ? sendJson(res, 503, { message: 'busy' }) : sendJson(res, 200, { jobs: [JOB] })));
    const job = await client(s.url, { retries: 2 }).job(TOKEN, '20');
    assert.equal(job?.status.state, 'PENDING');
    assert.equal(s.requests.length, 3);
  });

  it('gives up after `retries` retries, naming the last 5xx in plain words', async () => {
    const s = await server((_req, res) => sendJson(res, 500, { errorType: 'error', message: 'sacct: error: Slurm accounting storage is disabled' }));
    const e = await failure(client(s.url, { retries: 1 }).cancel(TOKEN, '20'));
    assert.equal(s.requests.length, 2);
    assert.equal(e.status, 500);
    assert.ok(e.unavailable);
    assert.equal(e.message, 'FirecREST (system daint) failed while cancelling job 20 (HTTP 500): sacct: error: Slurm accounting storage is disabled');
  });

  it('never retries a 4xx', async () => {
    const s = await server((_req, res) => sendJson(res, 403, { errorType: 'error', message: 'User is not allowed to access system' }));
    const e = await failure(client(s.url, { retries: 3 }).userinfo(TOKEN));
    assert.equal(s.requests.length, 1);
    assert.equal(e.status, 403);
    assert.equal(e.message, 'FirecREST (system daint) refused to show your user information: User is not allowed to access system');
  });

  it('a 404 of userinfo or partitions names the system option (a misconfigured system shows at the first call)', async () => {
    const s = await server((_req, res) => sendJson(res, 404, { errorType: 'error', message: "System 'daintt' does not exist" }));
    for (const call of [(c: FirecrestClient) => c.userinfo(TOKEN), (c: FirecrestClient) => c.partitions(TOKEN)]) {
      const e = await failure(call(client(s.url, { system: 'daintt' })));
      assert.equal(e.status, 404);
      assert.match(e.message, /System 'daintt' does not exist.*is daintt a system this FirecREST knows\? Check the system option/);
    }
  });

  it('never retries a submit, on a 5xx or a time-out', async () => {
    const s = await server((_req, res, n) => (n === 0 ? sendJson(res, 502, { message: 'bad gateway' }) : undefined /* hang */));
    const c = client(s.url, { retries: 3, timeoutMs: 300 });
    const e1 = await failure(c.submit(TOKEN, { script: 'x', workingDirectory: '/tmp' }));
    assert.equal(e1.status, 502);
    assert.equal(s.requests.length, 1);
    const e2 = await failure(c.submit(TOKEN, { script: 'x', workingDirectory: '/tmp' }));
    assert.equal(e2.message, 'FirecREST (system daint) did not answer within 0.3 s');
    assert.equal(s.requests.length, 2);
  });

  it('a FirecREST that does not answer: each attempt is cut after timeoutMs, retried, then a sentence with the limit', async () => {
    const s = await server(() => undefined);
    const started = Date.now();
    const e = await failure(client(s.url, { retries: 1, timeoutMs: 200 }).job(TOKEN, '20'));
    const took = Date.now() - started;
    assert.equal(e.status, 0);
    assert.ok(e.unavailable);
    assert.equal(e.message, 'FirecREST (system daint) did not answer within 0.2 s');
    assert.equal(s.requests.length, 2);
    assert.ok(took >= 400 && took < 2500, `took ${took} ms`);
  });

  it('a body that stops half-way is cut by the same time limit', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"jobs": [');
    });
    const e = await failure(client(s.url, { retries: 0, timeoutMs: 300 }).job(TOKEN, '20'));
    assert.equal(e.message, 'FirecREST (system daint) did not answer within 0.3 s');
  });

  it('a refused port: "could not be reached" with the cause', async () => {
    const port = await closedPort();
    const e = await failure(client(`http://127.0.0.1:${port}/v2`, { retries: 1 }).partitions(TOKEN));
    assert.equal(e.status, 0);
    assert.ok(e.unavailable);
    assert.equal(e.message, `FirecREST (system daint) could not be reached: connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it("the caller's signal ends the call at once and stops the retries", async () => {
    const s = await server(() => undefined);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const started = Date.now();
    const e = await failure(client(s.url, { retries: 5, timeoutMs: 5000 }).job(TOKEN, '20', ac.signal));
    assert.ok(Date.now() - started < 1000);
    assert.match(e.message, /abandoned/);
    assert.equal(s.requests.length, 1);
  });
  it("a long-lived caller signal (a spawn's) collects no listeners over many calls", async () => {
    const s = await server((_req, res, n) => (n % 3 === 0 ? sendJson(res, 503, {}) : sendJson(res, 200, { jobs: [] })));
    const ac = new AbortController();
    const c = client(s.url, { retries: 1 });
    for (let i = 0; i < 10; i++) await c.job(TOKEN, '20', ac.signal).catch(() => undefined);
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  });
});

describe('FirecrestClient: redirects, error bodies, hostile answers', () => {
  it('a 307 is not followed, and the token never goes to its Location', async () => {
    const elsewhere = await server((_req, res) => sendJson(res, 200, { jobs: [] }));
    const s = await server((req, res) => {
      res.writeHead(307, { location: `${elsewhere.url}${req.url}/?token=abc` });
      res.end();
    });
    const e = await failure(client(s.url).job(TOKEN, '20'));
    assert.equal(e.status, 307);
    assert.ok(!e.unavailable);
    assert.match(e.message, /^FirecREST \(system daint\) answered asking for job 20 with a redirect \(HTTP 307 to http:\/\/127\.0\.0\.1:\d+\/compute\/daint\/jobs\/20\/\), which is not followed; .*trailing slash/);
    assert.ok(!e.message.includes('token=abc'));
    assert.equal(s.requests.length, 1, 'a redirect is not retried');
    assert.equal(elsewhere.requests.length, 0, 'the redirect was followed');
  });

  it('error bodies become sentences: message and causes kept, control characters and length cut, HTML ignored', async () => {
    const answers: [number, string][] = [
      [400, JSON.stringify({ errorType: 'validation', message: 'Invalid account\u001b[31m\nforged line', causedBy: ['account proj9 not found'] })],
      [401, JSON.stringify({ errorType: 'error', message: 'Access token is invalid.' })],
      [422, JSON.stringify({ detail: [{ loc: ['body', 'job', 'workingDirectory'], msg: 'Field required', type: 'missing' }] })],
      [400, JSON.stringify({ message: 'x'.repeat(100000) })],
      [400, '<html><body>nginx says no</body></html>'],
      [400, 'x'.repeat(200000)],
    ];
    const s = await server((_req, res, n) => {
      res.writeHead(answers[n]![0], { 'content-type': 'application/json' });
      res.end(answers[n]![1]);
    });
    const c = client(s.url);
    const submit = () => c.submit(TOKEN, { script: 'x', workingDirectory: '/tmp' });
    const e1 = await failure(submit());
    assert.equal(e1.message, 'FirecREST (system daint) refused the job: Invalid account [31m forged line (account proj9 not found)');
    assert.equal(e1.status, 400);
    assert.equal(e1.errorType, 'validation');
    const e2 = await failure(submit());
    assert.ok(e2.unauthorized);
    assert.equal(e2.message, 'FirecREST (system daint) did not accept the access token (Access token is invalid.)');
    const e3 = await failure(submit());
    assert.equal(e3.message, 'FirecREST (system daint) refused the job: Field required');
    const e4 = await failure(submit());
    assert.ok(e4.message.length < 500, `long message: ${e4.message.length}`);
    const e5 = await failure(submit());
    assert.equal(e5.message, 'FirecREST (system daint) refused the job: HTTP 400 without an explanation');
    const e6 = await failure(submit());
    assert.equal(e6.message, 'FirecREST (system daint) refused the job: HTTP 400 without an explanation');
  });

  it('hostile successful answers are refused as 502 with a sentence, never retried', async () => {
    const huge = JSON.stringify({ jobs: [{ ...JOB, name: 'x'.repeat(2 * 1024 * 1024) }] });
    const cases: { answer: (res: ServerResponse) => void; call: (c: FirecrestClient) => Promise<unknown>; says: RegExp }[] = [
      { answer: (res) => res.end(huge), call: (c) => c.job(TOKEN, '20'), says: /larger than 1 MiB/ },
      {
        answer: (res) => {
          res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) });
          res.write('{');
        },
        call: (c) => c.job(TOKEN, '20'),
        says: /larger than 1 MiB/,
      },
      { answer: (res) => res.end('<html>hello</html>'), call: (c) => c.userinfo(TOKEN), says: /is not JSON/ },
      { answer: (res) => sendJson(res, 200, { jobs: 'RUNNING' }), call: (c) => c.job(TOKEN, '20'), says: /its jobs is not a list/ },
      { answer: (res) => sendJson(res, 200, { jobs: [{ ...JOB, status: { state: 5 } }] }), call: (c) => c.job(TOKEN, '20'), says: /status\.state is not a string/ },
      { answer: (res) => sendJson(res, 200, { jobs: [{ ...JOB, nodes: 'nid001\nnid002' }] }), call: (c) => c.job(TOKEN, '20'), says: /nodes holds control characters/ },
      { answer: (res) => sendJson(res, 200, { jobs: [{ ...JOB, jobId: '21' }] }), call: (c) => c.job(TOKEN, '20'), says: /holds other jobs \(21\), not job 20/ },
      { answer: (res) => sendJson(res, 201, { jobId: '20 ; rm -rf /' }), call: (c) => c.submit(TOKEN, { script: 'x', workingDirectory: '/tmp' }), says: /its jobId: "20 ; rm -rf \/" is not a job id/ },
      { answer: (res) => sendJson(res, 201, { jobId: '20\n21' }), call: (c) => c.submit(TOKEN, { script: 'x', workingDirectory: '/tmp' }), says: /is not a job id/ },
      { answer: (res) => sendJson(res, 201, { jobId: null }), call: (c) => c.submit(TOKEN, { script: 'x', workingDirectory: '/tmp' }), says: /its jobId is not a string/ },
      { answer: (res) => sendJson(res, 201, { jobId: 20 }), call: (c) => c.submit(TOKEN, { script: 'x', workingDirectory: '/tmp' }), says: /its jobId is not a string/ },
      { answer: (res) => sendJson(res, 201, ['20']), call: (c) => c.submit(TOKEN, { script: 'x', workingDirectory: '/tmp' }), says: /the answer is not a JSON object/ },
      { answer: (res) => sendJson(res, 200, { user: { id: 1, name: 'a' }, group: { id: '1', name: 'a' }, groups: [] }), call: (c) => c.userinfo(TOKEN), says: /user\.id is not a string/ },
      { answer: (res) => sendJson(res, 200, { user: { id: '1', name: 'a' }, group: { id: '1', name: 'a' }, groups: [], accounts: [{ name: 'p', default: 'yes' }] }), call: (c) => c.userinfo(TOKEN), says: /accounts\[0\]\.default is not true or false/ },
      { answer: (res) => sendJson(res, 200, { partitions: [{ name: null }] }), call: (c) => c.partitions(TOKEN), says: /partitions\[0\]\.name is not a string/ },
      { answer: (res) => sendJson(res, 200, {}), call: (c) => c.partitions(TOKEN), says: /its partitions is not a list/ },
    ];
    for (const { answer, call, says } of cases) {
      const s = await server((_req, res) => answer(res));
      const e = await failure(call(client(s.url, { retries: 3 })));
      assert.equal(e.status, 502, e.message);
      assert.match(e.message, /^FirecREST \(system daint\) gave a bad answer while /);
      assert.match(e.message, says);
      assert.ok(e.message.length < 600);
      assert.equal(s.requests.length, 1, `retried: ${e.message}`);
    }
  });

  it('a token that cannot be a bearer token is not sent (nor shown)', async () => {
    const s = await server((_req, res) => sendJson(res, 200, { partitions: [] }));
    const e = await failure(client(s.url).partitions(`${TOKEN}\r\nX-Evil: 1`));
    assert.equal(e.status, 401);
    assert.equal(s.requests.length, 0);
    await failure(client(s.url).partitions(''));
  });

  it('logs each call without the token or the Authorization header', async () => {
    const s = await server((_req, res, n) => (n === 0 ? sendJson(res, 500, { message: 'oops' }) : sendJson(res, 201, { jobId: '1' })));
    const before = lines.length;
    await client(s.url).submit(TOKEN, { script: `echo ${TOKEN}`, workingDirectory: '/tmp', env: { JUPYTERHUB_API_TOKEN: 'api-secret' } }).catch(() => undefined);
    await client(s.url).submit(TOKEN, { script: `echo ${TOKEN}`, workingDirectory: '/tmp', env: { JUPYTERHUB_API_TOKEN: 'api-secret' } });
    const mine = lines.slice(before);
    assert.ok(mine.some((l) => l.includes('FirecREST call failed')), 'the failure is logged');
    assert.ok(mine.some((l) => l.includes('FirecREST answered')), 'the answer is logged');
    for (const l of mine) {
      assert.ok(!l.includes(TOKEN) && !l.includes('api-secret'), `secret in log line ${l}`);
      assert.doesNotMatch(l, /bearer|authorization/i);
    }
  });
});

describe('FirecrestClient: the answers these tests play are valid by the spec', () => {
  it('GetJobResponse, GetJobMetadataResponse, UserInfoResponse, GetPartitionsResponse, ApiResponseError, PostJobSubmissionResponse', () => {
    assertSpec('GetJobResponse', { jobs: [JOB] });
    assertSpec('GetJobResponse', { jobs: null });
    assertSpec('GetJobMetadataResponse', { jobs: [{ jobId: '20', script: '#!/bin/bash', standardOutput: '/home/alice/j.log', standardError: null, standardInput: null }] });
    assertSpec('UserInfoResponse', { user: { id: '1000', name: 'alice' }, group: { id: '1000', name: 'alice' }, groups: [{ id: '1000', name: 'alice' }], accounts: [{ name: 'proj1', default: true }] });
    assertSpec('GetPartitionsResponse', { partitions: [{ name: 'normal', partition: 'normal', cpus: 10, totalNodes: 2 }] });
    assertSpec('ApiResponseError', { errorType: 'validation', message: 'Invalid account', causedBy: ['account proj9 not found'] });
    assertSpec('PostJobSubmissionResponse', { jobId: '20' });
    if (existsSync(SPEC_FILE)) assert.throws(() => assertSpec('PostJobSubmitRequest', { job: { script: 'x', env: { A: 1 } } }), /workingDirectory|must be string/);
  });
});
