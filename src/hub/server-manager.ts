import type { Logger } from 'pino';
import { HubError, SpawnError } from '../lib/errors.js';
import { isoNow, resolvesWithin } from '../lib/time.js';
import { serverNameProblem, usernameProblem } from '../lib/names.js';
import type { UserRow } from '../db/repos/users.js';
import { activeServers, claimSpawn, countActive, createServer, deleteServer, getServer, updateServer, type ServerRow } from '../db/repos/servers.js';
import { createToken, deleteServerTokens } from '../db/repos/tokens.js';
import { upsertClient } from '../db/repos/oauth.js';
import type { SpawnerState } from '../spawners/spawner.js';
import type { Hub } from './context.js';
import { accessScopes, buildServerEnv, oauthClientId, serverPrefix } from './spawn-env.js';
import { LOG_TAIL_BYTES, LOG_TAIL_LINES, ProgressLog, type ProgressRecord } from './progress.js';
import { waitForHttp } from './wait-up.js';
import { refreshBeforeSpawn } from '../auth/refresh.js';
import { loadAuthState } from '../auth/auth-state.js';
import { serverWorkDir } from './work-dir.js';

export type SpawnOutcome = 'started' | 'pending';
export type StopOutcome = 'stopped' | 'pending';

/**
 * The spawn/stop state machine. The database row of a server holds its state
 * (`pending`, `ready`, `url`, spawner `state`); in memory this class keeps only
 * the promises of transitions running in this process and their progress
 * events, which a restarted hub does not need.
 */
export class ServerManager {
  private readonly inFlight = new Map<number, { promise: Promise<void>; abort: AbortController }>();
  readonly progress = new ProgressLog();
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(private readonly hub: () => Hub) {}

  private get h(): Hub {
    return this.hub();
  }

  /** Starts a server; resolves 'started' when ready within slow_spawn_timeout, else 'pending'. */
  async spawn(user: UserRow, serverName: string, userOptions: Record<string, unknown> | undefined): Promise<{ outcome: SpawnOutcome; server: ServerRow }> {
    const { db, config } = this.h;
    const { server, done } = await this.requestSpawn(user, serverName, userOptions);
    if (!done) return { outcome: 'pending', server };
    const finished = await resolvesWithin(done, config.slow_spawn_timeout * 1000);
    const fresh = (await getServer(db, user.id, serverName))!;
    if (finished && !fresh.ready) {
      throw new HubError(500, this.progress.get(server.id).failure ?? `Spawn of ${serverLabel(user.name, serverName)} failed`);
    }
    return { outcome: finished ? 'started' : 'pending', server: fresh };
  }

  /**
   * Checks and claims a spawn, then runs it in the background. Resolves once
   * the claim is stored (so a page can redirect to the progress page), with
   * `done` settling when the spawn ends; `done` is undefined when a spawn was
   * already pending. Throws HubError for refusals (limits, already running).
   */
  async requestSpawn(user: UserRow, serverName: string, userOptions: Record<string, unknown> | undefined): Promise<{ server: ServerRow; done?: Promise<void> }> {
    const { config, db } = this.h;
    const badName = usernameProblem(user.name) ?? serverNameProblem(serverName); // e.g. a name stored before the rules
    if (badName) throw new HubError(400, badName);
    let row = await getServer(db, user.id, serverName);
    if (serverName && !config.allow_named_servers) throw new HubError(400, 'Named servers are not enabled.');
    if (!row) {
      if (serverName && config.named_server_limit_per_user > 0) {
        const named = await db.selectFrom('servers').select('id').where('user_id', '=', user.id).where('name', '!=', '').execute();
        if (named.length >= config.named_server_limit_per_user) {
          throw new HubError(
            400,
            `User ${user.name} already has the maximum of ${config.named_server_limit_per_user} named servers.  One must be deleted before a new server can be created`,
          );
        }
      }
      row = await createServer(db, user.id, serverName, this.h.spawner.kind);
    }
    const label = serverLabel(user.name, serverName);
    if (row.pending === 'spawn') return { server: row };
    if (row.pending) throw new HubError(400, `${label} is pending ${row.pending}`);
    if (row.ready) {
      const alive = await this.pollOne(user.name, row);
      if (alive) throw new HubError(400, `${label} is already running`);
      row = (await getServer(db, user.id, serverName))!;
    }
    // auth.refresh_pre_spawn: current credentials for the spawner, or 401 "please log in again"
    user = await refreshBeforeSpawn(this.h, user, this.h.log);
    await this.checkLimits();
    if (!(await claimSpawn(db, row.id, this.h.processId))) throw new HubError(400, `${label} is already pending or running`);
    const options = userOptions ?? (JSON.parse(row.user_options) as Record<string, unknown>);
    const abort = new AbortController();
    this.progress.reset(row.id);
    const id = row.id;
    const done = this.runSpawn(user, row, options, abort.signal)
      .catch((err: Error) => this.h.log.error({ err: err.message, user: user.name }, 'spawn bookkeeping failed'))
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, { promise: done, abort });
    return { server: { ...row, pending: 'spawn' }, done };
  }

  private async checkLimits(): Promise<void> {
    const { config, db } = this.h;
    if (!config.concurrent_spawn_limit && !config.active_server_limit) return;
    const { active, pending } = await countActive(db);
    if (config.concurrent_spawn_limit && pending >= config.concurrent_spawn_limit) {
      const retry = 30 + Math.floor(Math.random() * 31);
      throw new HubError(429, `Too many users trying to log in right now. Try again in ${Math.ceil(retry / 10) * 10} seconds.`, {
        headers: { 'Retry-After': String(retry) },
      });
    }
    if (config.active_server_limit && active >= config.active_server_limit) {
      // JupyterHub sends no Retry-After here; clients that honour 429 need one ("a few minutes").
      const retry = 120 + Math.floor(Math.random() * 61);
      throw new HubError(429, 'Active user limit exceeded. Try again in a few minutes.', { headers: { 'Retry-After': String(retry) } });
    }
  }

  private async runSpawn(user: UserRow, row: ServerRow, userOptions: Record<string, unknown>, signal: AbortSignal): Promise<void> {
    const { config, db, spawner, urls, hooks } = this.h;
    const label = serverLabel(user.name, row.name);
    const log = this.h.log.child({ user: user.name, server: row.name });
    const emit = (progress: number, message: string) => this.progress.push(row.id, { progress, message });
    let state: SpawnerState | undefined;
    const started = Date.now();
    try {
      emit(0, 'Server requested');
      await updateServer(db, row.id, { user_options: JSON.stringify(userOptions), spawner: spawner.kind });
      await deleteServerTokens(db, user.id, row.name);
      this.h.identities.clear();
      const { token } = await createToken(db, user.id, {
        kind: 'server',
        scopes: [`users:activity!user=${user.name}`, `access:servers!server=${user.name}/${row.name}`, `read:users:name!user=${user.name}`],
        note: `Server at ${serverPrefix(urls, user.name, row.name)}`,
        serverName: row.name,
      });
      const prefix = serverPrefix(urls, user.name, row.name);
      await upsertClient(db, {
        identifier: oauthClientId(user.name, row.name),
        secret: token,
        redirectUri: `${prefix}oauth_callback`,
        description: `Server at ${prefix}`,
        allowedScopes: [accessScopes(user.name, row.name)[0]!],
        userId: user.id,
        serverName: row.name,
      });
      const env = buildServerEnv({ config, urls, user: user.name, serverName: row.name, apiToken: token });
      const groups = await db
        .selectFrom('user_groups')
        .innerJoin('groups', 'groups.id', 'user_groups.group_id')
        .select('groups.name')
        .where('user_groups.user_id', '=', user.id)
        .execute();
      const authState = await loadAuthState(db, this.h.crypt, user.id, log);
      if (hooks.preSpawnStart) await hooks.preSpawnStart({ user: user.name, serverName: row.name, env, userOptions, authState });
      const workDir = await serverWorkDir(this.h.dataDir, user.name, row.name, log);
      const timeout = AbortSignal.timeout(config.start_timeout * 1000);
      const startSignal = AbortSignal.any([signal, timeout]);
      emit(10, 'Starting the server');
      const result = await raceAbort(
        spawner.start({
          user: { name: user.name, admin: !!user.admin, groups: groups.map((g) => g.name) },
          serverName: row.name,
          env,
          authState,
          userOptions,
          workDir,
          log,
          signal: startSignal,
          saveState: async (s) => {
            state = s;
            // after the hub gave up, the row is (being) reset: the state goes to onLate or the clean-up below
            if (!startSignal.aborted) await updateServer(db, row.id, { state: JSON.stringify(s) });
          },
          progress: (e) => emit(Math.min(Math.max(e.progress, 10), 60), e.message),
        }),
        startSignal,
        () => (timeout.aborted ? new SpawnError(`Server ${label} did not start within ${config.start_timeout} seconds`, 'timeout') : new SpawnError(`Spawn of ${label} was cancelled`, 'cancelled')),
        (late) => {
          log.warn('the spawner started the server after the spawn was given up; stopping it');
          spawner.stop(late.state, { log }).catch((err: Error) => log.error({ err: err.message }, 'could not stop a server started after its spawn was given up'));
        },
      );
      state = result.state;
      await updateServer(db, row.id, { state: JSON.stringify(result.state), url: result.url });
      emit(60, `Server process started; waiting for it to answer at ${prefix}`);
      await waitForHttp(`${result.url}${prefix}api`, {
        timeoutMs: config.http_timeout * 1000,
        signal,
        stillRunning: async () => (await spawner.poll(result.state, { log })).status === 'running',
        label,
      });
      emit(90, 'Server answers; adding its route to the proxy');
      await this.h.proxy.addRoute(prefix, result.url, { jupyterhub: true, user: user.name, server_name: row.name });
      const now = isoNow();
      await updateServer(db, row.id, { ready: 1, pending: null, started: now, last_activity: now, owner: this.h.processId });
      log.info({ ms: Date.now() - started, url: result.url }, 'server ready');
      this.progress.finish(row.id, { progress: 100, message: `Server ready at ${prefix}`, ready: true, url: prefix });
    } catch (err) {
      const message = err instanceof HubError ? err.message : `Spawn of ${label} failed: ${(err as Error).message}`;
      log.error({ err: err instanceof Error ? err.message : String(err), logMessage: (err as HubError).logMessage }, 'spawn failed');
      let logTail: string | undefined;
      if (state) {
        try {
          await spawner.stop(state, { log });
        } catch (stopErr) {
          log.warn({ err: (stopErr as Error).message }, 'could not stop the server after a failed spawn');
        }
        logTail = await this.logTailOf(state, log);
      }
      await updateServer(db, row.id, { ready: 0, pending: null, url: null, state: '{}', owner: null });
      await deleteServerTokens(db, user.id, row.name);
      this.h.identities.clear();
      this.progress.fail(row.id, message, logTail);
    }
  }

  /** The end of a server's log from its spawner (bounded in time); undefined when it has none. */
  private async logTailOf(state: SpawnerState, log: Logger): Promise<string | undefined> {
    const { spawner } = this.h;
    if (!spawner.logTail) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const tail = spawner.logTail(state, { log, lines: LOG_TAIL_LINES, maxBytes: LOG_TAIL_BYTES });
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), 5000);
      });
      return await Promise.race([tail, late]);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not read the log of the failed server');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops a server. 'pending' when it takes longer than slow_spawn_timeout. */
  async stop(user: UserRow, serverName: string, opts: { remove?: boolean } = {}): Promise<StopOutcome> {
    const { db, config } = this.h;
    const row = await getServer(db, user.id, serverName);
    const label = serverLabel(user.name, serverName);
    if (!row) throw new HubError(404, `${user.name} has no server named '${serverName}'`);
    if (row.pending === 'stop') return 'pending';
    if (row.pending === 'spawn') {
      const flight = this.inFlight.get(row.id);
      if (!flight) throw new HubError(400, `${label} is pending spawn, please wait`);
      flight.abort.abort();
      await flight.promise;
    }
    const fresh = (await getServer(db, user.id, serverName))!;
    await updateServer(db, row.id, { pending: 'stop', ready: 0, owner: this.h.processId });
    const promise = this.runStop(user, fresh, !!opts.remove).finally(() => this.inFlight.delete(row.id));
    this.inFlight.set(row.id, { promise, abort: new AbortController() });
    const finished = await resolvesWithin(promise, config.slow_spawn_timeout * 1000);
    return finished ? 'stopped' : 'pending';
  }

  private async runStop(user: UserRow, row: ServerRow, remove: boolean): Promise<void> {
    const { db, spawner, urls } = this.h;
    const log = this.h.log.child({ user: user.name, server: row.name });
    const prefix = serverPrefix(urls, user.name, row.name);
    try {
      await this.h.proxy.deleteRoute(prefix).catch((err: Error) => log.warn({ err: err.message }, 'could not delete the route; reconciliation will'));
      const state = JSON.parse(row.state) as SpawnerState;
      if (state.v) await spawner.stop(state, { log });
      log.info('server stopped');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'stop failed');
    } finally {
      await updateServer(db, row.id, { ready: 0, pending: null, url: null, state: '{}', owner: null });
      await deleteServerTokens(db, user.id, row.name);
      this.h.identities.clear();
      if (remove) await deleteServer(db, row.id);
      this.progress.clear(row.id);
    }
  }

  /** Polls a ready server; when it has stopped, clears it and its route. Returns true when running. */
  async pollOne(userName: string, row: ServerRow): Promise<boolean> {
    const { db, spawner } = this.h;
    const state = JSON.parse(row.state) as SpawnerState;
    const log = this.h.log.child({ user: userName, server: row.name });
    if (!state.v) return false;
    const result = await spawner.poll(state, { log });
    if (result.status === 'running') return true;
    log.warn({ exitCode: result.status === 'stopped' ? result.exitCode : undefined }, 'server stopped by itself');
    await this.h.proxy.deleteRoute(serverPrefix(this.h.urls, userName, row.name)).catch(() => undefined);
    await updateServer(db, row.id, { ready: 0, pending: null, url: null, state: '{}', owner: null });
    await deleteServerTokens(db, row.user_id, row.name);
    this.h.identities.clear();
    return false;
  }

  /**
   * At start-up: re-attaches to servers that a previous hub process started.
   * A server whose spawner says it runs is kept (and HTTP-checked); one that is
   * gone is cleared. Interrupted spawns are finished or cleaned up.
   */
  async reattachAll(): Promise<{ kept: number; cleared: number }> {
    const { db, spawner, urls } = this.h;
    let kept = 0;
    let cleared = 0;
    const rows = await activeServers(db);
    await Promise.all(
      rows.map(async (row) => {
        const log = this.h.log.child({ user: row.user_name, server: row.name });
        const state = JSON.parse(row.state) as SpawnerState;
        const running = state.v ? (await spawner.poll(state, { log }).catch(() => ({ status: 'running' as const }))).status === 'running' : false;
        const prefix = serverPrefix(urls, row.user_name, row.name);
        if (running && row.url) {
          let up = true;
          try {
            await waitForHttp(`${row.url}${prefix}api`, { timeoutMs: 5000, label: prefix });
          } catch {
            up = false;
          }
          if (up) {
            // a spawn the previous process left pending is finished now: it gets its start time
            const now = isoNow();
            const times = row.started ? {} : { started: now, last_activity: row.last_activity ?? now };
            await updateServer(db, row.id, { ready: 1, pending: null, owner: this.h.processId, ...times });
            kept++;
            log.info({ url: row.url }, 're-attached to running server');
            return;
          }
          if (row.ready) {
            // running but not answering now: keep it, the poll loop will notice if it dies
            await updateServer(db, row.id, { pending: null, owner: this.h.processId });
            kept++;
            log.warn({ url: row.url }, 're-attached to a running server that does not answer HTTP yet');
            return;
          }
        }
        if (running && state.v && row.pending === 'spawn') {
          // an interrupted spawn of a server that is not answering: clean it up
          await spawner.stop(state, { log }).catch(() => undefined);
        }
        await this.h.proxy.deleteRoute(prefix).catch(() => undefined);
        await updateServer(db, row.id, { ready: 0, pending: null, url: null, state: '{}', owner: null });
        await deleteServerTokens(db, row.user_id, row.name);
        cleared++;
        log.info('cleared a server that is no longer running');
      }),
    );
    return { kept, cleared };
  }

  /** Polls every ready server every poll_interval (with 10% jitter). */
  startPolling(): void {
    const interval = this.h.config.poll_interval * 1000;
    if (!interval) return;
    const tick = async () => {
      try {
        const rows = await activeServers(this.h.db);
        for (const row of rows) if (row.ready && !row.pending) await this.pollOne(row.user_name, row).catch(() => undefined);
      } finally {
        this.pollTimer = setTimeout(tick, interval * (0.9 + Math.random() * 0.2));
        this.pollTimer.unref();
      }
    };
    this.pollTimer = setTimeout(tick, interval);
    this.pollTimer.unref();
  }

  /** Stops the poll loop and waits (bounded) for transitions in flight. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    await resolvesWithin(Promise.allSettled([...this.inFlight.values()].map((f) => f.promise)), timeoutMs);
  }

  progressOf(serverId: number): ProgressRecord {
    return this.progress.get(serverId);
  }
}

export function serverLabel(user: string, serverName: string): string {
  return serverName ? `${user}:${serverName}` : `${user}'s server`;
}

/**
 * Races `work` against `signal`: rejects with `error()` as soon as the signal
 * aborts (at once when it already has). `work` is always observed, so its
 * later rejection is never unhandled (which would end the hub process), and a
 * result it produces after the race was lost is handed to `onLate`: the
 * caller stops that server, which would otherwise run unknown to the hub.
 */
async function raceAbort<T>(work: Promise<T>, signal: AbortSignal, error: () => Error, onLate: (late: T) => void): Promise<T> {
  let lost = false;
  const observed = work.then((result) => {
    if (lost) onLate(result);
    return result;
  });
  observed.catch(() => undefined);
  if (signal.aborted) {
    lost = true;
    throw error();
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      lost = true;
      reject(error());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([observed, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

export type { Logger };
