import type { AuthStateHookResult, ConfigHooks, PostStopContext, SpawnHookContext } from '../config/hooks.js';
import { HubError, SpawnError } from '../lib/errors.js';
import { answerWithin, resolvesWithin } from '../lib/time.js';
import type { Hub } from './context.js';

/** How long one hook may take before the spawn fails (or, for `post_stop_hook`, before a warning is logged). */
export const HOOK_TIMEOUT_MS = 60_000;

/**
 * Runs the spawn hooks of the config module in order (`auth_state_hook`,
 * `pre_spawn_hook`, `preSpawnStart`, `modify_env`; see src/config/hooks.ts)
 * on `env`, and returns the environment the server gets. The hooks are read
 * from `hub.hooks` now (a reloaded config module applies to the next spawn).
 * Throws a SpawnError naming the hook when one throws, takes longer than
 * {@link HOOK_TIMEOUT_MS}, or returns something that is no environment.
 */
export async function environmentFromHooks(hub: Hub, ctx: SpawnHookContext, label: string, env: Record<string, string>): Promise<Record<string, string>> {
  const hooks: ConfigHooks = hub.hooks;
  let fromAuthState: AuthStateHookResult = {};
  if (hooks.auth_state_hook) {
    const hook = hooks.auth_state_hook;
    const result = await call('auth_state_hook', label, () => hook({ ...ctx }));
    if (result !== undefined && result !== null) {
      if (typeof result !== 'object' || Array.isArray(result)) throw refused('auth_state_hook', label, 'it returned no object');
      fromAuthState = result;
      if (result.env !== undefined) Object.assign(env, checkedEnv('auth_state_hook', label, result.env));
    }
  }
  for (const name of ['pre_spawn_hook', 'preSpawnStart'] as const) {
    const hook = hooks[name];
    if (hook) await call(name, label, () => hook({ ...ctx, env, fromAuthState }));
  }
  if (hooks.modify_env) {
    const hook = hooks.modify_env;
    return checkedEnv('modify_env', label, await call('modify_env', label, () => hook({ ...ctx, env: { ...env }, fromAuthState })));
  }
  return env;
}

/**
 * Runs `post_stop_hook` (when there is one) without making the stop wait for
 * it: a stop never waits for, or fails because of, the hook. Its errors are
 * logged, and so is a hook still running after {@link HOOK_TIMEOUT_MS}. The
 * hooks still running are kept, so that the hub's close (a shutdown that
 * stops every server) can wait for them, bounded.
 */
export class PostStopHooks {
  private readonly running = new Set<Promise<void>>();

  run(hub: Hub, ctx: Omit<PostStopContext, 'log'>): void {
    const hook = hub.hooks.post_stop_hook;
    if (!hook) return;
    const log = hub.log.child({ user: ctx.user, server: ctx.serverName, hook: 'post_stop_hook' });
    let work: Promise<void>;
    try {
      work = Promise.resolve(hook({ ...ctx, log }));
    } catch (err) {
      work = Promise.reject(err as Error);
    }
    const done = answerWithin(work, HOOK_TIMEOUT_MS, 'post_stop_hook')
      .catch((err: unknown) => log.error({ err: messageOf(err), reason: ctx.reason }, 'post_stop_hook failed (the server is stopped all the same)'))
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  /** Resolves when every hook running now has ended, or after `ms`. */
  async settled(ms: number): Promise<void> {
    await resolvesWithin(Promise.allSettled([...this.running]), ms);
  }
}

async function call<T>(name: string, label: string, run: () => T | Promise<T>): Promise<T> {
  try {
    return await answerWithin(Promise.resolve().then(run), HOOK_TIMEOUT_MS, name);
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    throw refused(name, label, messageOf(err), typeof status === 'number' && status >= 400 && status <= 599 ? status : undefined, err);
  }
}

function refused(name: string, label: string, why: string, status?: number, cause?: unknown): HubError {
  return new SpawnError(`Spawn of ${label} was refused by the hub's ${name}: ${why}`, 'hook', { ...(status ? { status } : {}), cause });
}

/** An environment as a hook gave it: an object whose every value is a string. */
function checkedEnv(name: string, label: string, env: unknown): Record<string, string> {
  if (env === null || typeof env !== 'object' || Array.isArray(env)) throw refused(name, label, 'it returned no environment (an object of strings)');
  for (const [key, value] of Object.entries(env)) {
    if (typeof value !== 'string') throw refused(name, label, `the environment variable ${JSON.stringify(key).slice(0, 80)} is not a string`);
  }
  return env as Record<string, string>;
}

/** Most characters of a hook's error message the user and the log are shown (an error page from a service can be megabytes). */
export const HOOK_MESSAGE_MAX = 500;

function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const chars = [...text.slice(0, HOOK_MESSAGE_MAX * 2)];
  return chars.length > HOOK_MESSAGE_MAX || text.length > HOOK_MESSAGE_MAX * 2 ? `${chars.slice(0, HOOK_MESSAGE_MAX).join('')}… (${text.length} characters)` : text;
}
