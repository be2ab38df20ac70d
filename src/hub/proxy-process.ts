import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { persistentSecret } from '../lib/secrets.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ProxyError } from '../lib/errors.js';
import { assertCanListen } from '../lib/listen-error.js';
import { sleep } from '../lib/time.js';
import type { HubUrls } from './context.js';

/** The proxy API token: config, CONFIGPROXY_AUTH_TOKEN, or `<data_dir>/proxy_token` (created once). */
export function proxyToken(config: Config, dataDir: string): string {
  return persistentSecret(path.join(dataDir, 'proxy_token'), config.proxy.auth_token, process.env['CONFIGPROXY_AUTH_TOKEN']);
}

/** The proxy API URLs the hub keeps routes on: `proxy.api_urls` when not empty, else `[proxy.api_url]`. */
export function proxyApiUrls(config: Config): string[] {
  return config.proxy.api_urls.length ? [...config.proxy.api_urls] : [config.proxy.api_url];
}

async function apiAnswers(apiUrl: string, token: string): Promise<'ok' | 'forbidden' | 'down'> {
  try {
    const res = await fetch(`${apiUrl.replace(/\/$/, '')}/api/routes`, { headers: { Authorization: `token ${token}` }, signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok ? 'ok' : res.status === 403 ? 'forbidden' : 'down';
  } catch {
    return 'down';
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Node flags the hub starts its own proxy with: 2 MB semi-spaces are as fast as
 * node's default of 16 MB under load (the proxy's garbage dies young) and keep
 * about 35 MB less resident; a 16 MB initial old space brings the first full
 * collections earlier (about 5 MB less after load). No Maglev (V8's mid-tier
 * JIT, on by default from node 22): the same CPU per request here, about 13 MB
 * less resident on node 24; node 20 has it off already. A heap growing factor
 * of 1.5 (V8 picks up to 4 for a small heap): under sustained load the old
 * space grows with short-lived objects that outlived two scavenges, and without
 * it the resident size climbs from about 75 to 90-100 MB between full
 * collections; with it, it stays at 72-75 MB, for the same CPU per request in
 * side-by-side runs. bin/ganymede-proxy.js has the same in its shebang.
 */
export const PROXY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--initial-old-space-size=16', '--heap-growing-percent=50', '--no-maglev'];

/** The command that runs this ganymede's own proxy: `node <flags> <bin/ganymede.js> proxy`. */
function ownProxyCommand(): string[] {
  // From the bundle (dist/ganymede.mjs), the build (dist/hub/) or the source (src/hub/), bin/ is above.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const bin = path.join(dir, 'bin', 'ganymede.js');
    if (existsSync(bin)) return [process.execPath, ...PROXY_NODE_FLAGS, bin, 'proxy'];
    dir = path.dirname(dir);
  }
  throw new ProxyError('Cannot find bin/ganymede.js to start the proxy; set proxy.command');
}

/**
 * Where the hub's own proxy keeps its routes (`proxy.route_store`): the flags
 * to pass, plus the environment they need. With `database`, a relative SQLite
 * path is resolved against the data dir, and a PostgreSQL password is passed
 * as PGPASSWORD rather than on the command line (which `ps` shows).
 */
export function routeStoreArgs(config: Config, dataDir: string): { args: string[]; env: Record<string, string> } {
  if (config.proxy.route_store !== 'database') return { args: ['--state-file', path.join(dataDir, 'proxy-routes.json')], env: {} };
  const url = config.db.url;
  if (url.startsWith('sqlite://')) {
    const rest = url.slice('sqlite://'.length);
    if (!rest.startsWith('/') || rest === '/:memory:') {
      throw new ProxyError(`proxy.route_store 'database' needs a database that outlives the hub; db.url is ${JSON.stringify(url)}`);
    }
    return { args: ['--state-db', rest.startsWith('//') ? url : `sqlite:///${path.resolve(dataDir, rest.slice(1))}`], env: {} };
  }
  const withPassword = /^([a-z][a-z0-9+.-]*:\/\/[^/?#:@]*):([^/?#]*)@/i.exec(url);
  if (withPassword === null) return { args: ['--state-db', url], env: {} };
  let password = withPassword[2]!;
  try {
    password = decodeURIComponent(password);
  } catch {
    // not percent-encoded: use it as it is
  }
  return { args: ['--state-db', `${withPassword[1]!}@${url.slice(withPassword[0].length)}`], env: { PGPASSWORD: password } };
}

/**
 * Makes sure a proxy answers at `proxy.api_url` (with `proxy.api_urls`: at the
 * first of them; the others are run by the operator). When the hub starts its own
 * proxy, a proxy started by an earlier run (pid file and token in the data
 * dir) is reused, so a hub restart never interrupts users; otherwise a new one
 * is started detached, with its routes persisted in `<data_dir>/proxy-routes.json`
 * (or, with `proxy.route_store: database`, in the hub's database).
 */
export async function ensureProxy(opts: { config: Config; dataDir: string; urls: HubUrls; token: string; log: Logger }): Promise<{ reused: boolean; pid?: number }> {
  const { config, dataDir, urls, token, log } = opts;
  const apiUrl = proxyApiUrls(config)[0]!;
  const pidFile = path.join(dataDir, 'proxy.pid');
  const state = await apiAnswers(apiUrl, token);
  if (state === 'ok') {
    let pid: number | undefined;
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim()) || undefined;
    } catch {
      pid = undefined;
    }
    log.info({ apiUrl, proxyPid: pid }, 'reusing the proxy that is already running');
    return { reused: true, ...(pid ? { pid } : {}) };
  }
  if (state === 'forbidden') {
    throw new ProxyError(
      `A proxy answers at ${apiUrl} but refuses our token (another hub's proxy?). To run a second hub, give it its own ports: set proxy.api_url and port (--port) in its config; ` +
        'to share that proxy, set proxy.auth_token (or CONFIGPROXY_AUTH_TOKEN) to its token; or stop it.',
    );
  }
  if (!config.proxy.should_start) throw new ProxyError(`The proxy at ${apiUrl} does not answer, and proxy.should_start is false`);
  const api = new URL(apiUrl);
  // The proxy's own failure to listen would only show in proxy.log: check its ports first.
  await assertCanListen({ what: 'The proxy', host: config.ip, port: config.port, option: 'port (--port) or ip (--ip)' });
  await assertCanListen({ what: "The proxy's REST API", host: api.hostname.replace(/^\[|\]$/g, ''), port: Number(api.port || 80), option: 'proxy.api_url' });
  const cmd = config.proxy.command.length ? config.proxy.command : ownProxyCommand();
  const args = [
    ...cmd.slice(1),
    '--ip', config.ip,
    '--port', String(config.port),
    '--api-ip', api.hostname,
    '--api-port', api.port || '80',
    '--default-target', urls.internal,
    '--error-target', `${urls.internal}${urls.hub}error`,
    '--log-level', config.log_level === 'trace' ? 'debug' : config.log_level,
  ];
  const store = config.proxy.command.length ? undefined : routeStoreArgs(config, dataDir);
  if (store !== undefined) args.push(...store.args, '--pid-file', pidFile);
  const logFd = openSync(path.join(dataDir, 'proxy.log'), 'a', 0o600);
  let pid: number;
  try {
    const child = spawn(cmd[0]!, args, { detached: true, stdio: ['ignore', logFd, logFd], env: { ...process.env, ...store?.env, CONFIGPROXY_AUTH_TOKEN: token } });
    pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', (err) => reject(new ProxyError(`Cannot start the proxy (${cmd[0]}): ${err.message}`)));
    });
    child.unref();
  } finally {
    closeSync(logFd);
  }
  if (config.proxy.command.length) writeFileSync(pidFile, `${pid}\n`, { mode: 0o600 });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if ((await apiAnswers(apiUrl, token)) === 'ok') {
      log.info({ apiUrl, proxyPid: pid, public: `http://${config.ip}:${config.port}` }, 'started the proxy');
      return { reused: false, pid };
    }
    if (!pidAlive(pid)) throw new ProxyError(`The proxy (pid ${pid}) exited before its API answered at ${apiUrl}; see ${path.join(dataDir, 'proxy.log')}`);
    await sleep(20);
  }
  throw new ProxyError(`The proxy did not answer at ${apiUrl} within 15 s; see ${path.join(dataDir, 'proxy.log')}`);
}
