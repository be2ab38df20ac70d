/**
 * Issue 11, "Where the server is": a starting server reports its port at
 * `POST /hub/api/batchspawner` (or `/firecrestspawner`) with its own API token.
 * The real hub, with a spawner double that waits for `req.reportedPort()` as a
 * batch spawner does; forged, misdirected and malformed reports are refused
 * and change nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { reportingSpawner, type ReportingSpawner } from '../helpers/spawner-doubles.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { createToken } from '../../src/db/repos/tokens.js';
import { getServer } from '../../src/db/repos/servers.js';
import { freePort } from '../../src/lib/free-port.js';
import { Writable } from 'node:stream';
import pino from 'pino';

const SERVICE_TOKEN = 'port-report-service-token-0123456789';

describe('port report (POST /hub/api/batchspawner, /firecrestspawner)', { timeout: 60_000 }, () => {
  let t: TestHub;
  let spawner: ReportingSpawner;

  before(async () => {
    spawner = reportingSpawner();
    t = await startTestHub({ allow_named_servers: true, services: [{ name: 'svc', api_token: SERVICE_TOKEN }] }, { spawner });
  });
  after(async () => {
    await t.stop();
    await spawner.killAll();
  });

  /** Starts `user`'s server `name` and waits until the double runs it; returns its token and the spawn's end. */
  async function pending(user: string, name = ''): Promise<{ token: string; done: Promise<void>; serverId: number; userId: number }> {
    const row = await ensureUser(t.hub.db, user);
    const { server, done } = await t.hub.servers.requestSpawn(row, name, undefined);
    assert.ok(done, `${user}/${name} was already pending`);
    for (let i = 0; i < 200; i++) {
      const call = spawner.calls.find((c) => c.request.user.name === user && c.request.serverName === name && c.outcome === 'pending');
      if (call) return { token: call.request.env['JUPYTERHUB_API_TOKEN']!, done, serverId: server.id, userId: row.id };
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`the spawner never saw ${user}/${name}`);
  }

  async function report(path: string, opts: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> }) {
    return t.api('POST', path, { ...opts, validate: false });
  }

  async function portOf(userId: number, name: string): Promise<number | null> {
    return (await getServer(t.hub.db, userId, name))!.reported_port;
  }

  async function stopServer(user: string, name = '') {
    await t.hub.servers.stop(await ensureUser(t.hub.db, user), name);
  }

  it("a report with the server's own token while pending: the spawn completes on that port", async () => {
    const p = await pending('alice');
    const port = await freePort('127.0.0.1');
    const r = await report('/batchspawner', { token: p.token, body: { port } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type') ?? '', /application\/json/);
    assert.equal((r.body as { port: number }).port, port);
    assert.match((r.body as { message: string }).message, /recorded/);
    await p.done;
    const row = (await getServer(t.hub.db, p.userId, ''))!;
    assert.equal(row.ready, 1);
    assert.equal(row.url, `http://127.0.0.1:${port}`);
    assert.equal(spawner.reportedPorts.at(-1), port);
    // the hub reaches it through the proxy
    const res = await fetch(`${t.publicUrl}/user/alice/api`, { redirect: 'manual' });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { user: string }).user, 'alice');
    await stopServer('alice');
  });

  it('the FirecRESTSpawner URL works the same, and a report without Content-Type is still read', async () => {
    const p = await pending('fiona');
    const port = await freePort('127.0.0.1');
    // (a byte body: fetch sends no Content-Type)
    const res = await fetch(`${t.hubUrl}/hub/api/firecrestspawner`, { method: 'POST', headers: { Authorization: `token ${p.token}` }, body: new TextEncoder().encode(JSON.stringify({ port })) });
    const r = { status: res.status, text: await res.text() };
    assert.equal(r.status, 200, r.text);
    await p.done;
    assert.equal((await getServer(t.hub.db, p.userId, ''))!.url, `http://127.0.0.1:${port}`);
    await stopServer('fiona');
  });

  it('forged reports (no token, a user token, an OAuth token, a service token, a made-up token, a cookie) are 403 and change nothing', async () => {
    const p = await pending('gina');
    const userToken = await t.tokenFor('gina');
    const otherUserToken = await t.tokenFor('mallory');
    const oauth = (await createToken(t.hub.db, p.userId, { kind: 'oauth', scopes: ['inherit'], clientId: 'jupyterhub-user-gina' })).token;
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['no token', {}, /Missing credentials/],
      ['a made-up token', { token: 'f'.repeat(32) }, /Invalid or expired token/],
      ["the user's own API token", { token: userToken }, /a user's API token, not a server's/],
      ["another user's API token", { token: otherUserToken }, /a user's API token, not a server's/],
      ['an OAuth token', { token: oauth }, /an OAuth access token, not a server's/],
      ["a service's token", { token: SERVICE_TOKEN }, /A service's token cannot report/],
      ['a Basic header', { headers: { Authorization: `Basic ${Buffer.from(`x:${p.token}`).toString('base64')}` } }, /Missing credentials/],
    ];
    for (const path of ['/batchspawner', '/firecrestspawner']) {
      for (const [what, opts, message] of cases) {
        const r = await report(path, { ...opts, body: { port: 4242 } });
        assert.equal(r.status, 403, `${path} ${what}: ${r.text}`);
        const body = r.body as { status: number; message: string };
        assert.equal(body.status, 403);
        assert.match(body.message, message, `${path} ${what}`);
        assert.match(body.message, /JUPYTERHUB_API_TOKEN/);
      }
    }
    assert.equal(await portOf(p.userId, ''), null);
    // the spawn still waits, and the real report still works after all that
    assert.equal((await getServer(t.hub.db, p.userId, ''))!.pending, 'spawn');
    const port = await freePort('127.0.0.1');
    assert.equal((await report('/batchspawner', { token: p.token, body: { port } })).status, 200);
    await p.done;
    await stopServer('gina');
  });

  it("the token of another server reports for that server only (another user's, and the same user's other server)", async () => {
    const a = await pending('hana');
    const aGpu = await pending('hana', 'gpu');
    const b = await pending('ivan');
    const bPort = await freePort('127.0.0.1');
    const r = await report('/batchspawner', { token: b.token, body: { port: bPort } });
    assert.equal(r.status, 200, r.text);
    await b.done;
    assert.equal(await portOf(b.userId, ''), bPort);
    assert.equal(await portOf(a.userId, ''), null);
    assert.equal(await portOf(a.userId, 'gpu'), null);
    assert.equal((await getServer(t.hub.db, a.userId, ''))!.pending, 'spawn');

    const gpuPort = await freePort('127.0.0.1');
    assert.equal((await report('/batchspawner', { token: aGpu.token, body: { port: gpuPort } })).status, 200);
    await aGpu.done;
    assert.equal(await portOf(a.userId, 'gpu'), gpuPort);
    assert.equal(await portOf(a.userId, ''), null);
    assert.equal((await getServer(t.hub.db, a.userId, ''))!.pending, 'spawn');

    // a server_name in the body (batchspawner-singleuser before 1.3 sent it) must be the token's own
    const wrong = await report('/batchspawner', { token: a.token, body: { port: 4243, server_name: 'gpu' } });
    assert.equal(wrong.status, 400, wrong.text);
    assert.match((wrong.body as { message: string }).message, /"server_name" "gpu" is not the server this token belongs to/);
    assert.equal(await portOf(a.userId, ''), null);
    const aPort = await freePort('127.0.0.1');
    assert.equal((await report('/batchspawner', { token: a.token, body: { server_name: '', port: aPort } })).status, 200);
    await a.done;
    assert.equal(await portOf(a.userId, ''), aPort);
    for (const [user, name] of [['hana', ''], ['hana', 'gpu'], ['ivan', '']] as const) await stopServer(user, name);
  });

  it('extra fields are 400 naming them, and nothing is taken', async () => {
    const p = await pending('jack');
    const r = await report('/batchspawner', { token: p.token, body: { port: 4244, ip: '10.0.0.1', url: 'http://evil/', current_port: 1 } });
    assert.equal(r.status, 400, r.text);
    const message = (r.body as { message: string }).message;
    assert.match(message, /unknown fields "ip", "url", "current_port"; only "port" is accepted/);
    assert.equal(await portOf(p.userId, ''), null);
    const one = await report('/firecrestspawner', { token: p.token, body: { port: 4244, ip: '10.0.0.1' } });
    assert.match((one.body as { message: string }).message, /unknown field "ip";/);
    await stopServer('jack');
  });

  it('a port that is not a JSON integer from 1 to 65535, or a body that is not an object, is 400', async () => {
    const p = await pending('kate');
    const bad: [unknown, RegExp][] = [
      [{ port: 0 }, /got 0$/],
      [{ port: 65536 }, /got 65536$/],
      [{ port: -80 }, /got -80$/],
      [{ port: 80.5 }, /got 80.5$/],
      [{ port: '80' }, /got the string "80"$/],
      [{ port: null }, /got null$/],
      [{ port: [80] }, /got \[80\]$/],
      [{}, /field "port" is missing/],
      [[{ port: 80 }], /must be a JSON object/],
      [80, /must be a JSON object/],
    ];
    for (const [body, message] of bad) {
      const r = await report('/batchspawner', { token: p.token, body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.match((r.body as { message: string }).message, message, JSON.stringify(body));
    }
    assert.equal((await report('/batchspawner', { token: p.token })).status, 400, 'no body');
    assert.equal((await report('/batchspawner', { token: p.token, rawBody: '{"port": 80', headers: { 'Content-Type': 'application/json' } })).status, 400, 'broken JSON');
    const form = await report('/batchspawner', { token: p.token, rawBody: 'port=80', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.ok(form.status === 400 || form.status === 415, `form body: ${form.status}`);
    assert.equal(await portOf(p.userId, ''), null);
    await stopServer('kate');
  });

  it('logs each report (user, server, port) and each refusal with its reason, never the token', async () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const quiet = t.hub.log;
    t.hub.log = pino({ level: 'info' }, destination);
    try {
      const p = await pending('nora');
      assert.equal((await report('/batchspawner', { token: p.token, body: { port: 4245, ip: 'x' } })).status, 400);
      assert.equal((await report('/batchspawner', { token: `${p.token}x`, body: { port: 4245 } })).status, 403);
      const port = await freePort('127.0.0.1');
      assert.equal((await report('/batchspawner', { token: p.token, body: { port } })).status, 200);
      await p.done;
      await new Promise((r) => setImmediate(r));
      const ok = lines.find((l) => l['msg'] === 'server reported its port');
      assert.ok(ok, JSON.stringify(lines));
      assert.deepEqual([ok['user'], ok['server'], ok['port'], ok['endpoint']], ['nora', '', port, 'batchspawner']);
      const refusals = lines.filter((l) => l['msg'] === 'port report refused');
      assert.equal(refusals.length, 2);
      assert.match(String(refusals[0]!['reason']), /unknown field "ip"/);
      assert.match(String(refusals[1]!['reason']), /Invalid or expired token/);
      assert.ok(!JSON.stringify(lines).includes(p.token), 'the token is in the log');
    } finally {
      t.hub.log = quiet;
    }
    await stopServer('nora');
  });

  it('a report for a server that is running is 409 "not starting", and changes nothing', async () => {
    const p = await pending('liam');
    const port = await freePort('127.0.0.1');
    assert.equal((await report('/batchspawner', { token: p.token, body: { port } })).status, 200);
    await p.done;
    const r = await report('/batchspawner', { token: p.token, body: { port: port === 65535 ? 1024 : port + 1 } });
    assert.equal(r.status, 409, r.text);
    assert.match((r.body as { message: string }).message, /liam's server is not starting/);
    const row = (await getServer(t.hub.db, p.userId, ''))!;
    assert.equal(row.reported_port, port);
    assert.equal(row.url, `http://127.0.0.1:${port}`);
    await stopServer('liam');
    // stopped: its token is revoked with it
    const gone = await report('/batchspawner', { token: p.token, body: { port } });
    assert.equal(gone.status, 403, gone.text);
  });
});
