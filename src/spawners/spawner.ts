import type { Logger } from 'pino';

/** Versioned, JSON-serialisable spawner state; saved by the hub after every transition. */
export type SpawnerState = { v: number } & Record<string, unknown>;

export interface ProgressEvent {
  /** 0-100 */
  progress: number;
  message: string;
}

export interface SpawnRequest {
  user: { name: string; admin: boolean; groups: string[] };
  serverName: string;
  /** The full environment for the single-user server (JUPYTERHUB_* and friends). */
  env: Record<string, string>;
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
  /** Aborted when the hub gives up (start_timeout) or the user cancels. */
  signal: AbortSignal;
}

export interface StartResult {
  /** Where the hub (and proxy) reach the server, e.g. `http://127.0.0.1:41234`. */
  url: string;
  state: SpawnerState;
}

export type PollResult = { status: 'running' } | { status: 'stopped'; exitCode?: number };

/** Limits of {@link Spawner.logTail}. */
export interface LogTailOptions {
  log: Logger;
  /** Most lines to return (the last ones). */
  lines: number;
  /** Most bytes to read from the end of the log. */
  maxBytes: number;
}

/**
 * A backend that runs single-user servers. Spawners are stateless objects:
 * everything that identifies a live server is in the state they return, which
 * the hub stores in its database and hands back on every call.
 */
export interface Spawner {
  readonly kind: string;
  start(req: SpawnRequest): Promise<StartResult>;
  /** Stop the server; must be idempotent (stopping a stopped server succeeds). */
  stop(state: SpawnerState, opts: { log: Logger }): Promise<void>;
  poll(state: SpawnerState, opts: { log: Logger }): Promise<PollResult>;
  /**
   * The last lines of the server's own output (its log), or undefined when
   * there is none to show. The hub calls it when a spawn fails, before it
   * clears `state`, and shows the text (escaped) to the server's owner on the
   * failure page. Return at most `lines` lines and `maxBytes` bytes; never
   * throw for a log that is missing.
   */
  logTail?(state: SpawnerState, opts: LogTailOptions): Promise<string | undefined>;
  /** HTML fragment for the spawn form, or undefined for none. */
  optionsForm?(user: { name: string; admin: boolean; groups: string[] }): Promise<string | undefined> | string | undefined;
  /** Turns posted form fields into user_options; throw HubError(400) on bad input. */
  optionsFromForm?(form: Record<string, string | string[]>): Record<string, unknown>;
}
