/** Shared fixtures of the proxy tests: upstream servers, a proxy on free ports, API calls. */
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { pino } from 'pino';
import type { Logger } from 'pino';
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
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

/** A port that was free a moment ago (for child processes that need a fixed port). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

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
