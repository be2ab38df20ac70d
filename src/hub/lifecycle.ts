import type { Logger } from 'pino';
import type { Config, ConfigHooks } from '../config/schema.js';
import { checkAuthStateKey } from '../auth/auth-state.js';
import { CryptKeeper } from '../lib/crypto.js';
import { ensureUser } from '../db/repos/users.js';
import { normalizeUsername } from '../lib/names.js';
import { buildHub, hubUrls, type BuiltHub } from './app.js';
import { ensureProxy, proxyApiUrls, proxyToken } from './proxy-process.js';
import { reconcileRoutes } from './reconcile.js';
import { applyServices, startServices, storeServices } from '../services/apply-services.js';
import { configuredServices } from '../services/service-config.js';
import { listenError } from '../lib/listen-error.js';
import path from 'node:path';
import { prepareDataDir } from './data-dir.js';
import { startActivityPolling } from './route-activity.js';
import { startCuller } from '../services/culler/culler-runner.js';
import { cullerNameClash } from '../services/culler/culler-service.js';
import { ConfigError } from '../lib/errors.js';
import { ConfigReloader } from './reload.js';

export interface RunningHub extends BuiltHub {
  /** The address the hub listens on. */
  address: string;
  /** What to show the operator once, after the start-up lines (a generated password). */
  notice?: string;
  stop(): Promise<void>;
}

/** Where the configuration came from, so that a live reload reads it again (src/hub/reload.ts). */
export interface ReloadSource {
  /** The config file (watched for changes unless `watch` is false). */
  file: string | undefined;
  /** The command line's overrides, applied over the file at every reload as at start. */
  overrides?: Record<string, unknown>;
  /** Watch the file and the secret files it names (default true). */
  watch?: boolean;
}

/**
 * Starts the hub in order: store, proxy (reused when running), re-attach to
 * servers, routes, then listen. Servers and the proxy are left running when
 * the hub stops, so a restart goes unnoticed by users.
 */
export async function startHub(config: Config, hooks: ConfigHooks, log: Logger, source: ReloadSource = { file: undefined, watch: false }): Promise<RunningHub> {
  const t0 = Date.now();
  const clash = config.cull.enabled ? cullerNameClash(config.services, config.roles) : undefined;
  if (clash) throw new ConfigError(`config: ${clash}`);
  const dataDir = path.resolve(config.data_dir);
  prepareDataDir(dataDir, log);
  const token = proxyToken(config, dataDir);
  // auth.enable_auth_state without a key: refused before the proxy starts (a backend that
  // needs auth state is checked when it is built, in buildHub)
  checkAuthStateKey(config, { kind: config.auth.kind }, CryptKeeper.fromEnv());
  // The proxy starts (or is found) while the store opens and the app is built.
  const proxyReady = ensureProxy({ config, dataDir, urls: hubUrls(config), token, log });
  proxyReady.catch(() => undefined);
  const built = await buildHub({ config, hooks, log, proxyToken: token });
  const { hub, app } = built;
  for (const name of config.admin_users) await ensureUser(hub.db, normalizeUsername(name), true);
  // services, then the roles (they may name services), once, before anything is served; their processes start once the proxy is up
  const services = await storeServices(hub, configuredServices(config));
  // Serve the API at once; routes need the proxy, so re-attaching waits for it.
  let address: string;
  try {
    address = await app.listen({ host: config.hub.ip, port: config.hub.port });
  } catch (err) {
    await built.close().catch(() => undefined);
    throw listenError(err, { what: 'The hub', host: config.hub.ip, port: config.hub.port, option: 'hub.port (or hub.ip)' });
  }
  try {
    await proxyReady;
  } catch (err) {
    await app.close();
    throw err;
  }
  let reattached: { kept: number; cleared: number; resumed: number };
  try {
    // managed services once the proxy is up, as JupyterHub starts them; their routes come with the reconciliation below
    await startServices(hub, services, { routes: false });
    reattached = await hub.servers.reattachAll();
    if (proxyApiUrls(config).length > 1) {
      // Proxies the operator runs may start after the hub: the periodic check adds their routes.
      await reconcileRoutes(hub).catch((err: Error) => log.warn({ err: err.message }, 'could not reconcile every proxy; will retry'));
    } else {
      await reconcileRoutes(hub);
    }
  } catch (err) {
    // a hub that fails to start leaves no managed service behind
    await hub.managedServices.stopAll();
    throw err;
  }
  const { kept, cleared, resumed } = reattached;
  hub.servers.startPolling();
  const interval = config.proxy.check_interval * 1000;
  let timer: NodeJS.Timeout | undefined;
  if (interval) {
    const tick = () => {
      reconcileRoutes(hub)
        .catch((err: Error) => log.warn({ err: err.message }, 'proxy reconciliation failed; will retry'))
        .finally(() => {
          timer = setTimeout(tick, interval);
          timer.unref();
        });
    };
    timer = setTimeout(tick, interval);
    timer.unref();
  }
  // both read hub.config at every tick: a live reload changes their interval, or turns culling on or off
  const stopActivity = startActivityPolling(hub);
  const culler = startCuller(hub);
  hub.metrics.hubStarted((Date.now() - t0) / 1000);
  // live configuration: SIGHUP (src/cli/main.ts) and changes of the file reload it from now on
  const reloader = new ConfigReloader(hub, {
    file: source.file,
    overrides: source.overrides ?? {},
    applyServices: (next) => applyServices(hub, configuredServices(next), { config: next }),
  });
  hub.configReload = reloader;
  if (source.watch !== false) reloader.watch();
  log.info({ address, public: `http://${config.ip}:${config.port}${config.base_url}`, kept, cleared, resumed, ms: Date.now() - t0 }, 'hub ready');
  const notice = await hub.authenticator.completeStartup?.();
  return {
    ...built,
    address,
    ...(notice ? { notice } : {}),
    stop: async () => {
      reloader.close();
      if (timer) clearTimeout(timer);
      stopActivity();
      await culler.stop();
      await built.close();
    },
  };
}
