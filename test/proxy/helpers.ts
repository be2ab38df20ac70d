/** Shared fixtures of the proxy tests: upstream servers, a proxy on free ports, API calls. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import type { Logger } from 'pino';
import { freePort as freePortOn } from '../../src/lib/free-port.js';
import { startProxy } from '../../src/proxy/builtin/server.js';
import type { ProxyOptions, RunningProxy } from '../../src/proxy/builtin/server.js';

export const silentLogger = (): Logger => pino({ level: 'silent' });

export interface Upstream {
  url: string;
  port: number;
  server: http.Server;
  close(): Promise<void>;
}

/** What the default upstream handler answers: the request it saw. */
export interface Echo {
  name: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An HTTP server on 127.0.0.1 answering every request with an {@link Echo} (or `handler`). */
export async function startUpstream(
  name: string,
  handler?: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Upstream> {
  const server = http.createServer(
    handler ??
      ((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const echo: Echo = {
            name,
            method: req.method ?? '',
            url: req.url ?? '',
            headers: req.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          };
          res.writeHead(200, { 'Content-Type': 'application/json', 'X-Upstream': name });
          res.end(JSON.stringify(echo));
        });
      }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: () => closeServer(server),
  };
}

/** Closes an HTTP(S) server now, its open connections included. */
export function closeServer(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** Starts the built-in proxy on 127.0.0.1 with free ports. */
export function startTestProxy(opts: Partial<ProxyOptions> = {}): Promise<RunningProxy> {
  return startProxy({ ip: '127.0.0.1', port: 0, apiIp: '127.0.0.1', apiPort: 0, logger: silentLogger(), ...opts });
}

export const publicUrl = (p: RunningProxy, path = '/'): string => `http://127.0.0.1:${p.publicPort}${path}`;
export const apiUrl = (p: RunningProxy): string => `http://127.0.0.1:${p.apiPort}`;

/** Calls the proxy API; `token` is sent as `Authorization: token <token>`. */
export async function api(
  p: RunningProxy,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string; authorization?: string } = {},
): Promise<{ status: number; text: string; json: () => unknown }> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers['Authorization'] = `token ${opts.token}`;
  if (opts.authorization !== undefined) headers['Authorization'] = opts.authorization;
  const init: RequestInit = { method, headers };
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  }
  const res = await fetch(`${apiUrl(p)}${path}`, init);
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as unknown };
}

/** A free port on 127.0.0.1, never one handed out in the last minutes (src/lib/free-port.ts). */
export const freePort = (): Promise<number> => freePortOn('127.0.0.1');

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Opens a websocket through the proxy's public port, sends `message`, and returns the first answer (5 s limits). */
export async function websocketRoundTrip(proxy: RunningProxy, path: string, message: string): Promise<string> {
  const ws = new WebSocket(publicUrl(proxy, path).replace(/^http/, 'ws'), { handshakeTimeout: 5000 });
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer on ${path} within 5 s`)), 5000);
      ws.once('message', (data: Buffer) => {
        clearTimeout(timer);
        resolve(String(data));
      });
      ws.send(message);
    });
  } finally {
    ws.terminate();
  }
}

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PROXY_MAIN = fileURLToPath(new URL('../../src/proxy/builtin/main.ts', import.meta.url));

/** A proxy CLI running in a child process. */
export interface ProxyChild {
  proc: ChildProcess;
  publicPort: number;
  apiPort: number;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Runs the proxy CLI (from source) in a child process and waits for its "proxy listening" log line. */
export async function spawnProxy(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ProxyChild> {
  const proc = spawn(process.execPath, ['--import', 'tsx', PROXY_MAIN, ...args], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: proc.stdout! });
  const ports = await new Promise<{ publicPort: number; apiPort: number }>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`proxy exited early with ${code}`)));
    lines.on('line', (line) => {
      const rec = JSON.parse(line) as { msg?: string; publicPort?: number; apiPort?: number };
      if (rec.msg === 'proxy listening' && rec.publicPort !== undefined && rec.apiPort !== undefined) resolve({ publicPort: rec.publicPort, apiPort: rec.apiPort });
    });
  });
  return { proc, exited, ...ports };
}

/**
 * The restart check: runs the proxy CLI with `args` (which name its route
 * store), adds `/user/alice` -> `target` through its API, waits until
 * `persisted()` says the route is stored, kills the process with SIGKILL,
 * starts it again with the same `args` and checks that it serves
 * `/user/alice/lab` before any API call; then SIGTERM must exit 0.
 * `whileFirst` runs checks of its own while the first process is up.
 */
export async function checkRoutesSurviveSigkill(opts: {
  args: string[];
  target: string;
  persisted: () => Promise<boolean>;
  whileFirst?: (child: ProxyChild) => void | Promise<void>;
}): Promise<void> {
  const token = 'tok-' + String(Math.random()).slice(2);
  const env = { CONFIGPROXY_AUTH_TOKEN: token };
  const first = await spawnProxy(opts.args, env);
  try {
    await opts.whileFirst?.(first);
    const res = await fetch(`http://127.0.0.1:${first.apiPort}/api/routes/user/alice`, {
      method: 'POST',
      headers: { Authorization: `token ${token}` },
      body: JSON.stringify({ target: opts.target }),
    });
    if (res.status !== 201) throw new Error(`POST /api/routes/user/alice: HTTP ${res.status}`);
    // Writes are debounced: wait until the route is stored, then kill hard.
    await waitFor(opts.persisted, 5000, 'the route to be stored');
  } finally {
    first.proc.kill('SIGKILL');
    await first.exited;
  }
  const second = await spawnProxy(opts.args, env);
  let failure: unknown;
  try {
    const res = await fetch(`http://127.0.0.1:${second.publicPort}/user/alice/lab`);
    if (res.status !== 200) throw new Error(`the restarted proxy answered /user/alice/lab with HTTP ${res.status}`);
    const echo = (await res.json()) as { url: string };
    if (echo.url !== '/user/alice/lab') throw new Error(`the restarted proxy forwarded ${echo.url}`);
  } catch (err) {
    failure = err;
  }
  second.proc.kill('SIGTERM');
  const code = await second.exited;
  if (failure !== undefined) throw failure;
  if (code !== 0) throw new Error(`the restarted proxy exited with ${code} on SIGTERM`);
}

