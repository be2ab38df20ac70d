import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { alive } from '../helpers/process-alive.js';
import { freePort } from '../../src/lib/free-port.js';
import { validateConfig } from '../../src/config/load.js';
import { applyServices } from '../../src/services/apply-services.js';
import { writePidFile } from '../../src/services/service-pid-file.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/managed-service.mjs', import.meta.url));

interface Described {
  pid: number;
  path: string;
  cwd: string;
  whoami: { status: number; body?: { kind: string; name: string; scopes: string[] } };
  api_token_sha256: string;
  env: Record<string, string>;
}

/** Asks the service through the proxy until it answers (bounded). */
async function describeService(t: TestHub, name: string, notPid = 0, timeoutMs = 15_000): Promise<Described> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${t.publicUrl}/services/${name}/probe`);
      if (res.status === 200) {
        const body = (await res.json()) as Described;
        if (body.pid !== notPid) return body;
        last = `still pid ${notPid}`;
      } else last = `status ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`service ${name} did not answer through the proxy within ${timeoutMs} ms (${last})`);
}

describe('a managed service (command): started by the hub, restarted, stopped with it', () => {
  let t: TestHub;
  let admin: string;
  let dir: string;
  let stopMark: string;
  let port: number;
  let services: Record<string, unknown>[];
  let first: Described;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-managed-'));
    stopMark = path.join(dir, 'stopped');
    port = await freePort('127.0.0.1');
    services = [
      {
        name: 'minder',
        command: [process.execPath, FIXTURE],
        url: `http://127.0.0.1:${port}`,
        environment: { STOP_MARK: stopMark, EXTRA: 'from-config' },
        cwd: dir,
        scopes: ['list:users'],
      },
    ];
    t = await startTestHub({ services });
    admin = await t.tokenFor('root', { admin: true });
    first = await describeService(t, 'minder');
  });
  after(async () => {
    await t?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is started with the JUPYTERHUB_* environment, its environment map and cwd, and no secret of the hub', () => {
    const env = first.env;
    assert.equal(env['JUPYTERHUB_SERVICE_NAME'], 'minder');
    assert.equal(env['JUPYTERHUB_API_URL'], `${t.hubUrl}/hub/api`);
    assert.equal(env['JUPYTERHUB_BASE_URL'], '/');
    assert.equal(env['JUPYTERHUB_SERVICE_URL'], `http://127.0.0.1:${port}`);
    assert.equal(env['JUPYTERHUB_SERVICE_PREFIX'], '/services/minder/');
    assert.equal(env['EXTRA'], 'from-config');
    assert.equal(first.cwd, dir);
    assert.equal(first.path, '/services/minder/probe');
    for (const k of Object.keys(env)) assert.doesNotMatch(k, /^GANYMEDE_|CONFIGPROXY_AUTH_TOKEN|COOKIE_SECRET/, k);
  });

  it('calls /hub/api/ with its generated token, holding exactly its scopes; the token is stored hashed', async () => {
    assert.equal(first.whoami.status, 200);
    assert.equal(first.whoami.body?.kind, 'service');
    assert.equal(first.whoami.body?.name, 'minder');
    assert.ok(first.whoami.body?.scopes.includes('list:users'));
    assert.ok(!first.whoami.body?.scopes.includes('admin:users'));
    const rows = await t.hub.db.selectFrom('service_tokens').select(['hashed', 'kind']).execute();
    assert.deepEqual(rows.map((r) => r.kind), ['managed']);
    assert.equal(rows[0]!.hashed, first.api_token_sha256);
    const log = path.join(t.dataDir, 'services', 'minder.log');
    assert.ok(existsSync(log));
    assert.equal(statSync(log).mode & 0o077, 0);
  });

  it('the model shows command and pid to an admin', async () => {
    const m = (await t.api('GET', '/services/minder', { token: admin })).body as Record<string, unknown>;
    assert.deepEqual(m['command'], [process.execPath, FIXTURE]);
    assert.equal(m['pid'], first.pid);
    assert.equal(m['prefix'], '/services/minder/');
    assert.deepEqual(m['roles'], ['_service-minder']);
  });

  it('applying the same list again leaves it running (same pid)', async () => {
    await applyServices(t.hub, validateConfig({ services }).services);
    assert.equal(t.hub.managedServices.pidOf('minder'), first.pid);
    assert.equal(t.hub.managedServices.get('minder')?.starts, 1);
  });

  it('is restarted when it exits, with the same token', async () => {
    process.kill(first.pid, 'SIGKILL');
    const again = await describeService(t, 'minder', first.pid);
    assert.notEqual(again.pid, first.pid);
    assert.equal(again.whoami.status, 200);
    assert.equal(again.api_token_sha256, first.api_token_sha256);
    first = again;
  });

  it('a change of its environment restarts it; removing it stops it and removes its route and token', async () => {
    const changed = [{ ...services[0], environment: { STOP_MARK: stopMark, EXTRA: 'changed' } }];
    await applyServices(t.hub, validateConfig({ services: changed }).services);
    const again = await describeService(t, 'minder', first.pid);
    assert.equal(again.env['EXTRA'], 'changed');
    assert.ok(!alive(first.pid));
    await applyServices(t.hub, validateConfig({ services: [] }).services);
    assert.ok(!alive(again.pid));
    assert.equal(t.hub.managedServices.pidOf('minder'), 0);
    assert.equal((await t.hub.proxy.getAllRoutes()).get('/services/minder/'), undefined);
    assert.equal((await t.hub.db.selectFrom('service_tokens').select('id').execute()).length, 0);
    assert.equal((await t.api('GET', '/services/minder', { token: admin })).status, 404);
    // back for the last test
    await applyServices(t.hub, validateConfig({ services }).services);
    first = await describeService(t, 'minder');
  });

  it('is stopped (SIGTERM) when the hub stops', async () => {
    const before = existsSync(stopMark) ? readFileSync(stopMark, 'utf8') : '';
    await t.stop();
    assert.ok(!alive(first.pid), 'the process is gone');
    const after = readFileSync(stopMark, 'utf8');
    assert.ok(after.slice(before.length).includes(`stopped ${first.pid}`), 'it got SIGTERM');
  });
});

describe('a managed service left running by a hub killed with kill -9', () => {
  it('is stopped before the next hub starts its own', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-managed-left-'));
    const port = await freePort('127.0.0.1');
    mkdirSync(path.join(dataDir, 'services'), { mode: 0o700 });
    const left = spawn(process.execPath, [FIXTURE], { env: { ...process.env, JUPYTERHUB_SERVICE_URL: `http://127.0.0.1:${port}`, JUPYTERHUB_API_URL: 'http://127.0.0.1:9/hub/api' }, detached: true, stdio: 'ignore' });
    const exited = new Promise((r) => left.once('exit', r));
    writePidFile(path.join(dataDir, 'services', 'minder.pid'), left.pid!);
    const services = [{ name: 'minder', command: [process.execPath, FIXTURE], url: `http://127.0.0.1:${port}` }];
    const t = await startTestHub({ services }, { dataDir });
    try {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('the leftover was not stopped')), 15_000)))]);
      clearTimeout(timer);
      const now = await describeService(t, 'minder', left.pid!);
      assert.equal(now.whoami.status, 200, 'the new copy holds a token the hub accepts');
    } finally {
      await t.stop();
    }
  });
});
