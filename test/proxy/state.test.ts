import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Upstream } from './helpers.js';
import { api, checkRoutesSurviveSigkill, publicUrl, startTestProxy, startUpstream } from './helpers.js';

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
    await checkRoutesSurviveSigkill({
      args: ['--ip', '127.0.0.1', '--port=0', '--api-ip=127.0.0.1', '--api-port', '0', '--state-file', stateFile, '--pid-file', pidFile],
      target: upstream.url,
      whileFirst: (first) => assert.equal(readFileSync(pidFile, 'utf8'), String(first.proc.pid)),
      persisted: async () => existsSync(stateFile) && readFileSync(stateFile, 'utf8').includes('/user/alice'),
    });
    assert.equal(existsSync(pidFile), false);
  });
});
