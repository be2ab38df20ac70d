/**
 * Live configuration with the real processes (`ganymede serve`, its proxy,
 * a running server): while requests run through the proxy to alice's server
 * and to the hub, the YAML file is edited (a newly allowed user, a server
 * limit), the hub is sent SIGHUP (`ganymede reload`), an invalid file and a
 * restart-only change are written. No request fails, the live values apply,
 * the invalid file and the restart-only change do not, and the hub process,
 * the proxy and alice's server are the same throughout.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { Browser, E2eHub, GANYMEDE_BIN, PASSWORD, parseForm, pidAlive, sleep, waitFor } from '../helpers/e2e.js';
import { TRIVIAL_SERVER } from '../helpers/hub.js';

const execFileP = promisify(execFile);

interface Loop {
  count: number;
  failures: string[];
}

/** GETs `url` back to back (one at a time) until `stop` aborts; every answer but a 200 is a failure. */
async function requestLoop(url: string, headers: Record<string, string>, stop: AbortSignal): Promise<Loop> {
  const loop: Loop = { count: 0, failures: [] };
  while (!stop.aborted) {
    loop.count++;
    try {
      const res = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(5000) });
      const body = await res.text();
      if (res.status !== 200) loop.failures.push(`HTTP ${res.status}: ${body.slice(0, 200)}`);
    } catch (err) {
      loop.failures.push(`${(err as Error).message} ${String((err as Error & { cause?: unknown }).cause ?? '')}`);
    }
    await sleep(10);
  }
  return loop;
}

interface ReloadInfo {
  counts: { applied: number; unchanged: number; refused: number };
  last?: { trigger: string; result: string; changed: string[]; restart_needed: string[]; problems: string[] };
  restart_pending: string[];
}

describe('e2e: live configuration reload under load', { timeout: 180_000 }, () => {
  let hub: E2eHub;

  before(async () => {
    hub = await E2eHub.create('builtin', {
      config: {
        // the trivial server, as the test's account: the hub's own work is what is tested here
        spawner: { kind: 'local-process', cmd: [process.execPath, TRIVIAL_SERVER], run_as: 'hub' },
        environment: {},
        allowed_users: ['alice'],
      },
    });
    for (const name of ['alice', 'bob']) await hub.cliToken(name); // the users exist
    await hub.start();
  });

  after(async () => {
    await hub?.teardown();
  });

  const readConfig = () => YAML.parse(readFileSync(hub.configFile, 'utf8')) as Record<string, unknown>;
  const editConfig = (changes: Record<string, unknown>) => writeFileSync(hub.configFile, YAML.stringify({ ...readConfig(), ...changes }));
  const reloadInfo = async (): Promise<ReloadInfo> => {
    const r = await hub.api('GET', '/info');
    assert.equal(r.status, 200, r.text);
    const info = (r.json as { config_reload?: ReloadInfo }).config_reload;
    assert.ok(info, `GET /hub/api/info shows config_reload: ${r.text}`);
    return info;
  };
  /** Waits until the hub has done one more reload than `before` (by any result); returns its status. */
  const nextReload = async (before: ReloadInfo): Promise<ReloadInfo> => {
    const total = (i: ReloadInfo) => i.counts.applied + i.counts.unchanged + i.counts.refused;
    return waitFor('the hub to reload its configuration', async () => {
      const now = await reloadInfo();
      return total(now) > total(before) ? now : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100, detail: () => hub.logs() });
  };
  const loginStatus = async (name: string): Promise<number> => {
    const b = new Browser(hub.publicUrl);
    const page = await b.navigate('/hub/login');
    const form = parseForm(page.text);
    const res = await b.request(form.action ?? '/hub/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, username: name, password: PASSWORD }).toString(),
    });
    await res.body?.cancel();
    return res.status;
  };

  it('applies live options while requests run, refuses an invalid file, keeps restart-only options', async () => {
    const alice = await hub.spawnViaApi('alice');
    const hubPid = hub.hubPid;
    const proxyPid = hub.proxyPidFromFile();
    const stop = new AbortController();
    const toServer = requestLoop(`${hub.publicUrl}/user/alice/api/status`, {}, stop.signal);
    const toHub = requestLoop(`${hub.publicUrl}/hub/api/user`, { Authorization: `token ${hub.adminToken}` }, stop.signal);
    try {
      // 1. a newly allowed user, and limits, from the file alone
      assert.equal(await loginStatus('bob'), 403, 'bob is not allowed yet');
      let info = await reloadInfo();
      editConfig({ allowed_users: ['alice', 'bob'], active_server_limit: 1, concurrent_spawn_limit: 5 });
      info = await nextReload(info);
      assert.equal(info.last?.result, 'applied', JSON.stringify(info));
      assert.deepEqual(info.last?.changed.sort(), ['active_server_limit', 'allowed_users', 'concurrent_spawn_limit']);
      assert.match(info.last?.trigger ?? '', /^file changed/);
      assert.equal(await loginStatus('bob'), 302, 'bob logs in now');
      const refused = await hub.api('POST', '/users/bob/server');
      assert.equal(refused.status, 429, `the active server limit of 1 is enforced: ${refused.text}`);

      // 2. SIGHUP through `ganymede reload`, the file unchanged
      await execFileP(process.execPath, [GANYMEDE_BIN, 'reload', '--data-dir', hub.dataDir, '--config', hub.configFile], { timeout: 20_000 });
      info = await nextReload(info);
      assert.deepEqual([info.last?.trigger, info.last?.result], ['SIGHUP', 'unchanged']);

      // 3. an invalid file: a bad type and an unknown key; nothing changes
      const good = readFileSync(hub.configFile, 'utf8');
      editConfig({ active_server_limit: 'one', allowed_users: ['alice'], no_such_option: true });
      info = await nextReload(info);
      assert.equal(info.last?.result, 'refused');
      assert.equal(info.last?.problems.length, 2, JSON.stringify(info.last));
      assert.equal(await loginStatus('bob'), 302, 'bob is still allowed');
      assert.equal((await hub.api('POST', '/users/bob/server')).status, 429, 'the limit is still 1');
      const log = readFileSync(path.join(hub.dataDir, 'hub.log'), 'utf8');
      const line = log.split('\n').find((l) => l.includes('configuration reload refused'));
      assert.ok(line, `the refusal is logged:\n${hub.logs()}`);
      assert.match(line, /active_server_limit/);
      assert.match(line, /no_such_option/);
      writeFileSync(hub.configFile, good);
      info = await nextReload(info);

      // 4. a restart-only change next to a live one: the live one applies, the other waits
      const publicPort = (readConfig()['port'] as number);
      editConfig({ port: publicPort + 1, active_server_limit: 0 });
      info = await nextReload(info);
      assert.deepEqual(info.last?.restart_needed, ['port']);
      assert.deepEqual(info.last?.changed, ['active_server_limit']);
      assert.deepEqual(info.restart_pending, ['port']);
      assert.match(readFileSync(path.join(hub.dataDir, 'hub.log'), 'utf8'), /need a restart/);
      const started = await hub.api('POST', '/users/bob/server');
      assert.ok(started.status === 201 || started.status === 202, `with no limit bob's server starts: ${started.status} ${started.text}`);
      await hub.waitReady('bob');
      await sleep(500); // requests keep flowing after the last reload
    } finally {
      stop.abort();
    }
    const [server, hubLoop] = await Promise.all([toServer, toHub]);
    assert.deepEqual(server.failures, [], `requests to alice's server failed (${server.failures.length} of ${server.count})`);
    assert.deepEqual(hubLoop.failures, [], `requests to the hub failed (${hubLoop.failures.length} of ${hubLoop.count})`);
    assert.ok(server.count > 20 && hubLoop.count > 20, `the loops ran (${server.count}, ${hubLoop.count} requests)`);
    assert.equal(hub.hubPid, hubPid, 'the hub process is the same');
    assert.equal(hub.proxyPidFromFile(), proxyPid, 'the proxy is the same');
    assert.ok(pidAlive(alice.pid), 'alice\'s server still runs');
    const proxied = await fetch(`${hub.publicUrl}/user/alice/`);
    assert.equal(proxied.status, 200, 'the proxy still listens on the old port');
    await proxied.body?.cancel();
  });
});
