/**
 * The hooks a config module (`ganymede.config.js` / `.mjs`) may give under
 * `hooks:`, with the context each one gets: the types config authors write
 * against (docs/hooks.md has examples). The JupyterHub-named spawn hooks run
 * in this order before every new spawn:
 *
 * 1. `auth_state_hook` — sees the user's auth state, may return values
 *    (`env` is merged into the environment; the whole result reaches the
 *    next hooks as `fromAuthState`);
 * 2. `pre_spawn_hook` (then `preSpawnStart`, its older name) — may change
 *    `env` in place, or throw to refuse the spawn;
 * 3. `modify_env` — returns the final environment.
 *
 * A hook that throws (or returns something malformed) fails the spawn: the
 * user sees "… refused by the hub's <hook>: <the error's message>", with
 * the error's `status` when it has one (400-599). `post_stop_hook` runs
 * after a server stopped, whatever stopped it; its errors are only logged.
 */
import type { Logger } from 'pino';
import type { AuthResult } from '../auth/authenticator.js';

/** What every spawn hook is told about the spawn. */
export interface SpawnHookContext {
  /** The user's name. */
  user: string;
  admin: boolean;
  /** The user's groups. */
  groups: string[];
  /** The server's name (`''`: the default server). */
  serverName: string;
  /** The spawner back-end that will run it (`default` with one `spawner:`). */
  backend: string;
  /** The options the spawner gets, as it checked them. */
  userOptions: Record<string, unknown>;
  /** The user's current auth state (decrypted), or null. */
  authState: Record<string, unknown> | null;
  /** A logger bound to the user and server (never log a secret). */
  log: Logger;
}

/** What `auth_state_hook` may return: `env` is added to the server's environment; everything is passed on as `fromAuthState`. */
export interface AuthStateHookResult {
  env?: Record<string, string>;
  [key: string]: unknown;
}

/** The context of `pre_spawn_hook` and `preSpawnStart`: `env` is the server's environment, to change in place. */
export interface PreSpawnContext extends SpawnHookContext {
  env: Record<string, string>;
  /** What `auth_state_hook` returned (`{}` without one). */
  fromAuthState: AuthStateHookResult;
}

/** The context of `modify_env`: `env` is a copy of the environment so far; the hook returns the one the server gets. */
export type ModifyEnvContext = PreSpawnContext;

/** Why a server stopped, as `post_stop_hook` is told. */
export type StopReason = 'stopped' | 'died' | 'spawn-failed' | 'finished-after-restart';

/** The context of `post_stop_hook`. */
export interface PostStopContext {
  user: string;
  serverName: string;
  backend: string;
  /** `stopped`: asked for (a user, an admin, the culler); `died`: the poll loop found it gone; `spawn-failed`: its spawn failed; `finished-after-restart`: a stop an earlier hub process began. */
  reason: StopReason;
  log: Logger;
}

/** Hooks that may only be given as code, from a `ganymede.config.js` module. */
export interface ConfigHooks {
  /** Called before every spawn, after `auth_state_hook`; may change `env` in place or throw to refuse the spawn (JupyterHub's `Spawner.pre_spawn_hook`). */
  pre_spawn_hook?: (ctx: PreSpawnContext) => void | Promise<void>;
  /** The older name of `pre_spawn_hook` (kept working; runs after it when both are set in code). */
  preSpawnStart?: (ctx: PreSpawnContext) => void | Promise<void>;
  /** Called after a server stopped, however it stopped; errors are logged and never block or undo the stop (JupyterHub's `Spawner.post_stop_hook`). */
  post_stop_hook?: (ctx: PostStopContext) => void | Promise<void>;
  /** Called before every spawn with the user's auth state (JupyterHub's `Spawner.auth_state_hook`); may return values the spawn sees. */
  auth_state_hook?: (ctx: SpawnHookContext) => AuthStateHookResult | void | Promise<AuthStateHookResult | void>;
  /** Returns the final environment of the server (every value a string), given the one built so far. */
  modify_env?: (ctx: ModifyEnvContext) => Record<string, string> | Promise<Record<string, string>>;
  /** Replaces the spawner's options form (HTML, or undefined for none). */
  optionsForm?: (user: { name: string; admin: boolean; groups: string[] }) => string | undefined | Promise<string | undefined>;
  /** Turns the posted form into user_options. */
  optionsFromForm?: (form: Record<string, string | string[]>) => Record<string, unknown>;
  /**
   * Called at every login and refresh after the hub's own policy (names,
   * allow/block lists, groups): may return a changed result (name, admin,
   * groups, auth state) or null to refuse the login. The hub checks a
   * changed name against the name rules again.
   */
  postAuthHook?: (result: AuthResult, ctx: { kind: string; log: Logger }) => AuthResult | null | Promise<AuthResult | null>;
}

/** Every hook name a config module may give. */
export const HOOK_NAMES: ReadonlyArray<keyof ConfigHooks> = [
  'pre_spawn_hook',
  'preSpawnStart',
  'post_stop_hook',
  'auth_state_hook',
  'modify_env',
  'optionsForm',
  'optionsFromForm',
  'postAuthHook',
];
