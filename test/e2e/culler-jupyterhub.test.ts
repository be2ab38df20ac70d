/**
 * Ganymede's culler against Debian's JupyterHub 3.0: JupyterHub with
 * DummyAuthenticator, the simple local-process spawner running the trivial
 * test server, configurable-http-proxy from node_modules, and a service
 * `culler` whose role has only the scopes the culler needs. A server started
 * through the REST API is left idle; `ganymede cull --once` (run from the
 * sources) with a long timeout leaves it alone, and the culler with a 2 s
 * timeout stops it, through JupyterHub's REST API only.
 *
 * GANYMEDE_E2E_JUPYTERHUB names another jupyterhub command; GANYMEDE_E2E_KEEP=1
 * keeps the temporary directory (jupyterhub.log is there).
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TRIVIAL_SERVER } from '../helpers/hub.js';
import { findProcesses, freePorts, pidAlive, REPO, sleep, waitFor } from '../helpers/e2e.js';
import { cullOnce } from '../../src/services/culler/culler.js';
import { py, writeJupyterhubConfig } from '../../bench/lib/hubs.js';

const JUPYTERHUB = process.env['GANYMEDE_E2E_JUPYTERHUB'] ?? 'jupyterhub';
const CULLER_SCOPES = ['list:users', 'read:users:activity', 'read:servers', 'delete:servers'];

describe('e2e: Ganymede culler against JupyterHub 3.0', { timeout: 180_000 }, () => {
  let dir = '';
  let logFile = '';
  let hub: ChildProcess | undefined;
  let apiUrl = '';
  const adminToken = randomBytes(24).toString('hex');
  const cullerToken = randomBytes(24).toString('hex');
  const tail = () => {
    try {
      return `--- jupyterhub.log (tail)\n${readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n')}`;
    } catch {
      return '(no log)';
    }
  };
  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${apiUrl}${p}`, {
      method,
      headers: { Authorization: `token ${adminToken}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };
  const serverOf = async (user: string) => ((await api('GET', `/users/${user}`)).body?.['servers'] as Record<string, { ready: boolean }> | undefined)?.[''];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-e2e-cull-jh-'));
    logFile = path.join(dir, 'jupyterhub.log');
    const [port, hubPort, apiPort] = await freePorts(3);
    apiUrl = `http://127.0.0.1:${hubPort}/hub/api`;
    const configFile = writeJupyterhubConfig({
      dir,
      ports: { port, hubPort, apiPort },
      cmd: [process.execPath, TRIVIAL_SERVER],
      lines: [
        `c.JupyterHub.services = [{'name': 'setup', 'api_token': ${py(adminToken)}}, {'name': 'culler', 'api_token': ${py(cullerToken)}}]`,
        `c.JupyterHub.load_roles = [{'name': 'admin', 'services': ['setup']}, {'name': 'culler', 'scopes': [${CULLER_SCOPES.map(py).join(', ')}], 'services': ['culler']}]`,
      ],
    });
    const fd = openSync(logFile, 'a');
    hub = spawn(JUPYTERHUB, ['-f', configFile], { cwd: dir, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    await waitFor('JupyterHub to answer', async () => (await fetch(`${apiUrl}/`).catch(() => undefined))?.status === 200, { timeoutMs: 60_000, intervalMs: 200, detail: tail });
  });

  after(async () => {
    if (hub?.pid && pidAlive(hub.pid)) {
      hub.kill('SIGTERM');
      await waitFor('JupyterHub to exit', async () => !pidAlive(hub!.pid!), { timeoutMs: 20_000 }).catch(() => hub!.kill('SIGKILL'));
    }
    // anything still running in our directory (the proxy, a server) is ours: killed by pid
    for (const pid of findProcesses(() => true)) {
      try {
        const cwd = readlinkSync(`/proc/${pid}/cwd`);
        if (dir && (cwd === dir || cwd.startsWith(`${dir}/`))) process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (dir && process.env['GANYMEDE_E2E_KEEP'] !== '1') rmSync(dir, { recursive: true, force: true });
  });

  it('stops an idle server through the REST API, with only the culler scopes', async () => {
    assert.equal((await api('POST', '/users/alice')).status, 201, tail());
    const spawned = await api('POST', '/users/alice/server');
    assert.ok([201, 202].includes(spawned.status), `spawn: ${spawned.status} ${tail()}`);
    await waitFor("alice's server to be ready", async () => (await serverOf('alice'))?.ready === true, { timeoutMs: 60_000, detail: tail });

    // the command line, one round, timeout 1 h: nothing to do (JupyterHub 3.0's paginated list is read)
    const cli = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const code = `import(${py(path.join(REPO, 'src/cli/main.ts'))}).then((m) => m.main(process.argv.slice(1)))`;
      const tokenFile = path.join(dir, 'culler-token');
      writeFileSync(tokenFile, `${cullerToken}\n`, { mode: 0o600 });
      execFile(process.execPath, ['--import', 'tsx', '-e', code, 'cull', '--url', apiUrl, '--token-file', tokenFile, '--timeout', '3600', '--once'], { cwd: REPO, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout), { users: 1, stopped: [], deleted: [], errors: 0 });
    assert.equal((await serverOf('alice'))?.ready, true);

    // idle for more than 2 s (the trivial server reports no activity): culled
    await sleep(3000);
    const report = await cullOnce({ apiUrl, token: cullerToken }, { timeout: 2, max_age: 0, users: false, remove_named_servers: false, admin_users: true, concurrency: 10 });
    assert.deepEqual(report.stopped, ['alice/'], tail());
    assert.equal(report.errors, 0);
    await waitFor("alice's server to be stopped", async () => (await serverOf('alice')) === undefined, { timeoutMs: 30_000, detail: tail });
  });
});
