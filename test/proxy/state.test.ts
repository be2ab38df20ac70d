import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Upstream } from './helpers.js';
import { api, publicUrl, startTestProxy, startUpstream, waitFor } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src/proxy/builtin/main.ts');

interface Child {
  proc: ChildProcess;
  publicPort: number;
  apiPort: number;
  exited: Promise<number | null>;
}

/** Runs the proxy CLI in a child process and waits for its "proxy listening" log line. */
async function spawnProxy(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: proc.stdout! });
  const ports = await new Promise<{ publicPort: number; apiPort: number }>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`proxy exited early with ${code}`)));
    lines.on('line', (line) => {
      const rec = JSON.parse(line) as { msg?: string; publicPort?: number; apiPort?: number };
      if (rec.msg === 'proxy listening' && rec.publicPort !== undefined && rec.apiPort !== undefined) {
        resolve({ publicPort: rec.publicPort, apiPort: rec.apiPort });
      }
    });
  });
  return { proc, exited, ...ports };
}

describe('state file', () => {
  let dir: string;
  let upstream: Upstream;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ganymede-proxy-'));
    upstream = await startUpstream('alice');
  });
  after(async () => {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('survives a restart in the same process', async () => {
    const stateFile = join(dir, 'routes.json');
    const first = await startTestProxy({ stateFile });
    await api(first, 'POST', '/api/routes/user/alice', { body: { target: upstream.url, user: 'alice', jupyterhub: true } });
    await api(first, 'POST', '/api/routes/user/gone', { body: { target: upstream.url } });
    await api(first, 'DELETE', '/api/routes/user/gone');
    await first.close();

    const second = await startTestProxy({ stateFile });
    try {
      const res = await fetch(publicUrl(second, '/user/alice/tree'));
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { name: string }).name, 'alice');
      const routes = (await api(second, 'GET', '/api/routes')).json() as Record<string, Record<string, unknown>>;
      assert.deepEqual(Object.keys(routes), ['/user/alice']);
      assert.equal(routes['/user/alice']?.['user'], 'alice');
      assert.equal(routes['/user/alice']?.['jupyterhub'], true);
    } finally {
      await second.close();
    }
  });

  it('starts empty from a corrupt state file', async () => {
    const stateFile = join(dir, 'corrupt.json');
    writeFileSync(stateFile, '{"version": 1, "routes": {');
    const proxy = await startTestProxy({ stateFile });
    try {
      assert.equal(proxy.table.size, 0);
    } finally {
      await proxy.close();
    }
  });

  it('survives SIGKILL of the proxy process, and SIGTERM exits 0 and removes the pid file', async () => {
    const stateFile = join(dir, 'killed.json');
    const pidFile = join(dir, 'proxy.pid');
    const token = 'tok-' + String(Math.random()).slice(2);
    const args = ['--ip', '127.0.0.1', '--port=0', '--api-ip=127.0.0.1', '--api-port', '0', '--state-file', stateFile, '--pid-file', pidFile];
    const first = await spawnProxy(args, { CONFIGPROXY_AUTH_TOKEN: token });
    try {
      assert.equal(readFileSync(pidFile, 'utf8'), String(first.proc.pid));
      const res = await fetch(`http://127.0.0.1:${first.apiPort}/api/routes/user/alice`, {
        method: 'POST',
        headers: { Authorization: `token ${token}` },
        body: JSON.stringify({ target: upstream.url }),
      });
      assert.equal(res.status, 201);
      // The write is debounced (~50 ms): wait until it is on disk, then kill hard.
      await waitFor(async () => existsSync(stateFile) && readFileSync(stateFile, 'utf8').includes('/user/alice'), 5000, 'state file');
    } finally {
      first.proc.kill('SIGKILL');
      await first.exited;
    }

    const second = await spawnProxy(args, { CONFIGPROXY_AUTH_TOKEN: token });
    try {
      const res = await fetch(`http://127.0.0.1:${second.publicPort}/user/alice/lab`);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { url: string }).url, '/user/alice/lab');
    } finally {
      second.proc.kill('SIGTERM');
      assert.equal(await second.exited, 0);
    }
    assert.equal(existsSync(pidFile), false);
  });
});
