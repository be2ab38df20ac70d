/**
 * End-to-end fixtures: the built `ganymede serve` as a real process, with its
 * real proxy (built-in or the npm configurable-http-proxy) and the real
 * `jupyterhub-singleuser`; a browser-like HTTP client with a cookie jar; and
 * the steps of the single-user flow (login, spawn, OAuth into the server, a
 * kernel running 1+1, stop) shared by the e2e tests.
 *
 * Needs `npm run build` first (the hub runs from dist/).
 *
 * Set GANYMEDE_E2E_KEEP=1 to keep the data dirs (hub.log, proxy.log and the
 * server logs are there) instead of removing them.
 *
 * As root (CI), servers run as what a site uses: system accounts the hub creates
 * (`spawner.create_system_users`), throw-away ones with a unique prefix per hub,
 * removed with `userdel -r` at teardown. Otherwise they run as the test's own
 * account (`run_as: hub`), with a notice.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { WebSocket, type RawData } from 'ws';
import YAML from 'yaml';
import { freePort } from '../../src/lib/free-port.js';
import { isZombie, startTicks } from '../../src/lib/proc-stat.js';

const execFileP = promisify(execFile);

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const GANYMEDE_BIN = path.join(REPO, 'bin', 'ganymede.js');
export const CHP_BIN = path.join(REPO, 'node_modules', '.bin', 'configurable-http-proxy');
export const SINGLEUSER = process.env['GANYMEDE_E2E_SINGLEUSER'] ?? 'jupyterhub-singleuser';
export const PASSWORD = 'e2e-shared-password';

// ---------------------------------------------------------------- utilities

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Thrown by a `waitFor` check to stop waiting at once (the awaited thing can no longer happen). */
export class GiveUp extends Error {}

/** Polls `check` until it returns a value other than undefined/false; fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, opts: { timeoutMs: number; intervalMs?: number; detail?: () => string }): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = undefined;
    } catch (err) {
      if (err instanceof GiveUp) throw new Error(`gave up waiting for ${what}: ${err.message}${opts.detail ? `\n${opts.detail()}` : ''}`, { cause: err });
      last = err;
    }
    await sleep(opts.intervalMs ?? 100);
  }
  const lastText = last instanceof Error ? ` (last error: ${last.message})` : '';
  throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${lastText}${opts.detail ? `\n${opts.detail()}` : ''}`);
}

/** `n` distinct free ports on 127.0.0.1 (src/lib/free-port.ts: none handed out again for minutes). */
export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await freePort('127.0.0.1'));
  return ports;
}

/** Fails with a clear message when the hub has not been built; warns when dist/ is older than src/. */
export function requireBuiltHub(): void {
  const entry = path.join(REPO, 'dist', 'cli', 'main.js');
  if (!existsSync(entry)) {
    throw new Error(`The e2e tests run the built hub, and ${entry} is missing: run \`npm run build\` first.`);
  }
  const built = statSync(entry).mtimeMs;
  const newest = newestMtime(path.join(REPO, 'src'));
  if (newest > built) {
    process.stderr.write(`warning: src/ has changes newer than dist/ (${new Date(newest).toISOString()} > ${new Date(built).toISOString()}); the e2e tests run dist/: run \`npm run build\`\n`);
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

// ---------------------------------------------------------------- processes

/** True when `pid` exists and is not a zombie (orphans here may be reparented to an init that does not reap). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** Pids of live processes whose command line satisfies `match`. */
export function findProcesses(match: (argv: string[]) => boolean): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const argv = cmdline(pid);
    if (argv.length && match(argv) && pidAlive(pid)) out.push(pid);
  }
  return out;
}

/** Sends SIGTERM to `target` (a pid, or a process group when `group`), then SIGKILL if `pid` still lives after `graceMs`. */
async function terminate(pid: number, opts: { group?: boolean; graceMs?: number } = {}): Promise<void> {
  const send = (signal: NodeJS.Signals) => {
    try {
      process.kill(opts.group ? -pid : pid, signal);
    } catch {
      // gone already
    }
  };
  if (!pidAlive(pid)) {
    if (opts.group) send('SIGKILL'); // stray members of the group
    return;
  }
  send('SIGTERM');
  const deadline = Date.now() + (opts.graceMs ?? 5000);
  while (Date.now() < deadline && pidAlive(pid)) await sleep(50);
  send('SIGKILL');
  const hard = Date.now() + 2000;
  while (Date.now() < hard && pidAlive(pid)) await sleep(50);
}

// ---------------------------------------------------------------- cookie jar and browser

interface Cookie {
  name: string;
  value: string;
  path: string;
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/** A cookie jar for one host: cookies are kept per (name, path) and sent on paths they match, longest path first. */
export class CookieJar {
  private cookies: Cookie[] = [];

  store(requestUrl: string, setCookieHeaders: string[]): void {
    for (const line of setCookieHeaders) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const reqPath = new URL(requestUrl).pathname;
      let cookiePath = reqPath.lastIndexOf('/') > 0 ? reqPath.slice(0, reqPath.lastIndexOf('/')) : '/';
      let maxAge: number | undefined;
      let expires: number | undefined;
      for (const attr of attrs) {
        const i = attr.indexOf('=');
        const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
        const val = i < 0 ? '' : attr.slice(i + 1).trim();
        if (key === 'path' && val.startsWith('/')) cookiePath = val;
        else if (key === 'max-age' && /^-?\d+$/.test(val)) maxAge = Number(val);
        else if (key === 'expires' && !Number.isNaN(Date.parse(val))) expires = Date.parse(val);
      }
      const expired = maxAge !== undefined ? maxAge <= 0 : expires !== undefined && expires <= Date.now();
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.path === cookiePath));
      if (!expired) this.cookies.push({ name, value, path: cookiePath });
    }
  }

  /** The Cookie header for `url`, or undefined when no cookie matches. */
  header(url: string): string | undefined {
    const p = new URL(url).pathname;
    const matching = this.cookies.filter((c) => pathMatches(p, c.path)).sort((a, b) => b.path.length - a.path.length);
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  /** The value of cookie `name` that would be sent to `url`. */
  get(name: string, url: string): string | undefined {
    const p = new URL(url).pathname;
    return this.cookies.filter((c) => c.name === name && pathMatches(p, c.path)).sort((a, b) => b.path.length - a.path.length)[0]?.value;
  }

  names(): string[] {
    return this.cookies.map((c) => `${c.name}@${c.path}`);
  }
}

export interface Page {
  status: number;
  url: string;
  headers: Headers;
  text: string;
  /** Every URL visited, the first request included. */
  chain: string[];
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Node fetch with `redirect: 'manual'`, following redirects itself and keeping cookies like a browser. */
export class Browser {
  readonly jar = new CookieJar();

  constructor(readonly base: string) {}

  url(pathOrUrl: string): string {
    return new URL(pathOrUrl, this.base).toString();
  }

  /** One request, no redirect followed; the response's cookies are stored. */
  async request(pathOrUrl: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    const url = this.url(pathOrUrl);
    const headers = new Headers(init.headers);
    const cookie = this.jar.header(url);
    if (cookie) headers.set('Cookie', cookie);
    const res = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
    this.jar.store(url, res.headers.getSetCookie());
    return res;
  }

  /** A request whose redirects are followed (as a browser: 301/302/303 become GET), and its final body. */
  async navigate(pathOrUrl: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}, maxRedirects = 10): Promise<Page> {
    let url = this.url(pathOrUrl);
    const chain = [url];
    let res = await this.request(url, init);
    let next = init;
    while (REDIRECTS.has(res.status)) {
      const location = res.headers.get('location');
      if (!location) break;
      await res.body?.cancel();
      if (chain.length > maxRedirects) throw new Error(`too many redirects: ${chain.join(' -> ')}`);
      url = new URL(location, url).toString();
      chain.push(url);
      if (res.status !== 307 && res.status !== 308) next = { method: 'GET' };
      res = await this.request(url, next);
    }
    return { status: res.status, url, headers: res.headers, text: await res.text(), chain };
  }
}

function decodeEntities(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The action and hidden fields of the first `<form>` of a page. */
export function parseForm(html: string): { action: string | undefined; fields: Record<string, string> } {
  const form = /<form\b[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  assert.ok(form, `no <form> on the page:\n${html.slice(0, 500)}`);
  const action = /\baction="([^"]*)"/i.exec(form[0])?.[1];
  const fields: Record<string, string> = {};
  for (const m of form[1]!.matchAll(/<input\b[^>]*>/gi)) {
    const name = /\bname="([^"]*)"/i.exec(m[0])?.[1];
    const type = /\btype="([^"]*)"/i.exec(m[0])?.[1];
    const value = /\bvalue="([^"]*)"/i.exec(m[0])?.[1];
    if (name && type === 'hidden') fields[name] = decodeEntities(value ?? '');
  }
  return { action: action === undefined ? undefined : decodeEntities(action), fields };
}

// ---------------------------------------------------------------- the hub

export interface SystemAccountInfo {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The real uid of `pid`, from /proc (undefined when it is gone). */
export function uidOf(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'));
    return line ? Number(line.split(/\s+/)[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Pids of live processes whose real uid is in `uids`. */
function pidsOfUids(uids: Set<number>): number[] {
  if (uids.size === 0) return [];
  return findProcesses(() => true).filter((pid) => {
    const uid = uidOf(pid);
    return uid !== undefined && uids.has(uid);
  });
}

export type ProxyKind = 'builtin' | 'chp';

export interface ServerState {
  pid: number;
  startTicks?: string | null;
  port?: number;
}

export interface ApiReply {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** The test's environment without the variables that would override the test config (secrets, proxy token, config file). */
function hubEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of ['GANYMEDE_CONFIG', 'CONFIGPROXY_AUTH_TOKEN', 'GANYMEDE_COOKIE_SECRET', 'JPY_COOKIE_SECRET', 'GANYMEDE_SHARED_PASSWORD']) delete env[key];
  return env;
}

/**
 * A `ganymede serve` process on a fresh data dir in os.tmpdir(), with ports
 * picked for the proxy (public and API) and the hub. Its proxy and servers
 * outlive it on purpose; {@link E2eHub.teardown} stops everything.
 */
export class E2eHub {
  child: ChildProcess | undefined;
  private exits = new WeakMap<ChildProcess, Promise<void>>();
  /** Pids of single-user servers seen during the test (killed in teardown when still alive). */
  readonly serverPids = new Map<number, string | undefined>();
  adminToken = '';

  private constructor(
    /** The system account name prefix of this hub's users (`<prefix><user>`), or undefined when servers run as the test's account. */
    readonly accountPrefix: string | undefined,
    readonly proxyKind: ProxyKind,
    readonly dataDir: string,
    readonly configFile: string,
    readonly publicPort: number,
    readonly proxyApiPort: number,
    readonly hubPort: number,
  ) {}

  /** `config` replaces top-level options of the test config (e.g. `spawner` for the trivial server). */
  static async create(proxyKind: ProxyKind, opts: { config?: Record<string, unknown> } = {}): Promise<E2eHub> {
    requireBuiltHub();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), `ganymede-e2e-${proxyKind}-`));
    const [publicPort, proxyApiPort, hubPort] = (await freePorts(3)) as [number, number, number];
    const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const accountPrefix = asRoot ? `gye${randomBytes(3).toString('hex')}-` : undefined;
    if (!asRoot) process.stderr.write('NOTICE: not root: the e2e servers run as the test\'s own account (spawner.run_as: hub), not as system accounts\n');
    const config = {
      ip: '127.0.0.1',
      port: publicPort,
      log_level: 'info',
      hub: { ip: '127.0.0.1', port: hubPort },
      proxy: {
        api_url: `http://127.0.0.1:${proxyApiPort}`,
        ...(proxyKind === 'chp' ? { command: [CHP_BIN] } : {}),
      },
      spawner: accountPrefix
        ? { kind: 'local-process', cmd: [SINGLEUSER], run_as: 'user', system_user_name: `${accountPrefix}{username}`, create_system_users: true }
        : { kind: 'local-process', cmd: [SINGLEUSER], run_as: 'hub' },
      auth: { kind: 'shared-password', shared_password: PASSWORD },
      // As the test's account, Jupyter's runtime files (kernel connection files) and IPython's profile stay in
      // the data dir; system accounts keep them in their homes (they cannot enter the data dir).
      environment: accountPrefix ? {} : { JUPYTER_RUNTIME_DIR: path.join(dataDir, 'jupyter-runtime'), IPYTHONDIR: path.join(dataDir, 'ipython') },
      slow_spawn_timeout: 10,
      ...opts.config,
    };
    const configFile = path.join(dataDir, 'e2e-config.yaml');
    writeFileSync(configFile, YAML.stringify(config));
    const hub = new E2eHub(accountPrefix, proxyKind, dataDir, configFile, publicPort, proxyApiPort, hubPort);
    try {
      hub.adminToken = await hub.cliToken('e2e-admin', true);
    } catch (err) {
      rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
    return hub;
  }

  get publicUrl(): string {
    return `http://127.0.0.1:${this.publicPort}`;
  }

  get hubUrl(): string {
    return `http://127.0.0.1:${this.hubPort}`;
  }

  get proxyApiUrl(): string {
    return `http://127.0.0.1:${this.proxyApiPort}`;
  }

  /** `ganymede token NAME [--admin]` on this data dir. */
  async cliToken(name: string, admin = false): Promise<string> {
    const args = [GANYMEDE_BIN, 'token', name, '--data-dir', this.dataDir, '--config', this.configFile, ...(admin ? ['--admin'] : [])];
    const { stdout } = await execFileP(process.execPath, args, { timeout: 20_000, env: hubEnv() });
    const token = stdout.trim();
    assert.match(token, /^\S{16,}$/, `ganymede token printed ${JSON.stringify(stdout)}`);
    return token;
  }

  /** Starts `ganymede serve` and waits until its API answers directly and through the proxy. */
  async start(): Promise<void> {
    assert.ok(!this.child || this.child.exitCode !== null || this.child.signalCode !== null, 'the hub is already running');
    const logFd = openSync(path.join(this.dataDir, 'hub.log'), 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [GANYMEDE_BIN, 'serve', '--data-dir', this.dataDir, '--config', this.configFile], {
        cwd: this.dataDir,
        stdio: ['ignore', logFd, logFd],
        env: hubEnv(),
      });
    } finally {
      closeSync(logFd);
    }
    this.child = child;
    this.exits.set(child, new Promise<void>((resolve) => child.once('exit', () => resolve())));
    await waitFor(
      'the hub to answer /hub/api/health (directly and through the proxy)',
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new GiveUp(`ganymede serve exited (${child.exitCode ?? child.signalCode})`);
        for (const base of [this.hubUrl, this.publicUrl]) {
          const res = await fetch(`${base}/hub/api/health`, { signal: AbortSignal.timeout(2000) });
          await res.body?.cancel();
          if (res.status !== 200) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 50, detail: () => this.logs() },
    );
  }

  /** The pid of the running `ganymede serve`. */
  get hubPid(): number {
    assert.ok(this.child?.pid, 'the hub is not running');
    return this.child.pid;
  }

  /** Stops the hub: SIGTERM (graceful; proxy and servers keep running), or SIGKILL. */
  async stopHub(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = this.exits.get(child)!;
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 12_000)))]);
    clearTimeout(timer);
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** An API call to the hub (through the proxy unless `direct`), with the admin token unless `token` is given. */
  async api(method: string, apiPath: string, opts: { token?: string; body?: unknown; direct?: boolean } = {}): Promise<ApiReply> {
    const headers: Record<string, string> = { Authorization: `token ${opts.token ?? this.adminToken}` };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${opts.direct ? this.hubUrl : this.publicUrl}/hub/api${apiPath}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      redirect: 'manual',
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  /** The default server of `user` in the user model (admin view, with spawner state), or undefined. */
  async server(user: string): Promise<{ ready: boolean; pending: string | null; state?: ServerState } | undefined> {
    const r = await this.api('GET', `/users/${user}`);
    assert.equal(r.status, 200, `GET /users/${user}: ${r.text}`);
    const servers = (r.json as { servers?: Record<string, { ready: boolean; pending: string | null; state?: ServerState }> }).servers ?? {};
    return servers[''];
  }

  /** Starts `user`'s default server through the API and waits until it is ready; returns its pid. */
  async spawnViaApi(user: string): Promise<ServerState> {
    const r = await this.api('POST', `/users/${user}/server`);
    assert.ok(r.status === 201 || r.status === 202, `POST /users/${user}/server: ${r.status} ${r.text}`);
    return this.waitReady(user);
  }

  /** Waits until `user`'s default server is ready; returns its spawner state (and remembers its pid for teardown). */
  async waitReady(user: string): Promise<ServerState> {
    const s = await waitFor(`${user}'s server to be ready`, async () => {
      const server = await this.server(user);
      return server?.ready ? server : undefined;
    }, { timeoutMs: 45_000, intervalMs: 100, detail: () => this.logs(user) });
    assert.ok(s.state && typeof s.state.pid === 'number', `the admin view of the server has no spawner state with a pid: ${JSON.stringify(s)}`);
    this.serverPids.set(s.state.pid, s.state.startTicks ?? undefined);
    return s.state;
  }

  /** Stops `user`'s default server through the API (admin token) and waits until it is gone. */
  async stopServer(user: string): Promise<void> {
    const r = await this.api('DELETE', `/users/${user}/server`);
    assert.ok(r.status === 204 || r.status === 202, `DELETE /users/${user}/server: ${r.status} ${r.text}`);
    await waitFor(`${user}'s server to stop`, async () => (await this.server(user)) === undefined, { timeoutMs: 20_000, detail: () => this.logs(user) });
  }

  get proxyToken(): string {
    return readFileSync(path.join(this.dataDir, 'proxy_token'), 'utf8').trim();
  }

  /** The proxy's routing table, straight from its REST API. */
  async proxyRoutes(): Promise<Record<string, Record<string, unknown>>> {
    const res = await fetch(`${this.proxyApiUrl}/api/routes`, { headers: { Authorization: `token ${this.proxyToken}` }, signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200, `GET ${this.proxyApiUrl}/api/routes`);
    return (await res.json()) as Record<string, Record<string, unknown>>;
  }

  /** The pid in `<data_dir>/proxy.pid`, if any. */
  proxyPidFromFile(): number | undefined {
    try {
      return Number(readFileSync(path.join(this.dataDir, 'proxy.pid'), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  /** Live proxy processes of this hub (recognised by their `--api-port`). */
  proxyProcesses(): number[] {
    return findProcesses((argv) => argv.some((a, i) => a === '--api-port' && argv[i + 1] === String(this.proxyApiPort)));
  }

  /** The last lines of the hub's log, the proxy's, and `user`'s server's (for failure messages). */
  logs(user?: string): string {
    const tail = (file: string, n = 25) => {
      try {
        const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
        return `--- ${path.relative(this.dataDir, file)} (last ${Math.min(n, lines.length)} lines)\n${lines.slice(-n).join('\n')}`;
      } catch {
        return `--- ${path.relative(this.dataDir, file)}: none`;
      }
    };
    const parts = [tail(path.join(this.dataDir, 'hub.log')), tail(path.join(this.dataDir, 'proxy.log'), 10)];
    if (user) parts.push(tail(path.join(this.dataDir, 'server-dirs', user, 'server.log'))); // a plain name is its own key (src/lib/server-key.ts)
    return parts.join('\n');
  }

  /**
   * Stops everything this hub started: its servers (through the API while the
   * hub runs, then by process group from the servers table for any left), the
   * hub, stray kernels, the proxy (by its pid file), and removes the data dir.
   */
  async teardown(): Promise<void> {
    const child = this.child;
    const hubRunning = child && child.exitCode === null && child.signalCode === null;
    if (hubRunning) {
      try {
        const r = await this.api('GET', '/users?state=active', { direct: true });
        const users = Array.isArray(r.json) ? (r.json as { name: string }[]) : [];
        await Promise.all(users.map((u) => this.api('DELETE', `/users/${u.name}/server`, { direct: true }).catch(() => undefined)));
      } catch {
        // the hub may be broken: processes are killed below
      }
    }
    await this.stopHub('SIGTERM');
    // Servers left running: from the database, and any pid seen during the test.
    const dbFile = path.join(this.dataDir, 'ganymede.sqlite');
    if (existsSync(dbFile)) {
      try {
        const db = new Database(dbFile, { readonly: true, fileMustExist: true });
        try {
          for (const row of db.prepare('SELECT state FROM servers').all() as { state: string }[]) {
            const s = JSON.parse(row.state) as Partial<ServerState>;
            if (typeof s.pid === 'number') this.serverPids.set(s.pid, s.startTicks ?? undefined);
          }
        } finally {
          db.close();
        }
      } catch {
        // no servers table yet
      }
    }
    await Promise.all(
      [...this.serverPids].map(async ([pid, ticks]) => {
        if (ticks !== undefined && (startTicks(pid) ?? undefined) !== ticks) return; // gone, or the pid was reused
        await terminate(pid, { group: true });
      }),
    );
    // Kernels outliving their server (each runs in its own session): their connection files are in our data dir,
    // or they run as our throw-away accounts.
    const runtime = path.join(this.dataDir, 'jupyter-runtime');
    await Promise.all(findProcesses((argv) => argv.some((a) => a.startsWith(runtime))).map((pid) => terminate(pid, { graceMs: 2000 })));
    const accounts = this.accounts();
    const uids = new Set(accounts.map((a) => a.uid));
    await Promise.all(pidsOfUids(uids).map((pid) => terminate(pid, { graceMs: 2000 })));
    const proxyPid = this.proxyPidFromFile();
    const proxies = new Set(this.proxyProcesses());
    if (proxyPid && proxies.has(proxyPid)) await terminate(proxyPid);
    for (const pid of proxies) await terminate(pid);
    for (const account of accounts) {
      await execFileP('userdel', ['-r', account.name]).catch(() => undefined);
      rmSync(account.home, { recursive: true, force: true });
    }
    if (process.env['GANYMEDE_E2E_KEEP']) process.stderr.write(`kept ${this.dataDir}\n`);
    else rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** The system account of hub user `user` (from `getent passwd`), when servers run as system accounts. */
  account(user: string): SystemAccountInfo | undefined {
    return this.accounts().find((a) => a.name === `${this.accountPrefix}${user}`);
  }

  /** The system accounts this hub created (their names start with {@link accountPrefix}). */
  accounts(): SystemAccountInfo[] {
    const prefix = this.accountPrefix;
    if (!prefix) return [];
    const passwd = spawnSync('getent', ['passwd'], { encoding: 'utf8' }).stdout ?? '';
    return passwd
      .split('\n')
      .map((line) => line.split(':'))
      .filter((f) => f.length >= 7 && f[0]!.startsWith(prefix))
      .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! }));
  }
}

// ---------------------------------------------------------------- the single-user flow

export type Step = (name: string, fn: () => Promise<void>) => Promise<void>;

/** Runs each step as a subtest of `t`; once one fails, the later ones are skipped (they depend on it). */
export function stepper(t: TestContext): Step {
  let failed: string | undefined;
  return async (name, fn) => {
    await t.test(name, async (st) => {
      if (failed) {
        st.skip(`skipped: the step "${failed}" failed`);
        return;
      }
      try {
        await fn();
      } catch (err) {
        failed = name;
        throw err;
      }
    });
  };
}

/** Logs in through the proxy's public port with the login form; returns the page the login lands on. */
export async function login(browser: Browser, username: string, password = PASSWORD): Promise<Page> {
  const loginPage = await browser.navigate('/hub/login');
  assert.equal(loginPage.status, 200, `GET /hub/login: ${loginPage.status}`);
  const form = parseForm(loginPage.text);
  assert.ok(form.fields['_xsrf'], 'the login form has an _xsrf field');
  assert.ok(browser.jar.get('_xsrf', browser.url('/hub/login')), 'GET /hub/login set the _xsrf cookie');
  const body = new URLSearchParams({ ...form.fields, username, password }).toString();
  const first = await browser.request(form.action ?? '/hub/login', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
  await first.body?.cancel();
  assert.equal(first.status, 302, `POST /hub/login answered ${first.status}`);
  assert.ok(browser.jar.get('jupyterhub-hub-login', browser.url('/hub/home')), 'the login set the jupyterhub-hub-login cookie');
  return browser.navigate(first.headers.get('location')!);
}

export interface ProgressEvent {
  progress?: number;
  message?: string;
  ready?: boolean;
  failed?: boolean;
  url?: string;
}

/** Reads a server-sent-events stream of spawn progress (with the browser's cookies) until `ready` or `failed`. */
/** The events of a progress stream (SSE) until `ready` or `failed` (then the stream is closed), or its end. */
export async function progressFromStream(res: Response): Promise<ProgressEvent[]> {
  assert.ok(res.body, 'the progress stream has a body');
  const events: ProgressEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
      if (!data) continue;
      const event = JSON.parse(data) as ProgressEvent;
      events.push(event);
      if (event.ready || event.failed) {
        await res.body.cancel().catch(() => undefined);
        return events;
      }
    }
  }
  return events;
}

export async function readProgress(browser: Browser, progressPath: string, timeoutMs: number): Promise<ProgressEvent[]> {
  const url = browser.url(progressPath);
  const cookie = browser.jar.header(url);
  const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...(cookie ? { Cookie: cookie } : {}) }, signal: AbortSignal.timeout(timeoutMs) });
  assert.equal(res.status, 200, `GET ${progressPath}: ${res.status}`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.ok(res.body, 'the progress stream has a body');
  return progressFromStream(res);
}

/**
 * As a browser: GET /hub/spawn, which redirects to the spawn-pending page;
 * that page's script follows the progress event stream (cookie-authenticated)
 * until `ready`, then the page sends the browser to the server. Returns the
 * progress events and where spawn-pending finally redirects.
 */
export async function spawnFromBrowser(browser: Browser, hub: E2eHub, username: string): Promise<{ events: ProgressEvent[]; location: string }> {
  const spawnRes = await browser.request('/hub/spawn');
  await spawnRes.body?.cancel();
  assert.equal(spawnRes.status, 302, `GET /hub/spawn answered ${spawnRes.status}`);
  const pending = spawnRes.headers.get('location')!;
  assert.equal(new URL(pending, browser.base).pathname, `/hub/spawn-pending/${username}`);
  const page = await browser.request(pending);
  const html = await page.text();
  let events: ProgressEvent[] = [];
  if (page.status === 200) {
    const progressPath = /new EventSource\(("[^"]*")\)/.exec(html)?.[1];
    assert.ok(progressPath, 'the spawn-pending page follows an EventSource');
    events = await readProgress(browser, JSON.parse(progressPath) as string, 45_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${hub.logs(username)}`);
    });
    const last = events.at(-1);
    assert.ok(last?.ready, `the progress stream ends with ready: ${JSON.stringify(events)}\n${hub.logs(username)}`);
    assert.equal(last.url, `/user/${username}/`);
  } else {
    assert.equal(page.status, 302, `spawn-pending answered ${page.status}`); // the spawn was already done
  }
  // The page's script now reloads / navigates: spawn-pending sends the browser to the server.
  const again = await browser.request(pending);
  await again.body?.cancel();
  assert.equal(again.status, 302, `spawn-pending after ready answered ${again.status}`);
  return { events, location: again.headers.get('location')! };
}

/** Opens `/user/NAME/` and follows the OAuth dance; asserts each hop and that the tree page (nbclassic) is served. */
export async function openServerWithOAuth(browser: Browser, username: string): Promise<Page> {
  const prefix = `/user/${username}/`;
  const page = await browser.navigate(prefix);
  const paths = page.chain.map((u) => new URL(u));
  const authorize = paths.find((u) => u.pathname === '/hub/api/oauth2/authorize');
  assert.ok(authorize, `the server sent the browser to the hub's authorize endpoint: ${page.chain.join(' -> ')}`);
  assert.equal(authorize.searchParams.get('client_id'), `jupyterhub-user-${username}`);
  assert.equal(authorize.searchParams.get('response_type'), 'code');
  assert.equal(authorize.searchParams.get('redirect_uri'), `${prefix}oauth_callback`);
  const state = authorize.searchParams.get('state');
  assert.ok(state, 'authorize carries a state');
  const callback = paths.find((u) => u.pathname === `${prefix}oauth_callback`);
  assert.ok(callback, `the hub redirected back to the server's oauth_callback: ${page.chain.join(' -> ')}`);
  assert.match(callback.searchParams.get('code') ?? '', /\S+/, 'oauth_callback got a code');
  assert.equal(callback.searchParams.get('state'), state, 'the state came back unchanged');
  assert.ok(paths.indexOf(callback) > paths.indexOf(authorize), 'the callback comes after authorize');
  assert.ok(browser.jar.get(`jupyterhub-user-${username}`, browser.url(prefix)), `the server set its jupyterhub-user-${username} cookie (jar: ${browser.jar.names().join(', ')})`);
  assert.equal(page.status, 200, `the server's landing page: ${page.status} at ${page.url} via ${page.chain.join(' -> ')}\n${page.text.slice(0, 500)}`);
  assert.equal(new URL(page.url).pathname, `${prefix}tree/`, `landed at ${page.url}`);
  return page;
}

/** Asserts that `/user/NAME/tree/` is nbclassic's file browser. */
export async function assertTreePage(browser: Browser, username: string): Promise<void> {
  const tree = await browser.navigate(`/user/${username}/tree/`);
  assert.equal(tree.chain.length, 1, `the tree page does not redirect once logged in: ${tree.chain.join(' -> ')}`);
  assert.equal(tree.status, 200);
  assert.match(tree.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(tree.text, /<html/i);
  assert.match(tree.text, /notebook_list|Select or create a notebook/, 'the page is the classic notebook file browser');
}

/**
 * Creates a kernel with the browser's cookies: jupyter_server 1.23 refuses a
 * cookie-authenticated POST without the `_xsrf` cookie echoed in the
 * `X-XSRFToken` header (403), so the header carries the value of the `_xsrf`
 * cookie the server set on its prefix.
 */
export async function createKernel(browser: Browser, username: string): Promise<string> {
  const kernelsUrl = browser.url(`/user/${username}/api/kernels`);
  const xsrf = browser.jar.get('_xsrf', kernelsUrl);
  assert.ok(xsrf, `the server set an _xsrf cookie on /user/${username}/`);
  const withoutXsrf = await browser.request(kernelsUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'python3' }) });
  await withoutXsrf.body?.cancel();
  assert.equal(withoutXsrf.status, 403, 'a cookie-authenticated POST without X-XSRFToken is refused');
  const res = await browser.request(kernelsUrl, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-XSRFToken': xsrf }, body: JSON.stringify({ name: 'python3' }) });
  const text = await res.text();
  assert.equal(res.status, 201, `POST /user/${username}/api/kernels: ${res.status} ${text}`);
  const kernel = JSON.parse(text) as { id?: string; name?: string };
  assert.ok(kernel.id, `the kernel model has an id: ${text}`);
  assert.equal(kernel.name, 'python3');
  return kernel.id;
}

export async function deleteKernel(browser: Browser, username: string, kernelId: string): Promise<void> {
  const url = browser.url(`/user/${username}/api/kernels/${kernelId}`);
  const res = await browser.request(url, { method: 'DELETE', headers: { 'X-XSRFToken': browser.jar.get('_xsrf', url) ?? '' } });
  await res.body?.cancel();
  assert.equal(res.status, 204, `DELETE kernel: ${res.status}`);
}

interface JupyterMessage {
  header: { msg_id: string; msg_type: string };
  parent_header: { msg_id?: string };
  content: Record<string, unknown>;
  channel?: string;
}

/**
 * Opens the kernel's channels websocket through the proxy (cookies of the
 * browser), sends an `execute_request` (message protocol 5.3, JSON, channel
 * 'shell') and returns the `text/plain` of the `execute_result` on iopub.
 */
export async function executeOverWebsocket(browser: Browser, username: string, kernelId: string, code: string, timeoutMs = 30_000): Promise<string> {
  const httpUrl = browser.url(`/user/${username}/api/kernels/${kernelId}/channels?session_id=${randomUUID()}`);
  const wsUrl = httpUrl.replace(/^http/, 'ws');
  const cookie = browser.jar.header(httpUrl);
  const ws = new WebSocket(wsUrl, { headers: cookie ? { Cookie: cookie } : {}, handshakeTimeout: 10_000 });
  const msgId = randomUUID();
  const session = randomUUID();
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no execute_result for ${JSON.stringify(code)} within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      ws.once('unexpected-response', (_req, res) => fail(new Error(`websocket upgrade refused: HTTP ${res.statusCode ?? 0}`)));
      ws.once('error', fail);
      ws.once('close', (closeCode) => fail(new Error(`websocket closed (${closeCode}) before the execute_result`)));
      ws.once('open', () => {
        const request = {
          header: { msg_id: msgId, msg_type: 'execute_request', username, session, date: new Date().toISOString(), version: '5.3' },
          parent_header: {},
          metadata: {},
          content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true },
          buffers: [],
          channel: 'shell',
        };
        ws.send(JSON.stringify(request));
      });
      ws.on('message', (data: RawData, binary: boolean) => {
        if (binary) return;
        const msg = JSON.parse(data.toString()) as JupyterMessage;
        if (msg.parent_header.msg_id !== msgId) return;
        if (msg.header.msg_type === 'error') {
          fail(new Error(`the kernel raised ${String(msg.content['ename'])}: ${String(msg.content['evalue'])}`));
        } else if (msg.channel === 'iopub' && msg.header.msg_type === 'execute_result') {
          clearTimeout(timer);
          const data = msg.content['data'] as Record<string, string> | undefined;
          resolve(data?.['text/plain'] ?? '');
        }
      });
    });
  } finally {
    ws.removeAllListeners();
    ws.on('error', () => undefined);
    ws.terminate();
  }
}

/**
 * The whole browser flow against a running hub: login through the proxy,
 * spawn, OAuth into the server, the tree page, a kernel computing 1+1 over its
 * websocket, and the stop, checking that the route and the server are gone.
 */
export async function singleUserFlow(hub: E2eHub, step: Step): Promise<void> {
  const user = 'alice';
  const browser = new Browser(hub.publicUrl);
  let serverPid = 0;
  let kernelId = '';

  await step('logs in with the form, through the proxy', async () => {
    const home = await login(browser, user);
    assert.equal(home.status, 200);
    assert.equal(new URL(home.url).pathname, '/hub/home');
  });

  await step('starts the server from the browser and follows its progress events', async () => {
    const { events, location } = await spawnFromBrowser(browser, hub, user);
    assert.ok(events.length >= 2, `progress events: ${JSON.stringify(events)}`);
    assert.equal(new URL(location, browser.base).pathname, `/user/${user}/`);
    const state = await hub.waitReady(user);
    serverPid = state.pid;
    assert.ok(pidAlive(serverPid), `the server process ${serverPid} runs`);
    if (hub.accountPrefix) {
      const account = hub.account(user);
      assert.ok(account, `the hub created the system account ${hub.accountPrefix}${user}`);
      assert.notEqual(account.uid, 0);
      assert.equal(uidOf(serverPid), account.uid, `the server runs as ${account.name}`);
    }
    const routes = await hub.proxyRoutes();
    assert.ok(Object.keys(routes).some((k) => k.replace(/\/$/, '') === `/user/${user}`), `the proxy routes /user/${user}: ${JSON.stringify(routes)}`);
  });

  await step('follows the OAuth flow into /user/alice/ and gets the tree page', async () => {
    await openServerWithOAuth(browser, user);
    await assertTreePage(browser, user);
  });

  await step('creates a kernel over the REST API and runs 1+1 over its websocket', async () => {
    kernelId = await createKernel(browser, user);
    const result = await executeOverWebsocket(browser, user, kernelId, '1+1');
    assert.equal(result, '2');
    const account = hub.account(user);
    if (account) assert.equal(await executeOverWebsocket(browser, user, kernelId, '__import__("os").getuid()'), String(account.uid), `the kernel runs as ${account.name}`);
    await deleteKernel(browser, user, kernelId);
  });

  await step('stops the server: its route and its process are gone', async () => {
    await hub.stopServer(user);
    const routes = await hub.proxyRoutes();
    assert.ok(!Object.keys(routes).some((k) => k.startsWith(`/user/${user}`)), `no /user/${user} route is left: ${JSON.stringify(routes)}`);
    await waitFor(`the server process ${serverPid} to exit`, async () => !pidAlive(serverPid), { timeoutMs: 10_000 });
    // Now /user/alice/api falls through to the hub, which says the server is not running.
    const page = await browser.navigate(`/user/${user}/api`);
    assert.notEqual(page.headers.get('server') ?? '', 'TornadoServer/6.2');
    assert.equal(page.headers.get('x-jupyterhub-version'), '5.5.1', 'the answer comes from the hub, not the single-user server (3.0.0)');
    // JupyterHub's answer to an API call for a stopped server: 424 JSON naming the spawn page
    assert.equal(page.status, 424, `GET /user/${user}/api after the stop: ${page.status} via ${page.chain.join(' -> ')}`);
    assert.match(page.text, /no longer running/);
  });
}
