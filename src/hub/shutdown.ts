import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { activeServers } from '../db/repos/servers.js';
import { getUser } from '../db/repos/users.js';
import { sleep } from '../lib/time.js';
import type { Hub } from './context.js';

/**
 * Stopping everything: the users' servers, the proxy the hub started, the hub.
 * By design these outlive the hub (a restart goes unnoticed by users); this is
 * the way to stop them all, used by `POST /hub/api/shutdown` (a running hub) and
 * `ganymede stop` (src/cli/stop.ts, with or without a running hub).
 */

/** What to stop besides the hub (the body of `POST /hub/api/shutdown`). */
export interface ShutdownOptions {
  servers: boolean;
  proxy: boolean;
}

/** `<data_dir>/hub.pid`: the pid of the running `ganymede serve`, written at start, removed at exit. */
export function hubPidFile(dataDir: string): string {
  return path.join(dataDir, 'hub.pid');
}

/** `<data_dir>/proxy.pid`: the pid of the proxy the hub started. */
export function proxyPidFile(dataDir: string): string {
  return path.join(dataDir, 'proxy.pid');
}

/** Writes the hub's pid file and removes it when the process exits. */
export function writeHubPid(dataDir: string): void {
  const file = hubPidFile(dataDir);
  writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  process.once('exit', () => {
    if (readPid(file) === process.pid) rmSync(file, { force: true });
  });
}

/** The pid in a pid file, or undefined. */
export function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` runs and its command line contains `marker` (so that a pid
 * reused by another program is never signalled). Without /proc (not Linux),
 * only whether it runs.
 */
export function processMatches(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false; // a zombie has exited
  } catch {
    // gone meanwhile, or no /proc
  }
  return cmdline.includes(marker);
}

/**
 * Sends SIGTERM to `pid` (if it runs `marker`) and waits up to `timeoutMs` for it
 * to exit, then SIGKILL. Returns 'not-running' when there was nothing to stop.
 */
export async function terminate(pid: number, marker: string, timeoutMs: number): Promise<'stopped' | 'killed' | 'not-running'> {
  if (!processMatches(pid, marker)) return 'not-running';
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await sleep(50);
    if (!processMatches(pid, marker)) return 'stopped';
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'stopped';
  }
  return 'killed';
}

/** A marker for the proxy's command line: our own `proxy` subcommand, or `proxy.command`'s program. */
function proxyMarker(config: Config): string {
  return config.proxy.command.length ? path.basename(config.proxy.command[0]!) : 'proxy';
}

/**
 * Stops the proxy the hub started (found by its pid file in the data dir). A
 * proxy run by the operator (`proxy.should_start: false`) is left alone.
 */
export async function stopOwnProxy(config: Config, dataDir: string, log: Logger): Promise<'stopped' | 'killed' | 'not-running' | 'not-ours'> {
  if (!config.proxy.should_start) {
    log.info('the proxy is run by the operator (proxy.should_start is false); left running');
    return 'not-ours';
  }
  const file = proxyPidFile(dataDir);
  const pid = readPid(file);
  const outcome = pid === undefined ? 'not-running' : await terminate(pid, proxyMarker(config), 10_000);
  if (outcome !== 'not-running' || pid !== undefined) rmSync(file, { force: true });
  log.info({ proxyPid: pid, outcome }, 'stopped the proxy');
  return outcome;
}

/**
 * The work of `POST /hub/api/shutdown` in a running hub: stops every server
 * through the hub's own state machine (routes and tokens cleared), then the
 * hub's proxy when asked. The caller then stops the hub process.
 */
export async function stopEverything(hub: Hub, opts: ShutdownOptions): Promise<void> {
  if (opts.servers) {
    const rows = await activeServers(hub.db);
    await Promise.allSettled(
      rows.map(async (row) => {
        const user = await getUser(hub.db, row.user_name);
        if (!user) return;
        await hub.servers.stop(user, row.name).catch((err: Error) => hub.log.warn({ user: row.user_name, server: row.name, err: err.message }, 'could not stop a server at shutdown'));
      }),
    );
    // stops that outlast slow_spawn_timeout are still in flight: wait for them
    await hub.servers.close(30_000);
    hub.log.info({ servers: rows.length }, 'stopped every server');
  }
  if (opts.proxy) await stopOwnProxy(hub.config, hub.dataDir, hub.log);
}
