/**
 * Command line of the built-in proxy, accepting configurable-http-proxy's
 * flags so the hub (or a Helm chart) can start it in CHP's place.
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from '../../lib/log.js';
import type { Level, Logger } from 'pino';
import { CONNECTION_PROTECTED } from './connection-header.js';
import { startProxy } from './server.js';
import { DatabaseRouteStore } from './state-db.js';
import type { ProxyOptions } from './server.js';
import type { ApiTlsFiles, ClientTlsFiles } from './tls.js';

export interface ProxyCliArgs {
  ip: string;
  port: number;
  apiIp: string;
  apiPort: number;
  defaultTarget: string | undefined;
  errorTarget: string | undefined;
  logLevel: Level;
  pidFile: string | undefined;
  stateFile: string | undefined;
  /** Database URL the routing table is kept in (`--state-db`; not with `stateFile`). */
  stateDb: string | undefined;
  /** This proxy's rows in `stateDb` (`--state-name`, default `default`). */
  stateName: string | undefined;
  timeoutMs: number | undefined;
  keepAliveTimeoutMs: number | undefined;
  xForward: boolean;
  insecure: boolean;
  hostRouting: boolean;
  maxHeaderSize: number | undefined;
  maxConnectionsPerClient: number | undefined;
  requestTimeoutMs: number | undefined;
  sslCert: string | undefined;
  sslKey: string | undefined;
  sslCa: string | undefined;
  /** `--custom-header name:value` (repeatable). */
  customHeaders: Record<string, string>;
  metricsIp: string | undefined;
  metricsPort: number | undefined;
  redirectPort: number | undefined;
  redirectTo: number | undefined;
  /** `--api-ssl-*`: the API port over HTTPS, optionally asking clients for certificates (JupyterHub's `internal_ssl`). */
  apiTls: ApiTlsFiles | undefined;
  /** `--client-ssl-*`: the certificate this proxy presents to https targets, and the CA it checks them against. */
  clientTls: ClientTlsFiles | undefined;
  /** Flags accepted for CHP compatibility that this proxy does not implement. */
  ignored: string[];
}

export const PROXY_USAGE = `Usage: ganymede-proxy [options]

  --ip <ip>                  public address ('' = all interfaces; default '')
  --port <n>                 public port (default 8000)
  --api-ip <ip>              API address (default localhost)
  --api-port <n>             API port (default: port + 1)
  --default-target <url>     target of the '/' route
  --error-target <url>       fetch error pages from <url>/<code>?url=<path>
  --state-file <file>        save routes to <file> and load them at start
  --state-db <url>           keep routes in a database instead: sqlite:////abs/file,
                             sqlite:///relative/file or postgres://user:pass@host/db
  --state-name <name>        this proxy's rows in --state-db (default 'default')
  --timeout <ms>             upstream inactivity timeout for HTTP requests
  --keep-alive-timeout <ms>  keep-alive timeout of client connections
  --request-timeout <ms>     time to receive a whole request (0 = none; default 300000)
  --max-header-size <bytes>  largest request head (default 16384; more gets 431)
  --max-connections-per-client <n>
                             open connections allowed per client address (default 0 = no limit)
  --host-routing             route keys start with a host name (/<host>/<path>)
  --ssl-cert <file>          PEM certificate: serve the public port over HTTPS
  --ssl-key <file>           PEM key of --ssl-cert (both files are reloaded when they change)
  --ssl-ca <file>            PEM intermediate CA certificates sent with --ssl-cert
  --redirect-port <n>        plain-HTTP port answering every request with a redirect to HTTPS
  --redirect-to <n>          port the redirect points to (default: --port)
  --custom-header <k:v>      header added to every proxied request (repeatable)
  --proxy-timeout <ms>       same as --timeout (CHP's name for the upstream timeout)
  --metrics-port <n>         serve GET /metrics without a token on this port
  --metrics-ip <ip>          address of the metrics port ('' = all interfaces; default '')
  --no-x-forward             do not add X-Forwarded-For/-Port/-Proto/-Host headers
  --insecure                 skip certificate checks on https targets
  --api-ssl-cert <file>      PEM certificate: serve the API port over HTTPS (with --api-ssl-key)
  --api-ssl-key <file>       PEM key of --api-ssl-cert
  --api-ssl-ca <file>        PEM CA certificates that API client certificates are checked against
  --api-ssl-request-cert     ask API clients for a certificate
  --api-ssl-reject-unauthorized
                             refuse API clients without a valid certificate (with --api-ssl-request-cert)
  --client-ssl-cert <file>   PEM certificate presented to https targets (with --client-ssl-key)
  --client-ssl-key <file>    PEM key of --client-ssl-cert
  --client-ssl-ca <file>     PEM CA certificates https targets are checked against (instead of the system's)
  --client-ssl-request-cert, --client-ssl-reject-unauthorized
                             accepted for CHP; https targets are always checked unless --insecure
  --log-level <level>        debug, info, warn or error (default info)
  --pid-file <file>          write the process id to <file>
The API token is read from the CONFIGPROXY_AUTH_TOKEN environment variable.
The API port also serves GET /metrics (Prometheus text; needs the token when one is set).
`;

const LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** CHP flags taking a value that we accept and ignore (with a warning). */
const IGNORED_WITH_VALUE: string[] = [];
/** CHP switches that we accept and ignore (with a warning). */
const IGNORED_SWITCHES = ['no-prepend-path', 'no-include-prefix', 'auto-rewrite', 'change-origin'];

function toInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${flag} expects a non-negative integer, got '${value}'`);
  return Number(value);
}

/** `['X-A: 1', 'X-B:2']` -> `{ 'X-A': '1', 'X-B': '2' }`; throws on an entry without a name or a colon, or naming a framing header. */
export function parseCustomHeaders(values: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of values ?? []) {
    const colon = entry.indexOf(':');
    const name = colon === -1 ? '' : entry.slice(0, colon).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new Error(`--custom-header expects 'name: value', got '${entry}'`);
    }
    const lower = name.toLowerCase();
    if (CONNECTION_PROTECTED.has(lower) || lower === 'connection') {
      throw new Error(`--custom-header cannot set '${name}': the proxy computes the framing and routing headers itself`);
    }
    out[name] = entry.slice(colon + 1).trim();
  }
  return out;
}

/** Parses CHP-style arguments (`--flag value` or `--flag=value`). Throws on unknown flags or bad values. */
export function parseProxyArgs(argv: string[]): ProxyCliArgs & { help: boolean } {
  const str = { type: 'string' } as const;
  const bool = { type: 'boolean' } as const;
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      ip: str,
      port: str,
      'api-ip': str,
      'api-port': str,
      'default-target': str,
      'error-target': str,
      'log-level': str,
      'pid-file': str,
      'state-file': str,
      'state-db': str,
      'state-name': str,
      timeout: str,
      'keep-alive-timeout': str,
      'request-timeout': str,
      'max-header-size': str,
      'max-connections-per-client': str,
      'ssl-cert': str,
      'ssl-key': str,
      'ssl-ca': str,
      'custom-header': { type: 'string', multiple: true },
      'proxy-timeout': str,
      'metrics-ip': str,
      'metrics-port': str,
      'redirect-port': str,
      'redirect-to': str,
      'host-routing': bool,
      'no-x-forward': bool,
      insecure: bool,
      'api-ssl-cert': str,
      'api-ssl-key': str,
      'api-ssl-ca': str,
      'api-ssl-request-cert': bool,
      'api-ssl-reject-unauthorized': bool,
      'client-ssl-cert': str,
      'client-ssl-key': str,
      'client-ssl-ca': str,
      'client-ssl-request-cert': bool,
      'client-ssl-reject-unauthorized': bool,
      help: { type: 'boolean', short: 'h' },
      ...Object.fromEntries(IGNORED_WITH_VALUE.map((name) => [name, { type: 'string', multiple: true } as const])),
      ...Object.fromEntries(IGNORED_SWITCHES.map((name) => [name, bool])),
    },
  });
  const get = (name: string): string | undefined => {
    const v: unknown = (values as Record<string, unknown>)[name];
    return typeof v === 'string' ? v : undefined;
  };
  const ip = get('ip') ?? '';
  const port = toInt('port', get('port')) ?? 8000;
  const logLevel = (get('log-level') ?? 'info').toLowerCase();
  if (!(LEVELS as readonly string[]).includes(logLevel)) {
    throw new Error(`--log-level must be one of ${LEVELS.join(', ')}, got '${logLevel}'`);
  }
  if (get('state-file') && get('state-db')) {
    throw new Error('--state-file and --state-db cannot be used together: the routes are kept in one place');
  }
  if (get('state-name') && !get('state-db')) throw new Error('--state-name needs --state-db');
  const pair = (prefix: string): { certFile: string; keyFile: string } | undefined => {
    const [certFile, keyFile] = [get(`${prefix}-cert`) || undefined, get(`${prefix}-key`) || undefined];
    if ((certFile === undefined) !== (keyFile === undefined)) throw new Error(`--${prefix}-cert and --${prefix}-key go together`);
    return certFile === undefined || keyFile === undefined ? undefined : { certFile, keyFile };
  };
  const apiPair = pair('api-ssl');
  const apiCa = get('api-ssl-ca') || undefined;
  const requestCert = values['api-ssl-request-cert'] === true;
  if (apiPair === undefined && (apiCa !== undefined || requestCert || values['api-ssl-reject-unauthorized'] === true)) {
    throw new Error('--api-ssl-ca, --api-ssl-request-cert and --api-ssl-reject-unauthorized need --api-ssl-cert and --api-ssl-key');
  }
  const clientPair = pair('client-ssl');
  const clientCa = get('client-ssl-ca') || undefined;
  const ignored = [...IGNORED_WITH_VALUE, ...IGNORED_SWITCHES].filter(
    (name) => (values as Record<string, unknown>)[name] !== undefined,
  );
  return {
    ip: ip === '*' ? '' : ip,
    port,
    apiIp: get('api-ip') ?? 'localhost',
    apiPort: toInt('api-port', get('api-port')) ?? (port === 0 ? 0 : port + 1),
    defaultTarget: get('default-target') || undefined,
    errorTarget: get('error-target') || undefined,
    logLevel: logLevel as Level,
    pidFile: get('pid-file') || undefined,
    stateFile: get('state-file') || undefined,
    stateDb: get('state-db') || undefined,
    stateName: get('state-name') || undefined,
    timeoutMs: toInt('timeout', get('timeout')) ?? toInt('proxy-timeout', get('proxy-timeout')),
    keepAliveTimeoutMs: toInt('keep-alive-timeout', get('keep-alive-timeout')),
    xForward: values['no-x-forward'] !== true,
    insecure: values.insecure === true,
    hostRouting: values['host-routing'] === true,
    maxHeaderSize: toInt('max-header-size', get('max-header-size')),
    maxConnectionsPerClient: toInt('max-connections-per-client', get('max-connections-per-client')),
    requestTimeoutMs: toInt('request-timeout', get('request-timeout')),
    sslCert: get('ssl-cert') || undefined,
    sslKey: get('ssl-key') || undefined,
    sslCa: get('ssl-ca') || undefined,
    customHeaders: parseCustomHeaders(values['custom-header']),
    metricsIp: get('metrics-ip'),
    metricsPort: toInt('metrics-port', get('metrics-port')),
    redirectPort: toInt('redirect-port', get('redirect-port')),
    redirectTo: toInt('redirect-to', get('redirect-to')),
    apiTls: apiPair === undefined ? undefined : { ...apiPair, caFile: apiCa, requestCert, rejectUnauthorized: values['api-ssl-reject-unauthorized'] === true },
    clientTls: clientPair === undefined && clientCa === undefined ? undefined : { ...clientPair, caFile: clientCa },
    ignored,
    help: values.help === true,
  };
}

/** Builds the options of {@link startProxy} from parsed arguments and the environment. */
export function proxyOptionsFromArgs(args: ProxyCliArgs, logger: Logger, env: NodeJS.ProcessEnv = process.env): ProxyOptions {
  const token = env['CONFIGPROXY_AUTH_TOKEN'];
  return {
    ip: args.ip,
    port: args.port,
    apiIp: args.apiIp,
    apiPort: args.apiPort,
    authToken: token === undefined || token === '' ? undefined : token,
    defaultTarget: args.defaultTarget,
    errorTarget: args.errorTarget,
    logger,
    timeoutMs: args.timeoutMs,
    stateFile: args.stateFile,
    routeStore: args.stateDb === undefined ? undefined : new DatabaseRouteStore(args.stateDb, { name: args.stateName, logger }),
    keepAliveTimeoutMs: args.keepAliveTimeoutMs,
    xForward: args.xForward,
    insecure: args.insecure,
    hostRouting: args.hostRouting,
    maxHeaderSize: args.maxHeaderSize,
    maxConnectionsPerClient: args.maxConnectionsPerClient,
    requestTimeoutMs: args.requestTimeoutMs,
    sslCert: args.sslCert,
    sslKey: args.sslKey,
    sslCa: args.sslCa,
    customHeaders: args.customHeaders,
    metricsIp: args.metricsIp,
    metricsPort: args.metricsPort,
    redirectPort: args.redirectPort,
    redirectTo: args.redirectTo,
    apiTls: args.apiTls,
    clientTls: args.clientTls,
  };
}

/**
 * Runs the proxy as a process: parses `argv` (without `node` and the script),
 * starts listening, writes the pid file, and on SIGTERM/SIGINT drains,
 * removes the pid file and exits 0. Resolves once the proxy is listening.
 * Throws (before listening) on bad arguments or a port that cannot be bound.
 */
export async function runProxyCli(argv: string[]): Promise<void> {
  const args = parseProxyArgs(argv);
  if (args.help) {
    process.stdout.write(PROXY_USAGE);
    return;
  }
  // the hub's logger: strings from requests clipped and escaped, secrets redacted
  const logger = createLogger(args.logLevel, { base: { name: 'ganymede-proxy', pid: process.pid } });
  for (const flag of args.ignored) logger.warn({ flag: `--${flag}` }, 'flag not supported by the built-in proxy; ignored');

  const proxy = await startProxy(proxyOptionsFromArgs(args, logger));
  const pidFile = args.pidFile;
  if (pidFile !== undefined) {
    writeFileSync(pidFile, String(process.pid));
    process.once('exit', () => {
      try {
        unlinkSync(pidFile);
      } catch {
        // already gone
      }
    });
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal; exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    proxy.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: String(err) }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
