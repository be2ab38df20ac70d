/**
 * A hub restart goes unnoticed by users: with alice's real single-user server
 * running, requests through the proxy keep being answered while the hub is
 * killed with SIGKILL and started again on the same data dir, which reuses
 * the proxy and re-attaches to the server.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { E2eHub, pidAlive, sleep, waitFor } from '../helpers/e2e.js';

interface LoopResult {
  count: number;
  failures: { at: number; what: string }[];
  firstAt: number;
  lastAt: number;
}

/** GETs `url` every `intervalMs` until `stop` aborts, at most `maxRequests` times or for `maxMs`. */
async function requestLoop(url: string, headers: Record<string, string>, stop: AbortSignal, opts: { intervalMs: number; maxRequests: number; maxMs: number }): Promise<LoopResult> {
  const result: LoopResult = { count: 0, failures: [], firstAt: Date.now(), lastAt: 0 };
  const deadline = Date.now() + opts.maxMs;
  while (!stop.aborted && result.count < opts.maxRequests && Date.now() < deadline) {
    const started = Date.now();
    result.count++;
    try {
      const res = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(3000) });
      const body = await res.text();
      if (res.status !== 200) result.failures.push({ at: started, what: `HTTP ${res.status}: ${body.slice(0, 200)}` });
    } catch (err) {
      result.failures.push({ at: started, what: `${(err as Error).message} ${String((err as Error & { cause?: unknown }).cause ?? '')}` });
    }
    result.lastAt = Date.now();
    await sleep(Math.max(0, opts.intervalMs - (Date.now() - started)));
  }
  return result;
}

describe('e2e: hub restart with a running jupyterhub-singleuser', { timeout: 120_000 }, () => {
  let hub: E2eHub;
  let aliceToken: string;

  before(async () => {
    hub = await E2eHub.create('builtin');
    aliceToken = await hub.cliToken('alice');
    await hub.start();
  });

  after(async () => {
    await hub?.teardown();
  });

  it('keeps serving alice through a kill -9 of the hub, and the new hub reuses the proxy and her server', async (t) => {
    const before = await hub.spawnViaApi('alice');
    const proxyPid = hub.proxyPidFromFile();
    assert.ok(proxyPid && pidAlive(proxyPid), `proxy.pid names a running proxy (${proxyPid})`);
    assert.deepEqual(hub.proxyProcesses(), [proxyPid]);

    const url = `${hub.publicUrl}/user/alice/api`;
    const headers = { Authorization: `token ${aliceToken}` };
    // The token works on the server (an authenticated endpoint), and the server has it cached from now on.
    const status = await fetch(`${hub.publicUrl}/user/alice/api/status`, { headers, signal: AbortSignal.timeout(10_000) });
    assert.equal(status.status, 200, `GET /user/alice/api/status with alice's token: ${status.status} ${await status.text()}`);
    const version = (await (await fetch(url, { headers, signal: AbortSignal.timeout(5000) })).json()) as { version?: string };
    assert.ok(version.version, 'GET /user/alice/api is the single-user server (jupyter_server version)');

    const stop = new AbortController();
    const loop = requestLoop(url, headers, stop.signal, { intervalMs: 20, maxRequests: 2000, maxMs: 45_000 });
    const times = { killed: 0, up: 0 };
    try {
      await sleep(300);
      const oldHubPid = hub.hubPid;
      times.killed = Date.now();
      await hub.stopHub('SIGKILL');
      assert.ok(!pidAlive(oldHubPid), 'the old hub is dead');
      await sleep(200); // users keep working while no hub runs at all
      await hub.start(); // waits for /hub/api/health, directly and through the proxy
      times.up = Date.now();
      await sleep(500);
    } finally {
      stop.abort();
    }
    const seen = await loop;
    const { killed: killedAt, up: upAt } = times;
    t.diagnostic(`${seen.count} requests through the proxy; hub down for ${upAt - killedAt} ms (kill -9 to healthy again)`);
    assert.ok(seen.firstAt < killedAt && seen.lastAt > upAt, `the loop covered the whole restart (loop ${seen.firstAt}..${seen.lastAt}, hub killed ${killedAt}, up ${upAt})`);
    assert.ok(seen.count >= 20, `the loop made ${seen.count} requests`);
    // (a) no request failed
    assert.deepEqual(seen.failures, [], `${seen.failures.length} of ${seen.count} requests failed`);

    // (b) the proxy was reused: same pid in proxy.pid, one proxy process
    assert.equal(hub.proxyPidFromFile(), proxyPid, 'proxy.pid is unchanged');
    assert.ok(pidAlive(proxyPid), 'the proxy still runs');
    assert.deepEqual(hub.proxyProcesses(), [proxyPid], 'exactly one proxy process');
    const log = readFileSync(path.join(hub.dataDir, 'hub.log'), 'utf8');
    assert.match(log, /reusing the proxy that is already running/);

    // (c) the new hub reports alice's server ready (after re-attaching to it)
    await waitFor('the new hub to re-attach to alice\'s server', async () => /re-attached to running server/.test(readFileSync(path.join(hub.dataDir, 'hub.log'), 'utf8')), {
      timeoutMs: 10_000,
      detail: () => hub.logs('alice'),
    });
    const server = await hub.server('alice');
    assert.equal(server?.ready, true, `GET /hub/api/users/alice on the new hub: ${JSON.stringify(server)}`);
    assert.equal(server.pending, null);

    // (d) it is the same process
    assert.equal(server.state?.pid, before.pid, 'the single-user server pid is unchanged');
    assert.ok(pidAlive(before.pid), 'the single-user server still runs');
    const routes = await hub.proxyRoutes();
    assert.ok(Object.keys(routes).some((k) => k.replace(/\/$/, '') === '/user/alice'), `alice's route is still there: ${JSON.stringify(routes)}`);

    await hub.stopServer('alice');
    await waitFor('alice\'s server process to exit', async () => !pidAlive(before.pid), { timeoutMs: 10_000 });
  });
});
