/**
 * Ganymede's built-in proxy: a drop-in for configurable-http-proxy (CHP).
 * One listener forwards public traffic (HTTP and websockets) by longest path
 * prefix; a second one serves CHP's REST API for the hub.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { AgentPool } from './agents.js';
import { createApiHandler } from './api.js';
import { handleWeb } from './forward.js';
import type { ProxyContext } from './forward.js';
import { RouteTable } from './route-table.js';
import { StateFileWriter, loadStateFile } from './state-file.js';
import { handleUpgrade } from './websocket.js';

export interface ProxyOptions {
  /** Public address; `''` means all interfaces. */
  ip: string;
  /** Public port; 0 picks a free one. */
  port: number;
  /** API address; `''` means all interfaces. */
  apiIp: string;
  /** API port; 0 picks a free one. */
  apiPort: number;
  /** Token the API requires (`Authorization: token <t>`); no token means an open API. */
  authToken?: string | undefined;
  /** Target of the `/` route, set at start (CHP `--default-target`). */
  defaultTarget?: string | undefined;
  /** Where to fetch error pages: `<errorTarget>/<code>?url=<path>` (CHP `--error-target`). */
  errorTarget?: string | undefined;
  logger: Logger;
  /** Upstream inactivity timeout for proxied HTTP requests, in ms. */
  timeoutMs?: number | undefined;
  /** JSON file the routing table is saved to on every change and loaded from at start. */
  stateFile?: string | undefined;
  /** Keep-alive timeout of client connections, in ms (default 5000, as CHP). */
  keepAliveTimeoutMs?: number | undefined;
  /** Add `X-Forwarded-*` headers (default true). */
  xForward?: boolean | undefined;
  /** Skip certificate checks on https targets. */
  insecure?: boolean | undefined;
  /** How long `close()` waits for in-flight requests before cutting them, in ms (default 10000). */
  drainTimeoutMs?: number | undefined;
}

export interface RunningProxy {
  /** The public port actually bound. */
  publicPort: number;
  /** The API port actually bound. */
  apiPort: number;
  /** The live routing table (for tests and embedding). */
  table: RouteTable;
  /** Stops listening, drains in-flight requests, closes websockets and saves the state file. */
  close(): Promise<void>;
}

function listen(server: http.Server, port: number, ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = (): void => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    };
    if (ip === '') server.listen(port, onListening);
    else server.listen(port, ip, onListening);
  });
}

function closeServer(server: http.Server, drainMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), drainMs);
    // Keep-alive connections become idle as their last response ends: close them then.
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearTimeout(timer);
      clearInterval(idle);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * Starts the proxy. Resolves once both listeners are bound (so `publicPort`
 * and `apiPort` are the real ports even when 0 was asked for).
 * Rejects if a port cannot be bound or the state file cannot be read.
 */
export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const log = opts.logger;
  const table = new RouteTable();
  const agents = new AgentPool({ insecure: opts.insecure === true });

  if (opts.stateFile !== undefined) {
    const loaded = await loadStateFile(opts.stateFile, table, log);
    log.info({ file: opts.stateFile, routes: loaded }, 'loaded proxy state');
  }
  const writer = opts.stateFile === undefined ? undefined : new StateFileWriter(opts.stateFile, table, log);
  if (opts.defaultTarget !== undefined && opts.defaultTarget !== '') {
    table.set('/', { target: opts.defaultTarget });
    writer?.schedule();
  }

  const ctx: ProxyContext = {
    table,
    agents,
    log,
    timeoutMs: opts.timeoutMs,
    errorTarget: opts.errorTarget === '' ? undefined : opts.errorTarget,
    xForward: opts.xForward !== false,
  };
  const openSockets = new Set<Duplex>();

  const publicServer = http.createServer({ keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5000 }, (req, res) => {
    handleWeb(ctx, req, res);
  });
  publicServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    handleUpgrade(ctx, req, socket, head, openSockets);
  });
  publicServer.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    log.debug({ err: err.code ?? err.message }, 'client error on public port');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    socket.destroy();
  });

  const apiServer = http.createServer(
    createApiHandler({ table, log, authToken: opts.authToken === '' ? undefined : opts.authToken, onChange: () => writer?.schedule() }),
  );

  // Drop keep-alive agents of targets that no longer have a route.
  const sweeper = setInterval(() => agents.sweep([...table.entries()].map((e) => e.data.target)), 60_000);
  sweeper.unref();

  let publicPort: number;
  let apiPort: number;
  try {
    publicPort = await listen(publicServer, opts.port, opts.ip);
    apiPort = await listen(apiServer, opts.apiPort, opts.apiIp);
  } catch (err) {
    clearInterval(sweeper);
    publicServer.close();
    apiServer.close();
    await writer?.flush();
    throw err;
  }
  if (opts.authToken === undefined || opts.authToken === '') log.warn('proxy REST API is not authenticated');
  log.info(
    { publicPort, apiPort, ip: opts.ip, apiIp: opts.apiIp, defaultTarget: opts.defaultTarget, routes: table.size },
    'proxy listening',
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(sweeper);
      const drainMs = opts.drainTimeoutMs ?? 10_000;
      for (const socket of openSockets) socket.destroy();
      openSockets.clear();
      await Promise.all([closeServer(publicServer, drainMs), closeServer(apiServer, drainMs)]);
      agents.destroy();
      if (writer !== undefined) {
        writer.schedule(); // save the latest last_activity values too
        await writer.flush();
      }
      log.info('proxy stopped');
    })();
    return closing;
  };
  return { publicPort, apiPort, table, close };
}
