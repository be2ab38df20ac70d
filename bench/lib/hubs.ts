/**
 * Launching the two hubs under test, each in its own temporary directory, on
 * free ports of 127.0.0.1:
 *
 * - Ganymede from this checkout's build (`node bin/ganymede.js serve`), with its
 *   own proxy (`ganymede proxy`, started detached by the hub and reused across
 *   hub restarts);
 * - JupyterHub 3.0 (Debian's `/usr/bin/jupyterhub`) with DummyAuthenticator,
 *   SimpleLocalProcessSpawner (runs servers as the hub's user, as Ganymede's
 *   local-process spawner does with `run_as: hub`) and configurable-http-proxy from node_modules.
 *
 * Both get an admin *user* API token (`api`); JupyterHub also has an admin
 * service token (`serviceApi`), which it serves about half as fast.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { HubApi, freePorts, waitAnswer } from './http.js';
import { MARK, RUN_ID, alive, killPids, markedEnv, sleep, startProcess, stopProcess } from './procs.js';
import { within } from './report.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const GANYMEDE_BIN = path.join(ROOT, 'bin', 'ganymede.js');
export const TRIVIAL_SERVER = path.join(ROOT, 'test', 'fixtures', 'trivial-server.mjs');
export const CHP_BIN = path.join(ROOT, 'node_modules', '.bin', 'configurable-http-proxy');
export const JUPYTERHUB_BIN = process.env['BENCH_JUPYTERHUB'] ?? '/usr/bin/jupyterhub';
export const SINGLEUSER_BIN = process.env['BENCH_SINGLEUSER'] ?? '/usr/bin/jupyterhub-singleuser';

const run = promisify(execFile);

export type HubKind = 'ganymede' | 'jupyterhub';
export const LABEL: Record<HubKind, string> = { ganymede: 'Ganymede', jupyterhub: 'JupyterHub 3.0' };

export interface HubOptions {
  /** The single-user server command (default: jupyterhub-singleuser). */
  serverCmd?: string[];
  concurrentSpawnLimit?: number;
  /** Extra node flags for the Ganymede hub process (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Keep the temporary directory (logs) after stop. */
  keepDir?: boolean;
  /** Ganymede only: the `spawner:` section instead of the local-process one (`serverCmd` is then unused). */
  spawner?: Record<string, unknown>;
  /** Ganymede only: more top-level config keys (e.g. `poll_interval`, `allow_named_servers`); they win over the defaults. */
  extraConfig?: Record<string, unknown>;
}

/** A Ganymede hub whose config can be rewritten between two starts (same data directory). */
export interface GanymedeBenchHub extends BenchHub {
  /** Rewrites the config file with another `spawner` and/or `extraConfig`; the next start() uses it. */
  reconfigure(change: Pick<HubOptions, 'spawner' | 'extraConfig'>): void;
}

export interface BenchHub {
  kind: HubKind;
  label: string;
  dir: string;
  hubUrl: string;
  logFile: string;
  /** Admin user token. */
  api: HubApi;
  child: ChildProcess | undefined;
  /** Starts the hub process; resolves ms from exec until GET /hub/api/ answers 200. */
  start(): Promise<number>;
  /** Stops the hub process (SIGTERM). Ganymede's proxy and servers keep running by design. */
  stop(): Promise<void>;
  /** Pid of the hub's proxy, when running. */
  proxyPid(): number | undefined;
  /** Stops the proxy (Ganymede's outlives the hub; JupyterHub stops its own). */
  killProxy(): Promise<void>;
  /** Stops every server, the hub and the proxy, and removes the directory. */
  dispose(): Promise<void>;
}

/** Fails early, with a hint, when the build is missing or older than src/. */
export function checkBuild(): string | undefined {
  const main = path.join(ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(main)) throw new Error('dist/ is missing: run `npm run build` first (or pass --build)');
  const built = statSync(main).mtimeMs;
  const newer = newestMtime(path.join(ROOT, 'src'));
  return newer > built + 1000 ? 'dist/ is older than src/: the figures are for the last build (pass --build to rebuild)' : undefined;
}

function newestMtime(dir: string): number {
  let max = 0;
  for (const entry of readdirSafe(dir)) {
    const p = path.join(dir, entry);
    const st = statSync(p);
    max = Math.max(max, st.isDirectory() ? newestMtime(p) : st.mtimeMs);
  }
  return max;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function tmpDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

async function waitGone(pid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await sleep(20);
}

/** Stops every running server of a hub through its API (best effort, bounded). */
async function stopAllServers(api: HubApi): Promise<void> {
  let users: unknown;
  try {
    const r = await api.call('GET', '/users?state=active&limit=200', undefined, 10_000);
    users = r.body;
  } catch {
    return;
  }
  if (!Array.isArray(users)) return;
  const names = users.map((u) => (u as { name: string }).name);
  await Promise.all(names.map((n) => api.call('DELETE', `/users/${encodeURIComponent(n)}/server`, undefined, 15_000).catch(() => undefined)));
}

// ---------------------------------------------------------------- Ganymede

export async function createGanymede(opts: HubOptions = {}): Promise<GanymedeBenchHub> {
  const dir = tmpDir('ganymede-bench');
  const dataDir = path.join(dir, 'data');
  const [port, hubPort, apiPort] = await freePorts(3);
  const configFile = path.join(dir, 'ganymede.yaml');
  const configFor = (o: HubOptions) => ({
    ip: '127.0.0.1',
    port,
    data_dir: dataDir,
    log_level: 'info',
    hub: { ip: '127.0.0.1', port: hubPort },
    proxy: { api_url: `http://127.0.0.1:${apiPort}` },
    auth: { kind: 'shared-password', shared_password: randomBytes(12).toString('hex') },
    // As JupyterHub's SimpleLocalProcessSpawner below: servers run as the hub's own account.
    spawner: o.spawner ?? { kind: 'local-process', cmd: o.serverCmd ?? [SINGLEUSER_BIN], run_as: 'hub' },
    environment: { [MARK]: RUN_ID },
    concurrent_spawn_limit: o.concurrentSpawnLimit ?? 100,
    ...o.extraConfig,
  });
  // JSON is YAML
  const writeConfig = (o: HubOptions) => writeFileSync(configFile, `${JSON.stringify(configFor(o), null, 2)}\n`);
  writeConfig(opts);
  const { stdout } = await run(process.execPath, [GANYMEDE_BIN, 'token', 'bench-admin', '--admin', '--config', configFile], {
    cwd: dir,
    env: markedEnv(),
    timeout: 60_000,
  });
  const token = stdout.trim();
  const hubUrl = `http://127.0.0.1:${hubPort}`;
  const logFile = path.join(dir, 'hub.log');
  const pidFile = path.join(dataDir, 'proxy.pid');
  const hub: GanymedeBenchHub = {
    kind: 'ganymede',
    label: LABEL.ganymede,
    dir,
    hubUrl,
    logFile,
    api: new HubApi(hubUrl, token),
    child: undefined,
    async start() {
      const t0 = performance.now();
      // the node flag that bin/ganymede.js's shebang gives when run as `ganymede serve`
      const child = await startProcess(process.execPath, ['--max-semi-space-size=1', ...(opts.nodeArgs ?? []), GANYMEDE_BIN, 'serve', '--config', configFile], { cwd: dir, logFile });
      hub.child = child;
      return waitAnswer(`${hubUrl}/hub/api/`, { t0, intervalMs: 5, timeoutMs: 60_000, ok: (s) => s === 200, alive: () => child.exitCode === null });
    },
    async stop() {
      if (hub.child) await stopProcess(hub.child);
      hub.child = undefined;
    },
    reconfigure: (change) => writeConfig({ ...opts, ...change }),
    proxyPid: () => livePidFrom(pidFile),
    killProxy: () => killPidFrom(pidFile),
    async dispose() {
      if (hub.child) await stopAllServers(hub.api);
      await hub.stop();
      await hub.killProxy();
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return hub;
}

// ---------------------------------------------------------------- JupyterHub 3.0

/** A Python string literal (JSON's quoting is valid Python). */
export const py = (s: string) => JSON.stringify(s);

export interface JupyterhubConfig {
  /** The hub's directory: config, database, cookie secret, pid files, and `home/` (made here) for the servers. */
  dir: string;
  /** The public port, the hub's own port (its API) and the proxy's API port, all on 127.0.0.1. */
  ports: { port: number; hubPort: number; apiPort: number };
  /** The single-user server command. */
  cmd: string[];
  /** Lines right after `c.Spawner.cmd` (more `c.Spawner.*`). */
  spawnerLines?: string[];
  /** Lines at the end (services, roles, limits). */
  lines?: string[];
}

/**
 * Writes `dir`/jupyterhub_config.py for Debian's JupyterHub 3.0 with
 * DummyAuthenticator, SimpleLocalProcessSpawner and configurable-http-proxy
 * from node_modules, everything on 127.0.0.1 and every file in `dir`
 * (the proxy's pid file is `dir`/proxy.pid). Returns the config file's path.
 * Used by the benchmarks and by test/e2e/culler-jupyterhub.test.ts.
 */
export function writeJupyterhubConfig(c: JupyterhubConfig): string {
  const { dir } = c;
  const { port, hubPort, apiPort } = c.ports;
  const configFile = path.join(dir, 'jupyterhub_config.py');
  mkdirSync(path.join(dir, 'home'));
  writeFileSync(
    configFile,
    [
      '# written by bench/lib/hubs.ts',
      'c = get_config()  # noqa',
      "c.JupyterHub.authenticator_class = 'dummy'",
      "c.JupyterHub.spawner_class = 'simple'",
      `c.SimpleLocalProcessSpawner.home_dir_template = ${py(path.join(dir, 'home', '{username}'))}`,
      `c.Spawner.cmd = [${c.cmd.map(py).join(', ')}]`,
      ...(c.spawnerLines ?? []),
      "c.JupyterHub.ip = '127.0.0.1'",
      `c.JupyterHub.port = ${port}`,
      "c.JupyterHub.hub_ip = '127.0.0.1'",
      `c.JupyterHub.hub_port = ${hubPort}`,
      `c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:${apiPort}'`,
      `c.ConfigurableHTTPProxy.command = [${py(CHP_BIN)}]`,
      `c.ConfigurableHTTPProxy.pid_file = ${py(path.join(dir, 'proxy.pid'))}`,
      `c.JupyterHub.db_url = ${py(`sqlite:///${path.join(dir, 'jupyterhub.sqlite')}`)}`,
      `c.JupyterHub.cookie_secret_file = ${py(path.join(dir, 'jupyterhub_cookie_secret'))}`,
      `c.JupyterHub.pid_file = ${py(path.join(dir, 'jupyterhub.pid'))}`,
      ...(c.lines ?? []),
      '',
    ].join('\n'),
  );
  return configFile;
}

export async function createJupyterHub(opts: HubOptions = {}): Promise<BenchHub & { serviceApi: HubApi }> {
  const dir = tmpDir('jupyterhub-bench');
  const [port, hubPort, apiPort] = await freePorts(3);
  const serviceToken = randomBytes(16).toString('hex');
  const pidFile = path.join(dir, 'proxy.pid');
  const configFile = writeJupyterhubConfig({
    dir,
    ports: { port, hubPort, apiPort },
    cmd: opts.serverCmd ?? [SINGLEUSER_BIN],
    spawnerLines: ["c.Spawner.args = ['--allow-root']", `c.Spawner.environment = {${py(MARK)}: ${py(RUN_ID)}}`],
    lines: [
      `c.JupyterHub.concurrent_spawn_limit = ${opts.concurrentSpawnLimit ?? 100}`,
      `c.JupyterHub.services = [{'name': 'bench', 'api_token': ${py(serviceToken)}}]`,
      "c.JupyterHub.load_roles = [{'name': 'admin', 'services': ['bench']}]",
    ],
  });
  const hubUrl = `http://127.0.0.1:${hubPort}`;
  const logFile = path.join(dir, 'hub.log');
  const serviceApi = new HubApi(hubUrl, serviceToken);
  const api = new HubApi(hubUrl, '');
  const hub: BenchHub & { serviceApi: HubApi } = {
    kind: 'jupyterhub',
    label: LABEL.jupyterhub,
    dir,
    hubUrl,
    logFile,
    api,
    serviceApi,
    child: undefined,
    async start() {
      const t0 = performance.now();
      const child = await startProcess(JUPYTERHUB_BIN, ['-f', configFile], { cwd: dir, logFile });
      hub.child = child;
      const ms = await waitAnswer(`${hubUrl}/hub/api/`, { t0, intervalMs: 5, timeoutMs: 180_000, ok: (s) => s === 200, alive: () => child.exitCode === null });
      if (!api.token) {
        // an admin user and its API token, made once with the service token
        await serviceApi.must('POST', '/users', { usernames: ['bench-admin'], admin: true }, [201, 409]);
        const t = (await serviceApi.must('POST', '/users/bench-admin/tokens', { note: 'bench' }, [200, 201])) as { token: string };
        api.token = t.token;
      }
      return ms;
    },
    async stop() {
      if (hub.child) await stopProcess(hub.child, 30_000);
      hub.child = undefined;
    },
    proxyPid: () => livePidFrom(pidFile),
    killProxy: () => killPidFrom(pidFile),
    async dispose() {
      if (hub.child && api.token) await stopAllServers(api);
      await hub.stop();
      await hub.killProxy();
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return hub;
}

/** The live process whose pid is in `pidFile`, if any. */
function livePidFrom(pidFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    return pid && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Kills the process whose pid is in `pidFile` and waits (bounded) until it is gone. */
async function killPidFrom(pidFile: string): Promise<void> {
  const pid = livePidFrom(pidFile);
  if (pid) {
    await killPids([pid]);
    await waitGone(pid, 5000);
  }
}

export function createHub(kind: HubKind, opts: HubOptions = {}): Promise<BenchHub> {
  return kind === 'ganymede' ? createGanymede(opts) : createJupyterHub(opts);
}

/**
 * Runs `measure` on Ganymede, then on JupyterHub 3.0 (one after the other),
 * each given `ms` before it fails with "`bench` benchmark on <hub> did not finish".
 */
export async function eachHub<T>(bench: string, ms: number, measure: (kind: HubKind) => Promise<T>): Promise<Record<HubKind, T>> {
  const ganymede = await within(ms, `${bench} benchmark on ${LABEL.ganymede}`, measure('ganymede'));
  const jupyterhub = await within(ms, `${bench} benchmark on ${LABEL.jupyterhub}`, measure('jupyterhub'));
  return { ganymede, jupyterhub };
}

/** VmRSS of a process from /proc, in MB (MiB). */
export function rssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** `jupyterhub --version`, or a note that it is missing. */
export async function jupyterhubVersion(): Promise<string> {
  try {
    const { stdout } = await run(JUPYTERHUB_BIN, ['--version'], { timeout: 30_000 });
    return stdout.trim();
  } catch (err) {
    return `unavailable (${(err as Error).message.split('\n')[0]})`;
  }
}
