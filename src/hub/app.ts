import { auditRoutes } from '../api/audit.js';
import os from 'node:os';
import path from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyFormbody from '@fastify/formbody';
import type { Logger } from 'pino';
import type { Config, ConfigHooks } from '../config/schema.js';
import { migrate, openDatabase, type Database } from '../db/database.js';
import { CryptKeeper } from '../lib/crypto.js';
import { persistentSecret } from '../lib/secrets.js';
import { HubError } from '../lib/errors.js';
import { quotePath, urlJoin } from '../lib/names.js';
import type { Proxy } from '../proxy/proxy.js';
import { ChpClient } from '../proxy/chp-client.js';
import { MultiProxy } from '../proxy/multi-proxy.js';
import type { Spawner } from '../spawners/spawner.js';
import type { Authenticator } from '../auth/authenticator.js';
import { hubUserTokens } from '../auth/user-tokens.js';
import { SpawnerBackends } from '../spawners/backends.js';
import { createAuthenticator } from '../auth/registry.js';
import { checkAuthStateKey } from '../auth/auth-state.js';
import { checkUserTokenBackends } from '../auth/check-user-token-backends.js';
import { usersRoutes } from '../api/users.js';
import { serversRoutes } from '../api/servers.js';
import { tokensRoutes } from '../api/tokens.js';
import { groupsRoutes } from '../api/groups.js';
import { servicesRoutes } from '../api/services.js';
import { portReportRoutes } from '../api/port-report.js';
import { hubRoutes, JUPYTERHUB_API_VERSION } from '../api/hub.js';
import { assetRoutes } from '../web/assets.js';
import { oauthRoutes } from '../oauth/provider.js';
import { loginRoutes } from '../web/login.js';
import { redirectLoginRoutes } from '../web/redirect-login.js';
import { homeRoutes } from '../web/home.js';
import { spawnRoutes } from '../web/spawn.js';
import { tokenRoutes } from '../web/token.js';
import { adminRoutes } from '../web/admin.js';
import { redirectLocal, urlAfterPrefix } from '../web/redirect.js';
import type { Hub, HubUrls } from './context.js';
import { ServerManager } from './server-manager.js';
import { identify } from './identity.js';
import { IdentityCache } from './identity-cache.js';
import { proxyApiUrls } from './proxy-process.js';
import { prepareDataDir } from './data-dir.js';
import { liveSecurityHeaders } from './security-headers.js';
import { clientErrorHandler, connectRefusedHandler, errorHandler, expectationFailedHandler, frameworkErrorHandler, notFoundHandler, sendError } from './error-replies.js';
import { installCookies } from './request-cookies.js';
import { lazyRequestLoggers } from './request-logger.js';
import { trustedProxies } from './trusted-proxies.js';
import { ManagedServices } from '../services/managed-services.js';
import { PrometheusHubMetrics } from '../metrics/hub-metrics.js';
import { metricsRoutes, recordRequestDurations } from '../metrics/metrics-routes.js';

export interface BuildOptions {
  config: Config;
  hooks?: ConfigHooks;
  log: Logger;
  /** The proxy's API token (for the default ChpClient). */
  proxyToken?: string;
  /** Replace the backends (tests). */
  proxy?: Proxy;
  /** Replaces the configured back-ends with this one spawner (named `default`). */
  spawner?: Spawner;
  /** Replaces the configured back-ends. */
  spawners?: SpawnerBackends;
  authenticator?: Authenticator;
}

export interface BuiltHub {
  hub: Hub;
  app: FastifyInstance;
  database: Database;
  close(): Promise<void>;
}

export function hubUrls(config: Config): HubUrls {
  const base = config.base_url;
  const internal = config.hub.connect_url ?? `http://${config.hub.ip === '0.0.0.0' || config.hub.ip === '' ? '127.0.0.1' : config.hub.ip}:${config.hub.port}`;
  const hub = urlJoin(base, 'hub/');
  return { base, hub, internal: internal.replace(/\/+$/, ''), api: urlJoin(internal, base, 'hub/api') };
}

/** A ChpClient for `proxy.api_url`, or a MultiProxy over `proxy.api_urls` when it lists several. */
function defaultProxy(config: Config, authToken: string, log: Logger): Proxy {
  const apiUrls = proxyApiUrls(config);
  if (apiUrls.length === 1) return new ChpClient({ apiUrl: apiUrls[0]!, authToken });
  return MultiProxy.fromApiUrls(apiUrls, authToken, { log });
}

/** The cookie secret: GANYMEDE_COOKIE_SECRET / JPY_COOKIE_SECRET, else `<data_dir>/cookie_secret` (created once). */
export function cookieSecret(dataDir: string): string {
  return persistentSecret(path.join(dataDir, 'cookie_secret'), process.env['GANYMEDE_COOKIE_SECRET'], process.env['JPY_COOKIE_SECRET']);
}

/**
 * The composition root: opens the store, builds the backends and the HTTP
 * application, and wires them together. It starts nothing; see lifecycle.ts.
 */
export async function buildHub(opts: BuildOptions): Promise<BuiltHub> {
  const { config, log } = opts;
  const dataDir = path.resolve(config.data_dir);
  prepareDataDir(dataDir, log);
  const database = await openDatabase(config.db.url, dataDir);
  await migrate(database);
  const urls = hubUrls(config);
  const hooks = opts.hooks ?? {};
  const ref: { hub?: Hub } = {};
  const servers = new ServerManager(() => ref.hub!);
  // a registry per hub (tests build several in one process); swap queueLength for the spawn queue's own
  const metrics = new PrometheusHubMetrics({ db: database.db });
  const hub: Hub = {
    config,
    hooks,
    db: database.db,
    dialect: database.dialect,
    log,
    proxy: opts.proxy ?? defaultProxy(config, opts.proxyToken ?? config.proxy.auth_token ?? process.env['CONFIGPROXY_AUTH_TOKEN'] ?? '', log),
    spawners: opts.spawners ?? (opts.spawner ? SpawnerBackends.single(opts.spawner) : SpawnerBackends.fromConfig(config, { log, dataDir, userTokens: hubUserTokens(() => ref.hub!) })),
    authenticator: opts.authenticator ?? createAuthenticator(config, database.db, log, () => ref.hub?.config ?? config),
    crypt: CryptKeeper.fromEnv(),
    servers,
    managedServices: new ManagedServices(),
    metrics,
    identities: new IdentityCache(),
    urls,
    dataDir,
    cookieSecret: cookieSecret(dataDir),
    processId: `${process.pid}@${os.hostname()}:${Date.now()}`,
  };
  ref.hub = hub;
  try {
    checkAuthStateKey(config, hub.authenticator, hub.crypt);
    checkUserTokenBackends(config, hub.authenticator);
  } catch (err) {
    await database.close();
    throw err;
  }
  await hub.authenticator.init?.();
  try {
    await hub.spawners.init();
  } catch (err) {
    await hub.spawners.close(log);
    await database.close();
    throw err;
  }
  const app = buildApp(hub, metrics);
  return {
    hub,
    app,
    database,
    close: async () => {
      await hub.managedServices.stopAll();
      await app.close();
      await servers.close();
      await hub.spawners.close(log);
      await database.close();
      metrics.close();
    },
  };
}

function buildApp(hub: Hub, metrics: PrometheusHubMetrics): FastifyInstance {
  const apiPrefix = urlJoin(hub.urls.hub, 'api/');
  // the `headers` option is read when an answer is made: a live reload may replace it
  const errorShape = {
    apiPrefix,
    hubPrefix: hub.urls.hub,
    get headers() {
      return hub.config.headers;
    },
  };
  const app = Fastify({
    loggerInstance: hub.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // a request's logger is made when it logs (most log nothing)
    childLoggerFactory: lazyRequestLoggers,
    bodyLimit: hub.config.max_body_size,
    trustProxy: trustedProxies(hub.config.trusted_downstream_ips),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    // while closing, requests still arriving get a 503 in the hub's shape (the hook below), not Fastify's own JSON
    return503OnClosing: false,
    // errors before routing, and requests node's parser refuses: the same {status, message} / HTML shape
    frameworkErrors: frameworkErrorHandler(errorShape),
    clientErrorHandler: clientErrorHandler(errorShape, hub.log),
  });
  app.server.on('checkExpectation', expectationFailedHandler(errorShape));
  app.server.on('connect', connectRefusedHandler(errorShape));
  installCookies(app, hub.cookieSecret);
  app.register(fastifyFormbody);
  // An empty JSON body is no body (clients send Content-Type on bodiless requests).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonParser(() => new HubError(400, 'Request body is not valid JSON')));
  // Other types: JSON sent without its Content-Type is still read.
  app.addContentTypeParser('*', { parseAs: 'string' }, jsonParser(() => new HubError(415, 'Unsupported request body: send JSON (Content-Type: application/json)')));
  const extraHeaders = liveSecurityHeaders(() => hub.config.headers);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // (callback hooks: they run on every request, and an async hook costs a promise each time)
  app.addHook('onRequest', function hubHeaders(req, reply, done) {
    reply.header('X-JupyterHub-Version', JUPYTERHUB_API_VERSION);
    const extra = extraHeaders();
    for (const name in extra) reply.header(name, extra[name]!);
    if (!closing) return done();
    reply.header('Connection', 'close');
    // answered here: the request goes no further (done is not called)
    sendError(errorShape, req, reply, 503, 'The hub is shutting down; try again in a moment');
  });
  // Any successful change may revoke or change permissions: drop cached identities. The hook is
  // given to the routes that can change something (not GET or HEAD) as they are added, so reads run none.
  const dropIdentities = (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && reply.statusCode < 400) hub.identities.clear();
    done();
  };
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.every((m) => m === 'GET' || m === 'HEAD')) return;
    route.onResponse = [...(route.onResponse === undefined ? [] : Array.isArray(route.onResponse) ? route.onResponse : [route.onResponse]), dropIdentities];
  });
  recordRequestDurations(app, metrics);
  app.setErrorHandler(errorHandler(errorShape));
  app.setNotFoundHandler(notFoundHandler(errorShape));

  app.register(
    async (api) => {
      hubRoutes(api, hub);
      usersRoutes(api, hub);
      serversRoutes(api, hub);
      tokensRoutes(api, hub);
      groupsRoutes(api, hub);
      servicesRoutes(api, hub);
      portReportRoutes(api, hub);
      auditRoutes(api, hub);
      oauthRoutes(api, hub);
    },
    { prefix: apiPrefix.replace(/\/+$/, '') },
  );
  app.register(
    async (pages) => {
      homeRoutes(pages, hub);
      loginRoutes(pages, hub);
      redirectLoginRoutes(pages, hub);
      spawnRoutes(pages, hub);
      tokenRoutes(pages, hub);
      adminRoutes(pages, hub);
      metricsRoutes(pages, hub, metrics);
    },
    { prefix: hub.urls.hub.replace(/\/$/, '') },
  );
  assetRoutes(app, hub);
  // Requests the proxy sends to the hub because no route matched.
  const root = hub.urls.base;
  app.get(root === '/' ? '/' : root.replace(/\/$/, ''), async (_req, reply) => reply.redirect(hub.urls.hub, 302));
  // (any method: an API call to a stopped server is answered there with 424; 307 keeps the method and body)
  app.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    url: `${root}user/*`,
    handler: async (req, reply) => redirectLocal(reply, `${hub.urls.hub}user/${urlAfterPrefix(req, `${root}user/`)}`, hub.urls.hub, req.method === 'GET' ? 302 : 307),
  });
  // JupyterHub's user-redirect lives under the hub prefix (`/hub/user-redirect/…`, the link
  // nbgitpuller and the docs hand out); `/user-redirect/…` reaches the hub too (no route matches it).
  for (const prefix of [`${hub.urls.hub}user-redirect/`, `${root}user-redirect/`]) {
    app.get(`${prefix}*`, async (req, reply) => {
      const who = await identify(hub.db, req, true);
      const login = `${hub.urls.hub}login`;
      if (!who) return redirectLocal(reply, `${login}?next=${encodeURIComponent(req.url)}`, login);
      return redirectLocal(reply, `${root}user/${quotePath(who.user.name)}/${urlAfterPrefix(req, prefix)}`, `${hub.urls.hub}home`);
    });
  }
  return app;
}

/** A body parser reading JSON, where an empty body is no body (clients send Content-Type on bodiless requests). */
function jsonParser(onError: () => HubError) {
  return (_req: unknown, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) => {
    const text = body.toString().trim();
    if (!text) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(onError(), undefined);
    }
  };
}
