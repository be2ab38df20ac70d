import type { Logger } from 'pino';

/** Versioned, JSON-serialisable spawner state; saved by the hub after every transition. */
export type SpawnerState = { v: number } & Record<string, unknown>;

export interface ProgressEvent {
  /** 0-100 */
  progress: number;
  message: string;
}

/** Who a server is for, as a spawner sees it. */
export interface SpawnUser {
  name: string;
  admin: boolean;
  groups: string[];
}

/**
 * What a spawner's `user_options` checks and its form get: the user, and their
 * auth state (e.g. the projects a login brought), when the hub keeps one.
 */
export interface OptionsContext {
  user: SpawnUser;
  authState: Record<string, unknown> | null;
}

export interface SpawnRequest {
  user: SpawnUser;
  serverName: string;
  /** The name of the back-end this server runs on (a key of `spawners:`, or `default`). */
  backend: string;
  /** The full environment for the single-user server (JUPYTERHUB_* and friends). */
  env: Record<string, string>;
  /** The user's options, already checked by {@link Spawner.checkOptions} when the spawner has it. */
  userOptions: Record<string, unknown>;
  /**
   * The user's current auth state (decrypted), e.g. the identity provider's
   * access token or the user's projects; null when there is none or the hub
   * keeps none (no `auth.enable_auth_state` and no backend that needs it).
   */
  authState?: Record<string, unknown> | null;
  /** Where the spawner may keep files for this server (log files and such). */
  workDir: string;
  log: Logger;
  /** Persist state as soon as it identifies something live (a pid, a job id). */
  saveState(state: SpawnerState): Promise<void>;
  progress(event: ProgressEvent): void;
  /**
   * The port the server reported to the hub since this spawn began
   * (`POST /hub/api/batchspawner` or `/firecrestspawner` with the server's own
   * token), or undefined when none has arrived yet. Reads the database, so a
   * report that reached another hub process, or this one before a restart,
   * counts too.
   */
  reportedPort(): Promise<number | undefined>;
  /**
   * Set when a hub process restarted while this spawn was under way (a job
   * still pending): the state that spawn saved. A spawner whose
   * {@link Spawner.resumable} is true goes on waiting for what that state
   * names instead of starting anything new.
   */
  resumeState?: SpawnerState;
  /** Aborted when the hub gives up (start_timeout) or the user cancels. */
  signal: AbortSignal;
}

export interface StartResult {
  /** Where the hub (and proxy) reach the server, e.g. `http://127.0.0.1:41234`. */
  url: string;
  state: SpawnerState;
}

/**
 * What a poll learned about a server:
 * - `running`: it runs (the hub keeps it and its route);
 * - `pending`: it waits to run (a queued job), with the scheduler's reason;
 * - `stopped`: it is gone (the hub clears it and removes its route);
 * - `unknown`: the spawner could not find out (scheduler or API unreachable):
 *   the hub keeps the server as it is and asks again later, never declaring
 *   it dead on this answer.
 */
export type PollResult =
  | { status: 'running' }
  | { status: 'pending'; reason?: string }
  | { status: 'stopped'; exitCode?: number; reason?: string }
  | { status: 'unknown'; reason: string };

/** Limits of {@link Spawner.logTail}. */
export interface LogTailOptions {
  log: Logger;
  /** Most lines to return (the last ones). */
  lines: number;
  /** Most bytes to read from the end of the log. */
  maxBytes: number;
}

/**
 * What a spawner back-end gets when it is built, besides its own options: the
 * hub's logger and the seams tests replace. A back-end uses these rather than
 * globals.
 */
export interface SpawnerDeps {
  /** A child logger naming the back-end. */
  log: Logger;
  /** The back-end's name in `spawners:` (`default` for `spawner:`). */
  name: string;
  /** Milliseconds since the epoch (default `Date.now`). */
  now: () => number;
  /** HTTP client for back-ends that call APIs (default the global `fetch`). */
  fetch: typeof fetch;
  /** The hub's data dir (for files a back-end keeps, e.g. a known_hosts file it was given). */
  dataDir: string;
  /** The users' own OIDC access tokens, for back-ends that act as the user (FirecREST); absent: {@link NO_USER_TOKENS}. */
  userTokens?: UserTokens;
}

/**
 * A user's access token as {@link UserTokens} hands it out: the token (valid
 * for at least the hub's refresh margin, when the provider said how long),
 * or why there is none and the user must log in again.
 */
export type UserAccessToken = { token: string; /** When it expires, in Unix seconds (as OIDC's `expires_at`). */ expiresAt?: number } | { loginAgain: string };

/**
 * The hub's store of users' OIDC tokens (their encrypted auth state), for
 * back-ends whose calls carry the user's own access token. Refreshing goes
 * through the authenticator, one refresh per user at a time, and the
 * rotated tokens are saved, so every hub process sees them.
 */
export interface UserTokens {
  /**
   * The access token of hub user `userName`: the stored one while it has
   * more than the refresh margin left, else a refreshed one. `refresh: true`
   * (after the token was refused with 401) refreshes even a token that looks
   * valid. Never throws: a user without tokens, a refresh the provider
   * refuses or a provider that cannot be reached all answer `loginAgain`
   * with a sentence for the user.
   */
  accessToken(userName: string, opts: { refresh?: boolean; log: Logger }): Promise<UserAccessToken>;
}

/** The {@link UserTokens} of a hub without token-keeping login (and of tests that need none): every user must log in again. */
export const NO_USER_TOKENS: UserTokens = {
  accessToken: () => Promise.resolve({ loginAgain: 'This hub keeps no login tokens (an OIDC login with auth state is needed for this back-end).' }),
};

/**
 * A backend that runs single-user servers. Spawners are stateless objects:
 * everything that identifies a live server is in the state they return, which
 * the hub stores in its database and hands back on every call. Shared
 * resources (an SSH connection pool, a watch) live from {@link init} to
 * {@link close}.
 */
export interface Spawner {
  readonly kind: string;
  /** Called once before the first other call (open pools, start watches); may throw to stop the hub from starting. */
  init?(): Promise<void>;
  /** Called once when the hub stops; releases what {@link init} opened. Bounded by the caller. */
  close?(): Promise<void>;
  start(req: SpawnRequest): Promise<StartResult>;
  /**
   * True when {@link start} can resume a spawn from `req.resumeState` after a
   * hub restart (a job still queued). Otherwise the hub cleans such a spawn up.
   */
  readonly resumable?: boolean;
  /** Stop the server; must be idempotent (stopping a stopped server succeeds). */
  stop(state: SpawnerState, opts: { log: Logger }): Promise<void>;
  poll(state: SpawnerState, opts: { log: Logger }): Promise<PollResult>;
  /**
   * Polls many servers of this back-end at once (one scheduler query per host
   * instead of one per server): the results in the order of `states`. The
   * hub's poll loop uses it when present; never throws for one server (answer
   * `unknown` for it instead).
   */
  pollMany?(states: SpawnerState[], opts: { log: Logger }): Promise<PollResult[]>;
  /**
   * Brings state saved by an older version of this spawner up to date. The
   * hub calls it on every state it reads from the database before handing it
   * to `poll`, `stop` or `start` (resume). Throw for a state it cannot read.
   */
  upgradeState?(state: SpawnerState): SpawnerState;
  /**
   * Checks and normalises `user_options` on every path that starts a server
   * (the REST API, the spawn form, a restart with remembered options). Throws
   * HubError(400) naming the field and what is wrong; returns the options the
   * server starts with.
   */
  checkOptions?(options: Record<string, unknown>, ctx: OptionsContext): Record<string, unknown> | Promise<Record<string, unknown>>;
  /**
   * The last lines of the server's own output (its log), or undefined when
   * there is none to show. The hub calls it when a spawn fails, before it
   * clears `state`, and shows the text (escaped) to the server's owner on the
   * failure page. Return at most `lines` lines and `maxBytes` bytes; never
   * throw for a log that is missing.
   */
  logTail?(state: SpawnerState, opts: LogTailOptions): Promise<string | undefined>;
  /**
   * Why the user cannot stop this server themselves right now (e.g. their
   * login expired, and stopping a job needs their own token), or undefined
   * when they can. The home page asks it for each running server and shows
   * the reason instead of a stop button that would fail. Never throws; a
   * spawner without it can always be stopped.
   */
  stopBlocker?(state: SpawnerState, ctx: { user: string; log: Logger }): Promise<string | undefined>;
  /**
   * A hub user is being deleted (their servers already stopped): remove what
   * the back-end keeps for the user across servers and was told to remove
   * with the user (Kubernetes: the user's volume claim with `delete_pvc`).
   * Throws when it could not; the hub then keeps the user and says why.
   */
  deleteUser?(user: string, opts: { log: Logger }): Promise<void>;
  /**
   * HTML fragment for the spawn form, or undefined for none. `previous` holds
   * the options this user's server last started with (to preselect them).
   */
  optionsForm?(user: SpawnUser, ctx?: { authState: Record<string, unknown> | null; previous: Record<string, unknown> }): Promise<string | undefined> | string | undefined;
  /** Turns posted form fields into user_options; throw HubError(400) on bad input. {@link checkOptions} runs after it. */
  optionsFromForm?(form: Record<string, string | string[]>, ctx?: OptionsContext): Record<string, unknown>;
}
