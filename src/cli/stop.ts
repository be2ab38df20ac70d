import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { openDatabase } from '../db/database.js';
import { activeServers, updateServer } from '../db/repos/servers.js';
import { deleteServerTokens } from '../db/repos/tokens.js';
import { hubUrls } from '../hub/app.js';
import { proxyApiUrls, proxyToken } from '../hub/proxy-process.js';
import { hubPidFile, readPid, stopOwnProxy, terminate } from '../hub/shutdown.js';
import { serverPrefix } from '../hub/spawn-env.js';
import { ChpClient } from '../proxy/chp-client.js';
import { SpawnerBackends } from '../spawners/backends.js';
import type { SpawnerState, UserTokens } from '../spawners/spawner.js';
import { storedUserTokens } from '../auth/user-tokens.js';
import type { DB } from '../db/schema.js';
import { CryptKeeper } from '../lib/crypto.js';

/**
 * `ganymede stop`: stops what a data dir's hub started, with or without a
 * running hub. It works on the pid files and the database directly (no token
 * needed: whoever can read the data dir has the hub's power anyway), in this
 * order so that nothing restarts what was stopped: the hub (SIGTERM, its pid
 * file), then every server (through the spawner, clearing its row, tokens and
 * route), then the proxy (its pid file). Returns the lines to print.
 */
export async function stopEverythingOffline(config: Config, opts: { servers: boolean; proxy: boolean }, log: Logger): Promise<string[]> {
  const dataDir = path.resolve(config.data_dir);
  const said: string[] = [];
  const hubPid = readPid(hubPidFile(dataDir));
  const hub = hubPid === undefined ? 'not-running' : await terminate(hubPid, 'ganymede', 15_000);
  said.push(hub === 'not-running' ? 'hub: not running' : `hub: stopped (pid ${hubPid})`);
  if (opts.servers) {
    const database = await openDatabase(config.db.url, dataDir);
    // back-ends acting as the user (FirecREST) stop with the user's stored access token, while it is valid
    const userTokens = cliUserTokens(database.db, log);
    const backends = SpawnerBackends.fromConfig(config, { log, dataDir, ...(userTokens ? { userTokens } : {}) });
    try {
      // one back-end that cannot start (an SSH host down) must not keep the servers of the others running
      const unavailable = new Map<string, string>();
      for (const b of backends.all()) {
        try {
          await b.spawner.init?.();
        } catch (err) {
          unavailable.set(b.name, (err as Error).message);
        }
      }
      const proxy = opts.proxy ? undefined : new ChpClient({ apiUrl: proxyApiUrls(config)[0]!, authToken: proxyToken(config, dataDir) });
      const urls = hubUrls(config);
      const rows = await activeServers(database.db);
      let stopped = 0;
      for (const row of rows) {
        const { spawner, name } = backends.forRow(row);
        try {
          if (unavailable.has(name)) throw new Error(`its back-end ${name} is unavailable: ${unavailable.get(name)}`);
          const saved = JSON.parse(row.state) as SpawnerState;
          const state = saved.v && spawner.upgradeState ? spawner.upgradeState(saved) : saved;
          if (state.v) await spawner.stop(state, { log: log.child({ user: row.user_name, server: row.name }) });
          stopped++;
        } catch (err) {
          said.push(`server ${row.user_name}/${row.name}: could not stop: ${(err as Error).message}`);
          continue;
        }
        await updateServer(database.db, row.id, { ready: 0, pending: null, url: null, state: '{}', owner: null });
        await deleteServerTokens(database.db, row.user_id, row.name);
        await proxy?.deleteRoute(serverPrefix(urls, row.user_name, row.name)).catch(() => undefined);
      }
      said.push(`servers: ${stopped} stopped`);
    } finally {
      await backends.close(log);
      await database.close();
    }
  } else {
    said.push('servers: left running (--keep-servers)');
  }
  if (opts.proxy) {
    const outcome = await stopOwnProxy(config, dataDir, log);
    said.push(outcome === 'not-ours' ? 'proxy: run by the operator (proxy.should_start: false), left running' : outcome === 'not-running' ? 'proxy: not running' : 'proxy: stopped');
  } else {
    said.push('proxy: left running (--keep-proxy)');
  }
  return said;
}

/**
 * The users' stored access tokens for `ganymede stop` (read only: renewing a
 * login needs the running hub's authenticator and hooks), or undefined when
 * GANYMEDE_CRYPT_KEY is unusable (back-ends acting as the user then cannot stop).
 */
function cliUserTokens(db: Kysely<DB>, log: Logger): UserTokens | undefined {
  try {
    return storedUserTokens(db, CryptKeeper.fromEnv());
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'the stored login tokens cannot be read: back-ends that act as the user cannot stop their servers');
    return undefined;
  }
}
