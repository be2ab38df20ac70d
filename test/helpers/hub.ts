/**
 * An in-process hub for integration tests: a fresh data dir and SQLite file,
 * the real built-in proxy (in-process), the real local-process spawner running
 * a trivial server script, and an API client that validates every response
 * against the JupyterHub 5.5.1 spec.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import { validateConfig } from '../../src/config/load.js';
import type { Config, ConfigHooks } from '../../src/config/schema.js';
import type { Authenticator } from '../../src/auth/authenticator.js';
import { buildHub, type BuiltHub } from '../../src/hub/app.js';
import { ChpClient } from '../../src/proxy/chp-client.js';
import { startProxy, type RunningProxy } from '../../src/proxy/builtin/server.js';
import { freePort } from '../../src/lib/free-port.js';
import type { Spawner } from '../../src/spawners/spawner.js';
import type { SpawnerBackends } from '../../src/spawners/backends.js';
import { createToken } from '../../src/db/repos/tokens.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { validateResponse } from './openapi.js';
import { reconcileRoutes } from '../../src/hub/reconcile.js';
import { startServices, storeServices } from '../../src/services/apply-services.js';
import type { CheckedService } from '../../src/hub/services-loader.js';
import { configuredServices } from '../../src/services/service-config.js';

export const TRIVIAL_SERVER = fileURLToPath(new URL('../fixtures/trivial-server.mjs', import.meta.url));

/** How to build a test hub beyond its config. */
export interface TestHubOptions {
  /** Replaces the spawner the config names (e.g. a double from spawner-doubles.ts). */
  spawner?: Spawner;
  /** Replaces the configured back-ends (several named ones, e.g. built from doubles with `namedBackends`). */
  spawners?: SpawnerBackends;
  /** Reuse a data dir (and so its SQLite database and secrets): a restarted hub. */
  dataDir?: string;
  /** Reuse a running proxy (a restarted hub finds its proxy still running). */
  proxyServer?: RunningProxy;
  /** Listen on this port (default: a free one). */
  hubPort?: number;
  /** Re-attach to the servers in the database before reconciling routes, as `serve` does at start-up. */
  reattach?: boolean;
  /** Replaces the authenticator the config names (e.g. a small one written in the test). */
  authenticator?: Authenticator;
  /** Config hooks (`preSpawnStart`, `postAuthHook`…), as a config module gives them. */
  hooks?: ConfigHooks;
  /** The hub's logger (default: pino at GANYMEDE_TEST_LOG's level, silent); e.g. one writing to a stream the test reads. */
  log?: Logger;
}

export interface TestHub extends BuiltHub {
  hubUrl: string;
  hubPort: number;
  publicUrl: string;
  proxyServer: RunningProxy;
  dataDir: string;
  /** What the start-up re-attach found (with `reattach`). */
  reattached: { kept: number; cleared: number; resumed: number } | undefined;
  /**
   * Closes the hub as a killed hub process would leave things: servers,
   * proxy, data dir and database contents stay; spawns in flight are
   * abandoned. Build a new hub on the same `dataDir` and `proxyServer` to
   * test a restart.
   */
  detach(): Promise<void>;
  tokenFor(name: string, opts?: { scopes?: string[]; admin?: boolean }): Promise<string>;
  api(method: string, apiPath: string, opts?: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; validate?: boolean }): Promise<ApiResult>;
  stop(): Promise<void>;
}

export interface ApiResult {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

/**
 * The config of a test hub: the trivial server, a known password, no background
 * loops. Servers run as the test's own account (`run_as: hub`, explicitly: as
 * root that is what docs/security.md warns about; test/integration/user-isolation.test.ts
 * covers `run_as: user` and `auto`). A `spawner` in `raw` is merged into this one.
 */
export function testHubConfig(dataDir: string, hubPort: number, raw: Record<string, unknown> = {}): Config {
  return validateConfig({
    data_dir: dataDir,
    hub: { ip: '127.0.0.1', port: hubPort },
    auth: { kind: 'shared-password', shared_password: 'test-password' },
    slow_spawn_timeout: 5,
    poll_interval: 0,
    proxy: { check_interval: 0 },
    ...raw,
    // `raw.spawner` is merged in: a test giving only `cmd` still runs servers as its own account.
    // Another kind (e.g. `slurm`) is taken as given: the local-process defaults are not its options.
    spawner: otherKind(raw['spawner']) ?? { kind: 'local-process', cmd: [process.execPath, TRIVIAL_SERVER], run_as: 'hub', ...(raw['spawner'] as Record<string, unknown> | undefined) },
  });
}

/** A `spawner:` of another kind than local-process, as given; else undefined. */
function otherKind(spawner: unknown): Record<string, unknown> | undefined {
  const s = spawner as Record<string, unknown> | undefined;
  return s && s['kind'] !== undefined && s['kind'] !== 'local-process' ? s : undefined;
}

/**
 * A fresh in-process hub. The hub's port is picked free just before it is
 * bound, so another process may take it in between: then (when the test did
 * not give the port) the hub is built again on another port, up to 3 times.
 */
export async function startTestHub(raw: Record<string, unknown> = {}, opts: TestHubOptions = {}): Promise<TestHub> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startTestHubOnce(raw, opts);
    } catch (err) {
      if (opts.hubPort !== undefined || attempt >= 3 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
}

async function startTestHubOnce(raw: Record<string, unknown>, opts: TestHubOptions): Promise<TestHub> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'ganymede-test-'));
  const [hubPort, proxyToken] = [opts.hubPort ?? (await freePort('127.0.0.1')), 'test-proxy-token'];
  const log = opts.log ?? pino({ level: process.env['GANYMEDE_TEST_LOG'] ?? 'silent' });
  const config = testHubConfig(dataDir, hubPort, raw);
  const proxyServer =
    opts.proxyServer ?? (await startProxy({ ip: '127.0.0.1', port: 0, apiIp: '127.0.0.1', apiPort: 0, authToken: proxyToken, defaultTarget: `http://127.0.0.1:${hubPort}`, logger: log }));
  const proxy = new ChpClient({ apiUrl: `http://127.0.0.1:${proxyServer.apiPort}`, authToken: proxyToken });
  let built: BuiltHub | undefined;
  let services: CheckedService[];
  try {
    built = await buildHub({
      config,
      log,
      proxy,
      ...(opts.spawner ? { spawner: opts.spawner } : {}),
      ...(opts.spawners ? { spawners: opts.spawners } : {}),
      ...(opts.authenticator ? { authenticator: opts.authenticator } : {}),
      ...(opts.hooks ? { hooks: opts.hooks } : {}),
    });
    // services, then roles, before the hub serves, as `serve` stores them (lifecycle.ts)
    services = await storeServices(built.hub, configuredServices(config));
  } catch (err) {
    // a hub that refuses to start (a test of that) leaves nothing running: the proxy would keep the test process alive
    await built?.close();
    if (!opts.proxyServer) await proxyServer.close();
    if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  try {
    await built.app.listen({ host: '127.0.0.1', port: hubPort });
  } catch (err) {
    await built.close();
    if (!opts.proxyServer) await proxyServer.close();
    if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const reattached = opts.reattach ? await built.hub.servers.reattachAll() : undefined;
  await reconcileRoutes(built.hub);
  // managed services and service routes, as `serve` starts them once the proxy is up
  if (services.length) await startServices(built.hub, services);
  const hubUrl = `http://127.0.0.1:${hubPort}`;
  const t: TestHub = {
    ...built,
    hubUrl,
    hubPort,
    publicUrl: `http://127.0.0.1:${proxyServer.publicPort}`,
    proxyServer,
    dataDir,
    reattached,
    async detach() {
      await built.hub.managedServices.stopAll();
      await built.app.close();
      await built.hub.servers.close(0);
      await built.database.close();
    },
    async tokenFor(name, opts = {}) {
      const user = await ensureUser(built.hub.db, name, opts.admin);
      return (await createToken(built.hub.db, user.id, { kind: 'api', scopes: opts.scopes ?? ['inherit'] })).token;
    },
    async api(method, apiPath, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (opts.token) headers['Authorization'] = `token ${opts.token}`;
      let body: string | undefined = opts.rawBody;
      if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers['Content-Type'] ??= 'application/json';
      }
      if (body !== undefined) headers['Content-Type'] ??= 'application/json';
      const url = `${hubUrl}/hub/api${apiPath}`;
      const res = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}), redirect: 'manual' });
      const text = await res.text();
      let parsed: unknown = text;
      if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
      if (opts.validate !== false && !apiPath.includes('/progress')) {
        validateResponse(method, `/hub/api${apiPath}`, res.status, parsed, res.headers.get('content-type') ?? undefined);
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
    async stop() {
      // stop any servers still running or starting, then the hub and proxy
      const rows = await built.hub.db
        .selectFrom('servers')
        .innerJoin('users', 'users.id', 'servers.user_id')
        .select(['users.name', 'servers.name as server', 'servers.ready', 'servers.pending'])
        .execute();
      for (const r of rows) {
        if (!r.ready && r.pending !== 'spawn') continue;
        const user = await ensureUser(built.hub.db, r.name);
        await built.hub.servers.stop(user, r.server).catch(() => undefined);
      }
      try {
        await built.close();
        await proxyServer.close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
  return t;
}
