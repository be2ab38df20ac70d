import type { Logger } from 'pino';
import { HubError, SpawnError } from '../lib/errors.js';
import { isoNow, resolvesWithin } from '../lib/time.js';
import { raceAbort } from '../lib/race-abort.js';
import { pollSafely, savedState } from './spawner-calls.js';
import { quotePath, serverNameProblem, usernameProblem } from '../lib/names.js';
import { loginAgainUrl, needsLoginAgain } from './login-again.js';
import type { UserRow } from '../db/repos/users.js';
import { createServer, deleteServer, getServer, reportedPort, updateServer, type ServerRow } from '../db/repos/servers.js';
import { groupsOfUsers, touchUserActivity } from '../db/repos/users.js';
import { createToken, deleteServerTokens } from '../db/repos/tokens.js';
import { upsertClient } from '../db/repos/oauth.js';
import type { SpawnUser, Spawner, SpawnerState } from '../spawners/spawner.js';
import { BACKEND_OPTION } from '../spawners/backends.js';
import type { Hub } from './context.js';
import { accessScopes, buildServerEnv, oauthClientId, serverPrefix } from './spawn-env.js';
import { LOG_TAIL_BYTES, LOG_TAIL_LINES, ProgressLog, type ProgressRecord } from './progress.js';
import { waitForHttp } from './wait-up.js';
import { ServerPoller } from './server-poll.js';
import { reattachAll } from './reattach.js';
import type { SpawnPlan } from './spawn-plan.js';
import { refreshBeforeSpawn } from '../auth/refresh.js';
import { loadAuthState } from '../auth/auth-state.js';
import { serverWorkDir } from './work-dir.js';
import { environmentFromHooks, PostStopHooks } from './spawn-hooks.js';
import { SpawnQueue, type SpawnTicket } from './spawn-queue.js';
import { retryAfterOf } from './spawn-limits.js';

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
  /** `post_stop_hook` calls still running (a stop does not wait for them; {@link close} does, bounded). */
  readonly stopHooks = new PostStopHooks();
  /** The poll loop (src/hub/server-poll.ts). */
  readonly poller: ServerPoller;
  /** Limits and the FIFO queue of spawns over `concurrent_spawn_limit` (src/hub/spawn-queue.ts). */
  readonly queue = new SpawnQueue(() => this.h);

  constructor(private readonly hub: () => Hub) {
    this.poller = new ServerPoller(hub, this.stopHooks);
  }

  /** How long one `poll` or `pollMany` may take before its answer is taken as `unknown` (see {@link ServerPoller}). */
  get pollTimeoutMs(): number {
    return this.poller.pollTimeoutMs;
  }

  set pollTimeoutMs(ms: number) {
    this.poller.pollTimeoutMs = ms;
  }

  /** Polls a ready server; clears it when it stopped. True when it runs or its back-end cannot tell. */
  pollOne(userName: string, row: ServerRow): Promise<boolean> {
    return this.poller.pollOne(userName, row);
  }

  /** One round of polls of every ready server, spread over `spreadMs`. */
  pollRound(spreadMs = 0): Promise<void> {
    return this.poller.pollRound(spreadMs);
  }

  /** Starts the poll loop (every `poll_interval`). */
  startPolling(): void {
    this.poller.startPolling();
  }

  /** At start-up: re-attaches to the servers an earlier hub process left (src/hub/reattach.ts). */
  reattachAll(): Promise<{ kept: number; cleared: number; resumed: number }> {
    return reattachAll({
      hub: this.hub,
      pollTimeoutMs: this.pollTimeoutMs,
      stopHooks: this.stopHooks,
      progress: this.progress,
      queue: this.queue,
      resume: (row, spawn) => void this.launch(row, spawn),
    });
  }

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
      const record = this.progress.get(server.id);
      const status = record.loginAgainUrl ? 401 : (record.status ?? 500);
      const message = record.failure ?? `Spawn of ${serverLabel(user.name, serverName)} failed`;
      throw new HubError(status, message, status === 429 ? { headers: retryAfterOf(message) } : {}); // given up in the spawn queue
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
    const began = performance.now();
    const badName = usernameProblem(user.name) ?? serverNameProblem(serverName); // e.g. a name stored before the rules
    if (badName) throw new HubError(400, badName);
    let row = await getServer(db, user.id, serverName);
    if (serverName && !config.allow_named_servers) throw new HubError(400, 'Named servers are not enabled.');
    if (!row && serverName && config.named_server_limit_per_user > 0) {
      const named = await db.selectFrom('servers').select('id').where('user_id', '=', user.id).where('name', '!=', '').execute();
      if (named.length >= config.named_server_limit_per_user) {
        throw new HubError(
          400,
          `User ${user.name} already has the maximum of ${config.named_server_limit_per_user} named servers.  One must be deleted before a new server can be created`,
        );
      }
    }
    const label = serverLabel(user.name, serverName);
    if (row?.pending === 'spawn') {
      this.h.metrics.spawnEnded('already-pending', (performance.now() - began) / 1000);
      return { server: row };
    }
    if (row?.pending) throw new HubError(400, `${label} is pending ${row.pending}`);
    if (row?.ready) {
      const alive = await this.pollOne(user.name, row);
      if (alive) throw new HubError(400, `${label} is already running`);
      row = (await getServer(db, user.id, serverName))!;
    }
    // auth.refresh_pre_spawn: current credentials for the spawner, or 401 "please log in again"
    user = await refreshBeforeSpawn(this.h, user, this.h.log);
    // the options are checked by the back-end on every path (API, form, remembered) before anything is
    // claimed, or stored: a refused start leaves no new server row behind
    const plan = await this.plan(user, userOptions ?? this.remembered(row, label));
    // two first starts of a new server at once: one creates the row, the other uses it (the claim below decides)
    const created = !row;
    row ??= await createServer(db, user.id, serverName, plan.backend.name).catch(async (err: unknown) => {
      const raced = await getServer(db, user.id, serverName);
      if (!raced) throw err;
      return raced;
    });
    // the limits are checked and the spawn claimed (admitted, or queued) in one step with the other hub processes
    const claimed = row;
    const ticket = await this.queue.reserve(user, plan.spawnUser.groups, row.id, label).catch(async (err: unknown) => {
      // a refused first start leaves no server behind (a named server would show as existing)
      if (created) await db.deleteFrom('servers').where('id', '=', claimed.id).where('pending', 'is', null).where('ready', '=', 0).execute();
      throw err;
    });
    this.progress.reset(row.id);
    return { server: { ...row, pending: 'spawn' }, done: this.launch(row, plan, ticket) };
  }

  /** Runs a claimed spawn in the background, tracked in `inFlight`; the promise settles when it ends. */
  private launch(row: ServerRow, plan: SpawnPlan, ticket?: SpawnTicket): Promise<void> {
    const abort = new AbortController();
    const id = row.id;
    // a queued spawn waits for its slot first (a stop while it waits takes it out of the queue)
    const admitted = ticket ? this.queue.wait(ticket, abort.signal, (message) => this.progress.push(id, { progress: 0, message })) : Promise.resolve(true);
    const done = admitted
      .then((ok) => (ok ? this.queue.timed(() => this.runSpawn(plan, row, abort.signal)) : undefined))
      .catch((err: Error) => this.h.log.error({ err: err.message, user: plan.user.name }, 'spawn bookkeeping failed'))
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, { promise: done, abort });
    return done;
  }

  /**
   * The options a start without any reuses: those the server last started
   * with. Options naming a back-end no longer configured are dropped (they
   * were that back-end's): the server starts on the default one with none,
   * rather than being refused on every start until the user sends new ones.
   */
  private remembered(row: ServerRow | undefined, label: string): Record<string, unknown> {
    const options = row ? (JSON.parse(row.user_options) as Record<string, unknown>) : {};
    const named = options?.[BACKEND_OPTION];
    if (typeof named === 'string' && named && !this.h.spawners.get(named)) {
      this.h.log.warn({ server: label, backend: named }, 'the remembered options name a back-end no longer configured; starting with none');
      return {};
    }
    return options;
  }

  /**
   * Picks the back-end a start asks for and has it check the options.
   * Throws HubError (400 naming the field, 403 for a back-end the user's
   * groups do not allow) before anything is stored.
   */
  private async plan(user: UserRow, asked: Record<string, unknown>): Promise<SpawnPlan> {
    const { db } = this.h;
    const spawnUser: SpawnUser = { name: user.name, admin: !!user.admin, groups: (await groupsOfUsers(db, [user.id])).get(user.id) ?? [] };
    const authState = await loadAuthState(db, this.h.crypt, user.id, this.h.log);
    if (asked === null || typeof asked !== 'object' || Array.isArray(asked)) throw new HubError(400, 'Server options must be a JSON object');
    const { backend, options: rest } = this.h.spawners.pick(asked, spawnUser);
    const checked = backend.spawner.checkOptions ? await backend.spawner.checkOptions(rest, { user: spawnUser, authState }) : rest;
    if (checked === null || typeof checked !== 'object' || Array.isArray(checked)) throw new Error(`the ${backend.name} back-end's checkOptions returned no options object`);
    // `backend` is the hub's key, never the spawner's: the row records the back-end the hub picked
    const options = { ...checked };
    delete options[BACKEND_OPTION];
    // the model shows `backend` only when there is a choice (one back-end: user_options as the spawner checked them)
    const stored = this.h.spawners.all().length > 1 ? { [BACKEND_OPTION]: backend.name, ...options } : options;
    return { user, spawnUser, backend, options, stored, authState };
  }

  private async runSpawn(plan: SpawnPlan, row: ServerRow, signal: AbortSignal): Promise<void> {
    const { config, db, urls } = this.h;
    const { user, backend, authState, resumeState } = plan;
    const spawner = backend.spawner;
    const userOptions = plan.options;
    const label = serverLabel(user.name, row.name);
    const log = this.h.log.child({ user: user.name, server: row.name, ...(this.h.spawners.all().length > 1 ? { backend: backend.name } : {}) });
    const emit = (progress: number, message: string) => this.progress.push(row.id, { progress, message });
    let state: SpawnerState | undefined = resumeState;
    const started = Date.now();
    const prefix = serverPrefix(urls, user.name, row.name);
    try {
      let env: Record<string, string> = {};
      if (resumeState) {
        // the job of an earlier hub process still waits: its token and OAuth client stay as they are
        emit(10, 'Resuming the wait for the server after a hub restart');
      } else {
        emit(0, 'Server requested');
        env = await this.prepare(plan, row, log);
      }
      const workDir = await serverWorkDir(this.h.dataDir, user.name, row.name, log);
      const timeout = AbortSignal.timeout(config.start_timeout * 1000);
      /** The spawner's last progress message, for the start timeout's message. */
      let lastStep: string | undefined;
      const startSignal = AbortSignal.any([signal, timeout]);
      if (!resumeState) emit(10, 'Starting the server');
      const result = await raceAbort(
        spawner.start({
          user: plan.spawnUser,
          serverName: row.name,
          backend: backend.name,
          env,
          authState,
          userOptions,
          workDir,
          log,
          signal: startSignal,
          ...(resumeState ? { resumeState } : {}),
          reportedPort: () => reportedPort(db, row.id),
          saveState: async (s) => {
            state = s;
            // after the hub gave up, the row is (being) reset: the state goes to onLate or the clean-up below
            if (!startSignal.aborted) await updateServer(db, row.id, { state: JSON.stringify(s) });
          },
          progress: (e) => {
            lastStep = e.message;
            emit(Math.min(Math.max(e.progress, 10), 60), e.message);
          },
        }),
        startSignal,
        () =>
          timeout.aborted
            ? new SpawnError(startTimeoutMessage(label, config.start_timeout, lastStep), 'timeout')
            : new SpawnError(`Spawn of ${label} was cancelled`, 'cancelled'),
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
        // a scheduler that cannot be asked right now is no reason to give up
        stillRunning: async () => (await pollSafely(spawner, result.state, log, this.pollTimeoutMs)).status !== 'stopped',
        label,
      });
      emit(90, 'Server answers; adding its route to the proxy');
      await this.h.proxy.addRoute(prefix, result.url, { jupyterhub: true, user: user.name, server_name: row.name });
      const now = isoNow();
      await updateServer(db, row.id, { ready: 1, pending: null, started: now, last_activity: now, last_activity_source: 'start', owner: this.h.processId });
      await touchUserActivity(db, user.id, now); // a start is the user's activity (as JupyterHub's spawn)
      log.info({ ms: Date.now() - started, url: result.url }, 'server ready');
      this.h.metrics.spawnEnded('success', (Date.now() - started) / 1000);
      this.progress.finish(row.id, { progress: 100, message: `Server ready at ${prefix}`, ready: true, url: prefix });
    } catch (err) {
      const message = err instanceof HubError ? err.message : `Spawn of ${label} failed: ${(err as Error).message}`;
      log.error({ err: err instanceof Error ? err.message : String(err), logMessage: (err as HubError).logMessage }, 'spawn failed');
      this.h.metrics.spawnEnded('failure', (Date.now() - started) / 1000);
      let logTail: string | undefined;
      if (state) {
        try {
          await spawner.stop(state, { log });
        } catch (stopErr) {
          log.warn({ err: (stopErr as Error).message }, 'could not stop the server after a failed spawn');
        }
        logTail = await this.logTailOf(spawner, state, log);
      }
      await updateServer(db, row.id, { ready: 0, pending: null, url: null, state: '{}', owner: null });
      await deleteServerTokens(db, user.id, row.name);
      this.h.identities.clear();
      // a back-end that needs a fresh login of the user (401): the failure offers one, coming back to the spawn page
      const spawnPage = `${urls.hub}spawn/${quotePath(user.name)}${row.name ? `/${quotePath(row.name)}` : ''}`;
      // (a spawn cancelled by a stop: the stop runs the hook)
      if (!signal.aborted) this.stopHooks.run(this.h, { user: user.name, serverName: row.name, backend: backend.name, reason: 'spawn-failed' });
      this.progress.fail(row.id, message, logTail, {
        ...(needsLoginAgain(err) ? { loginAgainUrl: loginAgainUrl(this.h, spawnPage) } : {}),
        ...failureStatus(err),
      });
    }
  }

  /**
   * The first steps of a new spawn: records the back-end and options, makes
   * the server's API token and OAuth client, and builds its environment
   * (through the config module's spawn hooks: src/hub/spawn-hooks.ts).
   */
  private async prepare(plan: SpawnPlan, row: ServerRow, log: Logger): Promise<Record<string, string>> {
    const { config, db, urls } = this.h;
    const { user, authState } = plan;
    await updateServer(db, row.id, { user_options: JSON.stringify(plan.stored), spawner: plan.backend.name });
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
    const { admin, groups } = plan.spawnUser;
    const ctx = { user: user.name, admin, groups, serverName: row.name, backend: plan.backend.name, userOptions: plan.options, authState, log };
    return environmentFromHooks(this.h, ctx, serverLabel(user.name, row.name), env);
  }

  /** The end of a server's log from its spawner (bounded in time); undefined when it has none. */
  private async logTailOf(spawner: Spawner, state: SpawnerState, log: Logger): Promise<string | undefined> {
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
    this.inFlight.set(row.id, { promise: promise.then(() => undefined), abort: new AbortController() });
    const finished = await resolvesWithin(promise, config.slow_spawn_timeout * 1000);
    if (!finished) return 'pending';
    const failure = await promise;
    // a back-end that needs a fresh login of the user (status 401) says so; anything else may pass, so try again later
    if (failure?.loginAgain) throw new HubError(401, `Could not stop ${label}: ${sentence(failure.message)} It is still running.`);
    if (failure) throw new HubError(503, `Could not stop ${label}: ${failure.message}. It is still running; try again later.`);
    return 'stopped';
  }

  /**
   * Stops one server. When its spawner fails to stop it (a scheduler that
   * cannot be reached to cancel the job), the server is put back as it was
   * (state, url, token and route kept) so that the job is not forgotten
   * while it runs on: resolves with the reason (and whether the user must log
   * in again: an error of status 401), and the caller says so. A
   * state that cannot be read at all is cleared (nothing could stop it).
   */
  private async runStop(user: UserRow, row: ServerRow, remove: boolean): Promise<{ message: string; loginAgain: boolean } | undefined> {
    const { db, urls } = this.h;
    const { spawner, name: backend } = this.h.spawners.forRow(row);
    const log = this.h.log.child({ user: user.name, server: row.name });
    const prefix = serverPrefix(urls, user.name, row.name);
    const began = performance.now();
    let state: SpawnerState | undefined;
    try {
      await this.h.proxy.deleteRoute(prefix).catch((err: Error) => log.warn({ err: err.message }, 'could not delete the route; reconciliation will'));
      state = savedState(spawner, row);
      if (state.v) await spawner.stop(state, { log });
      log.info('server stopped');
    } catch (err) {
      const reason = (err as Error).message;
      if (state?.v) {
        log.error({ err: reason }, 'stop failed; the server is kept as it was, to be stopped again later');
        await updateServer(db, row.id, { ready: row.ready, pending: null, owner: row.ready ? this.h.processId : null });
        if (row.ready && row.url) {
          await this.h.proxy.addRoute(prefix, row.url, { jupyterhub: true, user: user.name, server_name: row.name }).catch(() => undefined);
        }
        this.h.metrics.stopEnded('failure', (performance.now() - began) / 1000);
        return { message: reason, loginAgain: needsLoginAgain(err) };
      }
      log.error({ err: reason }, 'stop failed: unreadable spawner state; the server is cleared');
    }
    await updateServer(db, row.id, { ready: 0, pending: null, url: null, state: '{}', owner: null });
    await deleteServerTokens(db, user.id, row.name);
    this.h.identities.clear();
    if (remove) await deleteServer(db, row.id);
    this.progress.clear(row.id);
    this.h.metrics.stopEnded('success', (performance.now() - began) / 1000);
    this.stopHooks.run(this.h, { user: user.name, serverName: row.name, backend, reason: 'stopped' });
    return undefined;
  }

  /** Stops the poll loop and waits (bounded) for transitions in flight. */
  async close(timeoutMs = 5000): Promise<void> {
    this.poller.close();
    this.queue.close();
    await resolvesWithin(Promise.allSettled([...this.inFlight.values()].map((f) => f.promise)), timeoutMs);
    await this.stopHooks.settled(timeoutMs);
  }

  progressOf(serverId: number): ProgressRecord {
    return this.progress.get(serverId);
  }
}

/**
 * The message of a spawn given up at `start_timeout`, with the spawner's
 * last progress message (e.g. a batch job still queued, with the
 * scheduler's reason): the failure page shows only this message.
 */
export function startTimeoutMessage(label: string, seconds: number, lastProgress: string | undefined): string {
  const said = lastProgress ? `; the last step was: ${lastProgress}` : '';
  return `Server ${label} did not start within ${seconds} seconds${said}`;
}

/** A message ending with a full stop (a spawner's sentence may have one or not). */
function sentence(text: string): string {
  const t = text.trimEnd();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

export function serverLabel(user: string, serverName: string): string {
  return serverName ? `${user}:${serverName}` : `${user}'s server`;
}

export type { Logger };

/**
 * The status a failed spawn answers with in the API: the spawner error's own
 * when it names one other than 500 (400 a refused option, 502 a refusal of
 * the scheduler, 503 a scheduler that cannot be reached); JupyterHub's 500
 * otherwise.
 */
function failureStatus(err: unknown): { status?: number } {
  const status = err instanceof HubError ? err.status : undefined;
  return status !== undefined && status >= 400 && status <= 599 && status !== 500 ? { status } : {};
}
