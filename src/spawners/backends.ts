import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { HubError } from '../lib/errors.js';
import { quoteName } from '../lib/quote-name.js';
import { createSpawner, type AnySpawnerConfig } from './registry.js';
import type { Spawner, SpawnUser, UserTokens } from './spawner.js';

/** The name of the single back-end of `spawner:` (when `spawners:` is empty). */
export const DEFAULT_BACKEND = 'default';

/** The key of `user_options` (and the spawn form field) that picks a back-end. */
export const BACKEND_OPTION = 'backend';

/** One named back-end: its spawner and how users see it. */
export interface Backend {
  name: string;
  spawner: Spawner;
  displayName: string;
  description: string;
  /** Hub groups whose members may use it; empty: everyone. Admins always may. */
  allowedGroups: readonly string[];
}

/**
 * The hub's spawner back-ends by name: `spawners:` from the config, or the one
 * `spawner:` named {@link DEFAULT_BACKEND}. The first is the default for a
 * start that names none. A server's row records its back-end's name; poll,
 * stop and re-attach look it up here with {@link forRow}.
 */
export class SpawnerBackends {
  private readonly byName = new Map<string, Backend>();

  constructor(backends: readonly Backend[]) {
    if (backends.length === 0) throw new Error('at least one spawner back-end is needed');
    for (const b of backends) this.byName.set(b.name, b);
  }

  /** The back-ends of a configuration, each built with its own child logger. */
  static fromConfig(config: Config, deps: { log: Logger; dataDir: string; userTokens?: UserTokens }): SpawnerBackends {
    const entries: [string, AnySpawnerConfig][] = Object.keys(config.spawners).length ? Object.entries(config.spawners) : [[DEFAULT_BACKEND, config.spawner]];
    return new SpawnerBackends(
      entries.map(([name, options]) => ({
        name,
        spawner: createSpawner(options, { log: deps.log.child({ backend: name }), name, now: Date.now, fetch: globalThis.fetch, dataDir: deps.dataDir, ...(deps.userTokens ? { userTokens: deps.userTokens } : {}) }),
        displayName: options.display_name || name,
        description: options.description,
        allowedGroups: options.allowed_groups,
      })),
    );
  }

  /** One spawner as the only back-end (tests, embedding). */
  static single(spawner: Spawner): SpawnerBackends {
    return new SpawnerBackends([{ name: DEFAULT_BACKEND, spawner, displayName: DEFAULT_BACKEND, description: '', allowedGroups: [] }]);
  }

  /** Every back-end, in configuration order. */
  all(): Backend[] {
    return [...this.byName.values()];
  }

  /** The default back-end (the first). */
  get default(): Backend {
    return this.all()[0]!;
  }

  /** The back-end called `name`, or undefined. */
  get(name: string): Backend | undefined {
    return this.byName.get(name);
  }

  /**
   * The back-end a server row records. A row from before back-ends had names
   * holds a spawner kind: it goes to the first back-end of that kind (a
   * local-process server is never handed to a Slurm back-end that happens to
   * be the default); an empty name, or `default` once `spawner:` became
   * `spawners:`, goes to the default one. A row naming a back-end that is no
   * longer configured gets a stand-in that never guesses: its polls answer
   * `unknown` (the server is kept) and stopping it fails with a message
   * saying to configure the back-end again, so a job on a removed cluster is
   * never handed to another back-end and forgotten.
   */
  forRow(row: { spawner: string }): Backend {
    const named = this.byName.get(row.spawner) ?? this.all().find((b) => b.spawner.kind === row.spawner);
    if (named) return named;
    if (row.spawner === '' || row.spawner === DEFAULT_BACKEND) return this.default;
    return { name: row.spawner, spawner: missingBackend(row.spawner), displayName: row.spawner, description: '', allowedGroups: [] };
  }

  /** Whether `user` may start servers on `backend`. */
  allows(backend: Backend, user: SpawnUser): boolean {
    if (user.admin || backend.allowedGroups.length === 0) return true;
    return user.groups.some((g) => backend.allowedGroups.includes(g));
  }

  /** The back-ends `user` may use, in configuration order. */
  forUser(user: SpawnUser): Backend[] {
    return this.all().filter((b) => this.allows(b, user));
  }

  /**
   * Picks the back-end a start asks for (`options.backend`, else the default)
   * and returns it with the options minus that key. Throws HubError(400) for
   * a name that is not a string or not configured, and 403 for one the user's
   * groups do not allow.
   */
  pick(options: Record<string, unknown>, user: SpawnUser): { backend: Backend; options: Record<string, unknown> } {
    const { [BACKEND_OPTION]: asked, ...rest } = options;
    if (asked === undefined || asked === '') {
      const usable = this.forUser(user);
      const backend = this.allows(this.default, user) ? this.default : usable[0];
      if (!backend) throw new HubError(403, `${quoteName(user.name)} may not start servers on any back-end (each is limited to some groups)`);
      return { backend, options: rest };
    }
    if (typeof asked !== 'string') throw new HubError(400, `The option '${BACKEND_OPTION}' must be a string naming a back-end`);
    const backend = this.byName.get(asked);
    if (!backend) throw new HubError(400, `Unknown back-end ${quoteName(asked)} in option '${BACKEND_OPTION}'; configured: ${this.all().map((b) => b.name).join(', ')}`);
    if (!this.allows(backend, user)) throw new HubError(403, `${quoteName(user.name)} may not start servers on back-end ${quoteName(asked)} (limited to the groups ${backend.allowedGroups.join(', ')})`);
    return { backend, options: rest };
  }

  /** Calls every back-end's `init`, in order. */
  async init(): Promise<void> {
    for (const b of this.all()) await b.spawner.init?.();
  }

  /** Calls every back-end's `close`, each bounded by `timeoutMs` (failures and overruns logged, never thrown). */
  async close(log: Logger, timeoutMs = 5000): Promise<void> {
    await Promise.all(
      this.all().map(async (b) => {
        if (!b.spawner.close) return;
        let timer: NodeJS.Timeout | undefined;
        try {
          const late = new Promise<'late'>((resolve) => {
            timer = setTimeout(() => resolve('late'), timeoutMs);
          });
          const closing = b.spawner.close();
          closing.catch(() => undefined);
          if ((await Promise.race([closing, late])) === 'late') log.warn({ backend: b.name, timeoutMs }, 'a spawner back-end did not close in time; going on');
        } catch (err) {
          log.warn({ backend: b.name, err: (err as Error).message }, 'a spawner back-end failed to close');
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }
}

/** The stand-in for a back-end a server row names but the config no longer has (see {@link SpawnerBackends.forRow}). */
function missingBackend(name: string): Spawner {
  const why = `the back-end ${quoteName(name)} this server runs on is no longer configured (add it to spawners: again to reach it)`;
  return {
    kind: 'missing-backend',
    start: () => Promise.reject(new HubError(400, `Cannot start: ${why}`)),
    stop: () => Promise.reject(new Error(`Cannot stop: ${why}`)),
    poll: () => Promise.resolve({ status: 'unknown', reason: why }),
  };
}
