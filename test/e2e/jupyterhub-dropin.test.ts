/**
 * Ganymede's proxy as a drop-in for configurable-http-proxy under Debian's
 * JupyterHub 3.0: `c.ConfigurableHTTPProxy.command` runs
 * `bin/ganymede-proxy.js`, the documented drop-in command, through its own
 * shebang and node flags (JupyterHub passes CHP's flags and the
 * CONFIGPROXY_AUTH_TOKEN environment variable). Through the proxy's public
 * port, a browser-like client logs in (DummyAuthenticator), spawns a server,
 * follows the OAuth redirects into /user/<name>/, creates a kernel, runs 1+1
 * over the kernel websocket, and the server is stopped with the hub's REST
 * API; the proxy's route must then be gone.
 *
 * Run twice: plain, and with `c.JupyterHub.internal_ssl = True`, where
 * JupyterHub passes `--api-ssl-*` and `--client-ssl-*` and the hub and the
 * single-user server speak HTTPS with certificates from its own CA.
 *
 * Needs `npm run build` first (the proxy runs from dist/ganymede-proxy.mjs).
 * GANYMEDE_E2E_KEEP=1 keeps the temporary directory (jupyterhub.log is there).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { Browser, createKernel, deleteKernel, executeOverWebsocket, findProcesses, freePorts, parseForm, pidAlive, REPO, sleep, stepper, waitFor } from '../helpers/e2e.js';

const JUPYTERHUB = process.env['GANYMEDE_E2E_JUPYTERHUB'] ?? 'jupyterhub';
/** The drop-in command, run through its shebang (`node` from PATH, with the proxy's node flags). */
const PROXY_BIN = path.join(REPO, 'bin', 'ganymede-proxy.js');
const USER = 'alice';
const PASSWORD = 'dropin-password';

/** A Python string literal. */
const py = (s: string) => JSON.stringify(s);

function tail(file: string, lines = 60): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The drop-in suite; `internalSsl` turns on JupyterHub's `internal_ssl`. */
function dropIn(internalSsl: boolean): void {
  describe(`e2e: JupyterHub 3.0 with Ganymede proxy as its configurable-http-proxy${internalSsl ? ', internal_ssl' : ''}`, { timeout: 180_000 }, () => {
    let dir = '';
    let logFile = '';
    let hub: ChildProcess | undefined;
    let publicUrl = '';
    let proxyApi = '';
    const proxyToken = randomBytes(24).toString('hex');
    const apiToken = randomBytes(24).toString('hex');

    /** Pids of processes running in our temp dir (JupyterHub, its proxy, the user's server and kernel all do). */
    const ours = (): number[] => {
      if (!dir) return [];
      return findProcesses(() => true).filter((pid) => {
        try {
          const cwd = readlinkSync(`/proc/${pid}/cwd`);
          return cwd === dir || cwd.startsWith(`${dir}/`);
        } catch {
          return false;
        }
      });
    };

    const detail = () => `--- jupyterhub.log (tail)\n${tail(logFile)}`;

    /** With internal_ssl: the hub's own client certificate and CA, to call the proxy's API as the hub does. */
    let apiAgent: Agent | undefined;

    async function proxyRoutes(): Promise<Record<string, unknown>> {
      const res = await request(`${proxyApi}/api/routes`, { headers: { Authorization: `token ${proxyToken}` }, headersTimeout: 5000, bodyTimeout: 5000, ...(apiAgent ? { dispatcher: apiAgent } : {}) });
      assert.equal(res.statusCode, 200, `GET ${proxyApi}/api/routes: ${res.statusCode}`);
      return (await res.body.json()) as Record<string, unknown>;
    }

    async function hubApi(method: string, p: string): Promise<{ status: number; json: unknown }> {
      const res = await fetch(`${publicUrl}/hub/api${p}`, { method, headers: { Authorization: `token ${apiToken}` }, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = text;
      }
      return { status: res.status, json };
    }

    before(async () => {
      const bundle = path.join(REPO, 'dist', 'ganymede-proxy.mjs');
      if (!existsSync(bundle)) throw new Error(`This test runs the built proxy, and ${bundle} is missing: run \`npm run build\` first.`);
      dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-e2e-dropin-'));
      logFile = path.join(dir, 'jupyterhub.log');
      const [port, hubPort, apiPort] = (await freePorts(3)) as [number, number, number];
      publicUrl = `http://127.0.0.1:${port}`;
      proxyApi = `${internalSsl ? 'https' : 'http'}://127.0.0.1:${apiPort}`;
      const certs = path.join(dir, 'internal-ssl');
      const root = process.getuid?.() === 0;
      const config = [
        `c.JupyterHub.ip = '127.0.0.1'`,
        `c.JupyterHub.port = ${port}`,
        `c.JupyterHub.hub_ip = '127.0.0.1'`,
        `c.JupyterHub.hub_port = ${hubPort}`,
        `c.ConfigurableHTTPProxy.api_url = ${py(proxyApi)}`,
        ...(internalSsl ? [`c.JupyterHub.internal_ssl = True`, `c.JupyterHub.internal_certs_location = ${py(certs)}`] : []),
        `c.ConfigurableHTTPProxy.command = [${py(PROXY_BIN)}]`,
        `c.ConfigurableHTTPProxy.debug = True`,
        `c.JupyterHub.authenticator_class = 'dummy'`,
        `c.DummyAuthenticator.password = ${py(PASSWORD)}`,
        // users need not exist on the system; their home is in the temp dir
        `c.JupyterHub.spawner_class = 'simple'`,
        `c.SimpleLocalProcessSpawner.home_dir_template = ${py(path.join(dir, 'home', '{username}'))}`,
        `c.Spawner.cmd = ['jupyterhub-singleuser']`,
        ...(root ? [`c.Spawner.args = ['--allow-root']`] : []),
        `c.Spawner.environment = {'JUPYTER_RUNTIME_DIR': ${py(path.join(dir, 'jupyter-runtime'))}, 'IPYTHONDIR': ${py(path.join(dir, 'ipython'))}}`,
        `c.Spawner.start_timeout = 60`,
        `c.Spawner.http_timeout = 60`,
        `c.JupyterHub.db_url = ${py(`sqlite:///${path.join(dir, 'jupyterhub.sqlite')}`)}`,
        `c.JupyterHub.cookie_secret_file = ${py(path.join(dir, 'jupyterhub_cookie_secret'))}`,
        `c.JupyterHub.pid_file = ${py(path.join(dir, 'jupyterhub.pid'))}`,
        `c.JupyterHub.cleanup_servers = True`,
        `c.JupyterHub.cleanup_proxy = True`,
        `c.JupyterHub.services = [{'name': 'e2e', 'api_token': ${py(apiToken)}}]`,
        `c.JupyterHub.load_roles = [{'name': 'e2e-admin', 'scopes': ['admin:users', 'admin:servers'], 'services': ['e2e']}]`,
        '',
      ].join('\n');
      writeFileSync(path.join(dir, 'jupyterhub_config.py'), config);
      const env: NodeJS.ProcessEnv = { ...process.env, CONFIGPROXY_AUTH_TOKEN: proxyToken };
      delete env['JPY_COOKIE_SECRET'];
      const fd = openSync(logFile, 'a');
      try {
        hub = spawn(JUPYTERHUB, ['-f', path.join(dir, 'jupyterhub_config.py')], { cwd: dir, env, stdio: ['ignore', fd, fd] });
      } finally {
        closeSync(fd);
      }
      const exited = new Promise<string>((resolve) => hub!.once('exit', (code, sig) => resolve(`jupyterhub exited (${code ?? sig ?? '?'})`)));
      let gone = '';
      void exited.then((why) => (gone = why));
      await waitFor(
        'JupyterHub to answer through the proxy',
        async () => {
          if (gone) throw new Error(gone);
          const res = await fetch(`${publicUrl}/hub/api/`, { signal: AbortSignal.timeout(2000) });
          await res.body?.cancel();
          return res.status === 200;
        },
        { timeoutMs: 60_000, intervalMs: 200, detail },
      );
      if (internalSsl) {
        const file = (name: string) => readFileSync(path.join(certs, name));
        apiAgent = new Agent({ connect: { ca: file('hub-ca_trust.crt'), cert: file('hub-internal/hub-internal.crt'), key: file('hub-internal/hub-internal.key') } });
      }
    });

    after(async () => {
      await apiAgent?.close();
      if (hub?.pid !== undefined && pidAlive(hub.pid)) {
        hub.kill('SIGTERM');
        await waitFor('JupyterHub to exit on SIGTERM', async () => !pidAlive(hub!.pid!), { timeoutMs: 20_000 }).catch(() => hub!.kill('SIGKILL'));
      }
      // JupyterHub stops its proxy and (cleanup_servers) the servers; anything left is a failure, killed by pid.
      let left: number[] = [];
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (left = ours()).length) await sleep(100);
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      if (dir && process.env['GANYMEDE_E2E_KEEP'] !== '1') rmSync(dir, { recursive: true, force: true });
      else if (dir) process.stderr.write(`kept ${dir}\n`);
      assert.deepEqual(left, [], `processes left running after JupyterHub's SIGTERM: ${left.join(' ')}`);
    });

    it('logs in, spawns, OAuths into the server, runs a kernel over the websocket, stops', async (t) => {
      const step = stepper(t);
      const browser = new Browser(publicUrl);
      let kernelId = '';

      await step('the proxy is Ganymede and serves the routes JupyterHub added', async () => {
        const routes = await proxyRoutes();
        assert.ok('/' in routes, `JupyterHub added its default route: ${JSON.stringify(routes)}`);
        const proxies = findProcesses((argv) => argv.includes(PROXY_BIN)).filter((pid) => ours().includes(pid));
        assert.equal(proxies.length, 1, `JupyterHub started one Ganymede proxy: ${proxies.join(' ')}`);
      });

      await step("logs in with JupyterHub 3.0's form, through the proxy", async () => {
        const page = await browser.navigate('/hub/login');
        assert.equal(page.status, 200, `GET /hub/login: ${page.status}`);
        const form = parseForm(page.text);
        const body = new URLSearchParams({ ...form.fields, username: USER, password: PASSWORD }).toString();
        const res = await browser.request(form.action ?? '/hub/login', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
        await res.body?.cancel();
        assert.equal(res.status, 302, `POST /hub/login answered ${res.status}`);
        assert.ok(browser.jar.get('jupyterhub-hub-login', browser.url('/hub/home')), `the login set jupyterhub-hub-login (jar: ${browser.jar.names().join(', ')})`);
        const home = await browser.navigate('/hub/home');
        assert.equal(home.status, 200);
        assert.equal(new URL(home.url).pathname, '/hub/home');
      });

      await step('spawns the server and waits until it is ready', async () => {
        const res = await browser.request('/hub/spawn');
        await res.body?.cancel();
        assert.equal(res.status, 302, `GET /hub/spawn answered ${res.status}`);
        await waitFor(
          `the server of ${USER} to be ready`,
          async () => {
            const r = await hubApi('GET', `/users/${USER}`);
            assert.equal(r.status, 200, `GET /hub/api/users/${USER}: ${r.status} ${JSON.stringify(r.json)}`);
            const server = (r.json as { servers?: Record<string, { ready?: boolean }> }).servers?.[''];
            return server?.ready === true;
          },
          { timeoutMs: 60_000, intervalMs: 250, detail },
        );
        const routes = await proxyRoutes();
        assert.ok(Object.keys(routes).some((k) => k.replace(/\/$/, '') === `/user/${USER}`), `the proxy routes /user/${USER}: ${JSON.stringify(routes)}`);
      });

      await step(`follows the OAuth redirects into /user/${USER}/`, async () => {
        const page = await browser.navigate(`/user/${USER}/`);
        const paths = page.chain.map((u) => new URL(u).pathname);
        assert.ok(paths.includes('/hub/api/oauth2/authorize'), `went through the hub's authorize endpoint: ${page.chain.join(' -> ')}`);
        assert.ok(paths.includes(`/user/${USER}/oauth_callback`), `came back to the server's oauth_callback: ${page.chain.join(' -> ')}`);
        assert.equal(page.status, 200, `landing page ${page.url}: ${page.status}\n${page.text.slice(0, 300)}`);
        assert.ok(new URL(page.url).pathname.startsWith(`/user/${USER}/`), `landed at ${page.url}`);
        assert.ok(browser.jar.get(`jupyterhub-user-${USER}`, browser.url(`/user/${USER}/`)), 'the server set its OAuth cookie');
      });

      await step('creates a kernel over the REST API and runs 1+1 over its websocket, through the proxy', async () => {
        kernelId = await createKernel(browser, USER);
        const result = await executeOverWebsocket(browser, USER, kernelId, '1+1');
        assert.equal(result, '2');
        await deleteKernel(browser, USER, kernelId);
      });

      await step("stops the server with JupyterHub's API: the proxy's route is gone", async () => {
        const r = await hubApi('DELETE', `/users/${USER}/server`);
        assert.ok(r.status === 204 || r.status === 202, `DELETE /hub/api/users/${USER}/server: ${r.status} ${JSON.stringify(r.json)}`);
        await waitFor(
          `the server of ${USER} to stop`,
          async () => {
            const u = await hubApi('GET', `/users/${USER}`);
            return Object.keys((u.json as { servers?: Record<string, unknown> }).servers ?? {}).length === 0;
          },
          { timeoutMs: 30_000, intervalMs: 250, detail },
        );
        const routes = await proxyRoutes();
        assert.ok(!Object.keys(routes).some((k) => k.startsWith(`/user/${USER}`)), `no /user/${USER} route is left: ${JSON.stringify(routes)}`);
        assert.ok('/' in routes, 'the default route stays');
        await waitFor(
          'the single-user server and its kernel to exit',
          async () => ours().every((pid) => pid === hub?.pid || findProcesses((argv) => argv.includes(PROXY_BIN)).includes(pid)),
          { timeoutMs: 15_000, detail: () => `left: ${ours().join(' ')}` },
        );
      });
    });
  });
}

dropIn(false);
dropIn(true);
