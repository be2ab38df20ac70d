/**
 * Ganymede's built-in proxy: a drop-in for configurable-http-proxy (CHP).
 * One listener forwards public traffic (HTTP and websockets) by longest path
 * prefix; a second one serves CHP's REST API for the hub.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { createApiHandler } from './api.js';
import { sendRefused } from './error-page.js';
import { rawErrorAnswer, wantsJson } from './own-answer.js';
import { handleWeb, hostName } from './forward.js';
import type { ProxyContext } from './forward.js';
import { limitConnectionsPerClient, onClientError, serverLimitOptions } from './limits.js';
import { createMetrics } from './metrics.js';
import type { ProxyMetrics } from './metrics.js';
import { RouteTable } from './route-table.js';
import { FileRouteStore } from './state-file.js';
import type { RouteStore } from './state-file.js';
import { apiServerOptions, readClientTls, readKeyPair, watchKeyPair } from './tls.js';
import type { ApiTlsFiles, ClientTlsFiles } from './tls.js';
import { UpstreamPools } from './upstreams.js';
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
  /** Another store for the routing table (takes precedence over `stateFile`). */
  routeStore?: RouteStore | undefined;
  /** Keep-alive timeout of client connections, in ms (default 5000, as CHP). */
  keepAliveTimeoutMs?: number | undefined;
  /** Add `X-Forwarded-*` headers (default true). */
  xForward?: boolean | undefined;
  /** Skip certificate checks on https targets. */
  insecure?: boolean | undefined;
  /** How long `close()` waits for in-flight requests before cutting them, in ms (default 10000). */
  drainTimeoutMs?: number | undefined;
  /** Route keys' first segment is a host name, matched against the `Host` header (CHP `--host-routing`). */
  hostRouting?: boolean | undefined;
  /** Largest request head accepted on the public port, in bytes (default 16 KiB; more gets 431). */
  maxHeaderSize?: number | undefined;
  /** Concurrent connections allowed per client address on the public port (default 0: no limit). */
  maxConnectionsPerClient?: number | undefined;
  /** Time allowed to receive a whole request (head and body), in ms (node's `requestTimeout`; 0 = none). */
  requestTimeoutMs?: number | undefined;
  /** PEM certificate (chain) file: serve the public port over HTTPS. Needs `sslKey`. */
  sslCert?: string | undefined;
  /** PEM private key file of `sslCert`. */
  sslKey?: string | undefined;
  /** PEM file of intermediate CA certificates sent with `sslCert` (CHP `--ssl-ca`). */
  sslCa?: string | undefined;
  /** Headers added to every proxied request, replacing the client's of the same name (CHP `--custom-header`). */
  customHeaders?: Record<string, string> | undefined;
  /** A separate, unauthenticated listener for `GET /metrics` (CHP `--metrics-port`); off when undefined. */
  metricsPort?: number | undefined;
  /** Address of the metrics listener (CHP `--metrics-ip`; default all interfaces). */
  metricsIp?: string | undefined;
  /** A plain-HTTP listener that redirects every request to HTTPS (CHP `--redirect-port`); needs TLS. */
  redirectPort?: number | undefined;
  /** The port the redirect points to (CHP `--redirect-to`; default the public port). */
  redirectTo?: number | undefined;
  /** The API port over HTTPS (CHP `--api-ssl-*`, JupyterHub's `internal_ssl`). */
  apiTls?: ApiTlsFiles | undefined;
  /** Client certificate and CA for https targets (CHP `--client-ssl-*`). */
  clientTls?: ClientTlsFiles | undefined;
  /** How often the certificate files are checked for changes, in ms (default 2000). */
  tlsReloadIntervalMs?: number | undefined;
  /** Include the process metrics (`process-metrics.ts`) in `/metrics` (default true). */
  processMetrics?: boolean | undefined;
}

export interface RunningProxy {
  /** The public port actually bound. */
  publicPort: number;
  /** The API port actually bound. */
  apiPort: number;
  /** True when the public port serves HTTPS. */
  secure: boolean;
  /** The metrics port actually bound, when one was asked for. */
  metricsPort?: number;
  /** The HTTP-to-HTTPS redirect port actually bound, when one was asked for. */
  redirectPort?: number;
  /** The live routing table (for tests and embedding). */
  table: RouteTable;
  /** Stops listening, drains in-flight requests, closes websockets and saves the state file. */
  close(): Promise<void>;
}

function listen(server: http.Server | https.Server, port: number, ip: string): Promise<number> {
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

function closeServer(server: http.Server | https.Server, drainMs: number): Promise<void> {
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

/** The `--metrics-port` listener: `GET /metrics` without a token (as CHP), 404 for anything else. */
function metricsHandler(metrics: ProxyMetrics): http.RequestListener {
  return (req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?', 1)[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('Not Found');
      return;
    }
    metrics.render().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      },
      () => {
        res.writeHead(500);
        res.end();
      },
    );
  };
}

/** The `--redirect-port` listener: 301 to the same host and path over HTTPS on port `to` (443 is left out of the URL). */
function redirectHandler(to: number): http.RequestListener {
  return (req, res) => {
    const host = hostName(req.headers.host);
    if (host === '') {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('Bad Request: no Host header');
      return;
    }
    const authority = `${host.includes(':') ? `[${host}]` : host}${to === 443 ? '' : `:${to}`}`;
    res.writeHead(301, { Location: `https://${authority}${req.url ?? '/'}`, 'Content-Length': 0 });
    res.end();
  };
}

/**
 * Starts the proxy. Resolves once both listeners are bound (so `publicPort`
 * and `apiPort` are the real ports even when 0 was asked for).
 * Rejects if a port cannot be bound, the state file cannot be read, or the
 * TLS certificate and key cannot be loaded.
 */
export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const log = opts.logger;
  if ((opts.sslCert === undefined) !== (opts.sslKey === undefined)) {
    throw new Error('TLS needs both a certificate (--ssl-cert) and a key (--ssl-key)');
  }
  const tlsFiles = opts.sslCert !== undefined && opts.sslKey !== undefined ? { certFile: opts.sslCert, keyFile: opts.sslKey, caFile: opts.sslCa } : undefined;
  if (opts.redirectPort !== undefined && tlsFiles === undefined) {
    throw new Error('--redirect-port redirects to HTTPS and needs --ssl-cert and --ssl-key');
  }
  // Read before anything else starts: a bad pair must stop the proxy.
  const keyPair = tlsFiles === undefined ? undefined : readKeyPair(tlsFiles);
  const apiTls = opts.apiTls === undefined ? undefined : apiServerOptions(opts.apiTls);
  const clientTls = opts.clientTls === undefined ? undefined : readClientTls(opts.clientTls);
  const table = new RouteTable();
  // Response heads from targets get the same size limit as request heads from clients.
  const upstreams = new UpstreamPools({ insecure: opts.insecure === true, maxResponseHeadBytes: opts.maxHeaderSize, clientTls });

  const store = opts.routeStore ?? (opts.stateFile === undefined ? undefined : new FileRouteStore(opts.stateFile, log));
  if (store !== undefined) {
    const loaded = await store.load(table);
    log.info({ store: store.description, routes: loaded }, 'loaded proxy state');
  }
  if (opts.defaultTarget !== undefined && opts.defaultTarget !== '') {
    table.set('/', { target: opts.defaultTarget });
    store?.schedule('/');
  }

  const openSockets = new Set<Duplex>();
  const metrics = createMetrics({ routes: () => table.size, openWebsockets: () => openSockets.size }, opts.processMetrics !== false);

  const ctx: ProxyContext = {
    table,
    upstreams,
    log,
    timeoutMs: opts.timeoutMs,
    errorTarget: opts.errorTarget === '' ? undefined : opts.errorTarget,
    xForward: opts.xForward !== false,
    hostRouting: opts.hostRouting === true,
    secure: keyPair !== undefined,
    metrics,
    customHeaders: Object.entries(opts.customHeaders ?? {}).flat(),
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => handleWeb(ctx, req, res);
  const serverOpts = serverLimitOptions(opts);
  const publicServer: http.Server | https.Server =
    keyPair === undefined ? http.createServer(serverOpts, onRequest) : https.createServer({ ...serverOpts, ...keyPair }, onRequest);
  const stopTlsWatch =
    publicServer instanceof https.Server && tlsFiles !== undefined
      ? watchKeyPair(publicServer, tlsFiles, log, opts.tlsReloadIntervalMs)
      : undefined;
  limitConnectionsPerClient(publicServer, opts.maxConnectionsPerClient ?? 0, log);
  publicServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    metrics.websocketUpgrade();
    handleUpgrade(ctx, req, socket, head, openSockets);
  });
  publicServer.on('clientError', onClientError(log));
  // CONNECT: node closes the socket without a word when nobody listens; the proxy tunnels nothing, and says so.
  publicServer.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    if (!socket.writable) return void socket.destroy();
    const answer = rawErrorAnswer(405, 'CONNECT is not supported: the proxy forwards only requests for its routes', wantsJson(req.url, req.headers.accept));
    socket.end(answer, () => socket.destroy());
  });
  // An `Expect` other than 100-continue: node's own 417 has no body and none of the proxy's headers.
  publicServer.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    sendRefused(ctx, req, res, 417, 'the only expectation the proxy meets is "Expect: 100-continue"');
  });

  const onApiRequest = createApiHandler({
    table,
    log,
    authToken: opts.authToken === '' ? undefined : opts.authToken,
    onChange: (key) => store?.schedule(key),
    hostRouting: ctx.hostRouting,
    metrics: () => metrics.render(),
  });
  const apiServer = apiTls === undefined ? http.createServer(onApiRequest) : https.createServer(apiTls, onApiRequest);

  // Close the connection pools of targets that no longer have a route.
  const sweeper = setInterval(() => upstreams.sweep([...table.entries()].map((e) => e.data.target)), 60_000);
  sweeper.unref();

  const metricsServer = opts.metricsPort === undefined ? undefined : http.createServer(metricsHandler(metrics));
  const redirectServer = opts.redirectPort === undefined ? undefined : http.createServer();

  let publicPort: number;
  let apiPort: number;
  let metricsPort: number | undefined;
  let redirectPort: number | undefined;
  try {
    publicPort = await listen(publicServer, opts.port, opts.ip);
    apiPort = await listen(apiServer, opts.apiPort, opts.apiIp);
    if (metricsServer !== undefined) metricsPort = await listen(metricsServer, opts.metricsPort ?? 0, opts.metricsIp ?? '');
    if (redirectServer !== undefined) {
      redirectServer.on('request', redirectHandler(opts.redirectTo ?? publicPort));
      redirectPort = await listen(redirectServer, opts.redirectPort ?? 0, opts.ip);
    }
  } catch (err) {
    clearInterval(sweeper);
    stopTlsWatch?.();
    metrics.close();
    publicServer.close();
    apiServer.close();
    metricsServer?.close();
    redirectServer?.close();
    await store?.close();
    throw err;
  }
  if (opts.authToken === undefined || opts.authToken === '') log.warn('proxy REST API is not authenticated');
  log.info(
    { publicPort, apiPort, metricsPort, redirectPort, tls: ctx.secure, hostRouting: ctx.hostRouting, ip: opts.ip, apiIp: opts.apiIp, defaultTarget: opts.defaultTarget, routes: table.size },
    'proxy listening',
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(sweeper);
      stopTlsWatch?.();
      const drainMs = opts.drainTimeoutMs ?? 10_000;
      for (const socket of openSockets) socket.destroy();
      openSockets.clear();
      await Promise.all([
        closeServer(publicServer, drainMs),
        closeServer(apiServer, drainMs),
        ...(metricsServer ? [closeServer(metricsServer, drainMs)] : []),
        ...(redirectServer ? [closeServer(redirectServer, drainMs)] : []),
      ]);
      upstreams.destroy();
      metrics.close();
      await store?.close(); // with the latest last_activity values
      log.info('proxy stopped');
    })();
    return closing;
  };
  return {
    publicPort,
    apiPort,
    secure: ctx.secure,
    table,
    close,
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    ...(redirectPort !== undefined ? { redirectPort } : {}),
  };
}
