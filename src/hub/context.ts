import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticator.js';
import type { Config, ConfigHooks } from '../config/schema.js';
import type { Dialect } from '../db/database.js';
import type { DB } from '../db/schema.js';
import type { CryptKeeper } from '../lib/crypto.js';
import type { Proxy } from '../proxy/proxy.js';
import type { SpawnerBackends } from '../spawners/backends.js';
import type { ServerManager } from './server-manager.js';
import type { IdentityCache } from './identity-cache.js';
import type { HubMetrics } from '../metrics/metrics.js';
import type { ManagedServices } from '../services/managed-services.js';
import type { ConfigReloader } from './reload.js';

/** Where things are, as URLs and paths. */
export interface HubUrls {
  /** The hub-wide prefix, e.g. `/` */
  base: string;
  /** `<base>hub/` */
  hub: string;
  /** How servers and the proxy reach the hub process, e.g. `http://127.0.0.1:8081` */
  internal: string;
  /** `<internal><base>hub/api` — the JUPYTERHUB_API_URL */
  api: string;
}

/**
 * Everything a route or the lifecycle needs, built once by src/hub/app.ts and
 * passed down explicitly (no globals).
 */
export interface Hub {
  config: Config;
  hooks: ConfigHooks;
  db: Kysely<DB>;
  dialect: Dialect;
  log: Logger;
  proxy: Proxy;
  /** The spawner back-ends by name (`spawners:`, or the one `spawner:` as `default`). */
  spawners: SpawnerBackends;
  authenticator: Authenticator;
  crypt: CryptKeeper;
  servers: ServerManager;
  /** Where spawn, stop, proxy and queue timings are recorded (src/metrics/). */
  metrics: HubMetrics;
  /** The services this hub process runs (`services[].command`). */
  managedServices: ManagedServices;
  /** Short-lived cache of resolved API identities (see identity-cache.ts). */
  identities: IdentityCache;
  urls: HubUrls;
  dataDir: string;
  cookieSecret: string;
  /** Identifies this hub process in `servers.owner` (pid@host:start). */
  processId: string;
  /**
   * The live configuration reload (src/hub/reload.ts), set by startHub once
   * the hub listens: its status (shown by `GET /hub/api/info`) and `onReload`
   * listeners. Unset in hubs built without startHub (tests).
   */
  configReload?: ConfigReloader;
  /** Stops the hub process after `POST /hub/api/shutdown` (set by `ganymede serve`; tests leave it unset). */
  exit?: () => void;
}
