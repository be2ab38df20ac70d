import { isDeepStrictEqual } from 'node:util';
import path from 'node:path';
import { loadConfig, type LoadedConfig, type LoadOptions } from '../config/load.js';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config, ConfigHooks } from '../config/schema.js';
import type { DB } from '../db/schema.js';
import { ensureUser } from '../db/repos/users.js';
import { ConfigError } from '../lib/errors.js';
import { normalizeUsername } from '../lib/names.js';
import { isoNow } from '../lib/time.js';
import { FileWatch, filesNamedBy } from './config-watch.js';
import { planReload } from './reload-plan.js';
import { checkRoles } from './roles-loader.js';

/**
 * Live configuration (issue 14, item 5): on SIGHUP, or when the config file
 * or a secret file it names changes, the hub reads and validates the file
 * again and applies it without a restart. What applies live and what needs a
 * restart is src/hub/reload-table.ts. Nothing running is touched: requests in
 * flight finish with the configuration they started with, servers keep
 * running, the proxy and the listening sockets stay.
 *
 * A file that does not validate is refused: one log line names every
 * problem, and the running configuration stays. A restart-only change is
 * logged as needing a restart and not applied (the running value is kept,
 * so that nothing half-applies); the rest of the file applies.
 */

/** `applied`: live changes made; `unchanged`: nothing to apply (maybe restart-only changes); `refused`: the file is invalid. */
export type ReloadResult = 'applied' | 'unchanged' | 'refused';

/** One reload, as logged and shown in `GET /hub/api/info` (`config_reload`). */
export interface ReloadOutcome {
  at: string;
  /** What asked for it: `SIGHUP`, `file changed: NAME`, `start`... */
  trigger: string;
  result: ReloadResult;
  /** Live options applied (dotted keys; `hooks` for a JS module's hooks). */
  changed: string[];
  /** Restart-only options whose new value waits for a restart. */
  restart_needed: string[];
  /** Why the file was refused, one line each (`key: what is wrong`). */
  problems: string[];
}

/** What `GET /hub/api/info` shows to a holder of `read:hub` (`config_reload`). */
export interface ReloadStatus {
  /** Reloads so far, by result. */
  counts: Record<ReloadResult, number>;
  last: ReloadOutcome | undefined;
  /** Restart-only options whose value in the file differs from the running one (after the last good read). */
  restart_pending: string[];
}

/** The parts of the hub (src/hub/context.ts) a reload reads and replaces. */
export interface ReloadTarget {
  config: Config;
  hooks: ConfigHooks;
  db: Kysely<DB>;
  log: Logger;
  identities: { clear(): void };
}

export interface ReloaderOptions {
  /** The config file (undefined: defaults and overrides only; reload then re-applies them). */
  file: string | undefined;
  /** The command line's overrides (`--port`...), applied over the file as at start. */
  overrides?: Record<string, unknown>;
  /** Reads the configuration (default: {@link loadConfig}; tests replace it). */
  load?: (file: string | undefined, overrides: Record<string, unknown>, opts: LoadOptions) => Promise<LoadedConfig>;
  /**
   * Applies the services and roles of a configuration not yet set as
   * `hub.config` (src/services/apply-services.ts: tokens, roles, managed
   * processes, routes); throws a ConfigError to refuse it. Unset: they are
   * left alone (tests of the reload alone).
   */
  applyServices?: (config: Config) => Promise<void>;
  /** Debounce of the file watch, ms (default 300). */
  debounceMs?: number;
}

export class ConfigReloader {
  private readonly counts: Record<ReloadResult, number> = { applied: 0, unchanged: 0, refused: 0 };
  private last: ReloadOutcome | undefined;
  private restartPending: string[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private waiting: Promise<ReloadOutcome> | undefined;
  private waitingForce = false;
  private readonly listeners = new Set<(outcome: ReloadOutcome) => void>();
  private watcher: FileWatch | undefined;
  private imports = 0;

  constructor(
    private readonly hub: ReloadTarget,
    private readonly opts: ReloaderOptions,
  ) {}

  /**
   * Reads the file again and applies it. Reloads never overlap: one asked
   * for while another runs waits, and several asked for meanwhile are one.
   * `force` re-applies the database parts (services, roles, admin users)
   * even when the file did not change them (SIGHUP, a secret file changed).
   * Never throws: a refusal is an outcome.
   */
  reload(trigger: string, opts: { force?: boolean } = {}): Promise<ReloadOutcome> {
    this.waitingForce ||= opts.force === true;
    if (this.waiting) return this.waiting;
    const run = this.tail.then(() => {
      this.waiting = undefined;
      const force = this.waitingForce;
      this.waitingForce = false;
      return this.run(trigger, force);
    });
    this.waiting = run;
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Calls `listener` after every reload (e.g. a `ganymede_config_reloads_total{result}` counter); returns the unsubscribe. */
  onReload(listener: (outcome: ReloadOutcome) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): ReloadStatus {
    return { counts: { ...this.counts }, last: this.last, restart_pending: [...this.restartPending] };
  }

  /** Watches the config file and the files it names; a change reloads. No-op without a file. */
  watch(): void {
    if (!this.opts.file) return;
    this.watcher ??= new FileWatch({
      log: this.hub.log,
      ...(this.opts.debounceMs === undefined ? {} : { debounceMs: this.opts.debounceMs }),
      onChange: (files) => {
        const config = path.resolve(this.opts.file!);
        const secret = files.some((f) => f !== config);
        void this.reload(`file changed: ${files.map((f) => path.basename(f)).join(', ')}`, { force: secret });
      },
    });
    this.watcher.watch(this.watchedFiles());
  }

  /** Stops watching (the hub stops). */
  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private watchedFiles(): string[] {
    return [this.opts.file!, ...filesNamedBy(this.hub.config)];
  }

  private async run(trigger: string, force: boolean): Promise<ReloadOutcome> {
    const { hub } = this;
    let outcome: ReloadOutcome;
    try {
      outcome = await this.apply(trigger, force);
    } catch (err) {
      const problems = err instanceof ConfigError ? [...err.problems] : [(err as Error).message];
      outcome = { at: isoNow(), trigger, result: 'refused', changed: [], restart_needed: [], problems };
      hub.log.error({ trigger, file: this.opts.file, problems }, `configuration reload refused (${problems.length} problem${problems.length === 1 ? '' : 's'}): the running configuration is kept`);
    }
    this.counts[outcome.result]++;
    this.last = outcome;
    for (const listener of this.listeners) {
      try {
        listener(outcome);
      } catch (err) {
        hub.log.warn({ err: (err as Error).message }, 'a config reload listener failed');
      }
    }
    return outcome;
  }

  private async apply(trigger: string, force: boolean): Promise<ReloadOutcome> {
    const { hub } = this;
    const load = this.opts.load ?? loadConfig;
    const isModule = this.opts.file !== undefined && /\.(m?js|ts)$/.test(this.opts.file);
    const loaded = await load(this.opts.file, this.opts.overrides ?? {}, isModule ? { fresh: ++this.imports } : {});
    const current = hub.config;
    const plan = planReload(current, loaded.config);
    const hooksChanged = isModule && !sameHooks(hub.hooks, loaded.hooks);
    const changed = hooksChanged ? [...plan.live, 'hooks'] : plan.live;
    const next = plan.applied;
    const has = (key: string) => plan.live.includes(key);
    // every check before the first write, so that a refusal leaves the database as it was
    checkRoles(next.roles);
    if (force || has('services') || has('roles') || has('cull')) {
      // applied from the new configuration while requests still run with the old one (hub.config is set
      // only once all succeeded); a refusal (a role naming a service that is gone, a bad token file)
      // re-applies the old one
      try {
        await this.opts.applyServices?.(next);
      } catch (err) {
        await this.opts.applyServices?.(current).catch(() => undefined);
        throw err;
      }
    }
    if (force || has('admin_users')) for (const name of next.admin_users) await ensureUser(hub.db, normalizeUsername(name), true);
    hub.config = next;
    if (isModule) hub.hooks = loaded.hooks;
    if (next.log_level !== current.log_level) hub.log.level = next.log_level;
    hub.identities.clear();
    this.restartPending = plan.restart;
    if (this.watcher && !isDeepStrictEqual(filesNamedBy(current), filesNamedBy(next))) this.watcher.watch(this.watchedFiles());
    const outcome: ReloadOutcome = { at: isoNow(), trigger, result: changed.length ? 'applied' : 'unchanged', changed, restart_needed: plan.restart, problems: [] };
    if (plan.restart.length) {
      hub.log.warn({ trigger, options: plan.restart }, 'configuration reload: these options need a restart of the hub; their running values are kept');
    }
    if (changed.length) hub.log.info({ trigger, changed }, 'configuration reloaded');
    else hub.log.info({ trigger }, 'configuration reload: nothing to apply');
    return outcome;
  }
}

/** Whether two sets of hooks are the same functions, or functions of the same source (a re-imported module). */
function sameHooks(a: ConfigHooks, b: ConfigHooks): boolean {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof ConfigHooks>;
  for (const name of names) {
    const x = a[name];
    const y = b[name];
    if (x === y) continue;
    if (x === undefined || y === undefined || String(x) !== String(y)) return false;
  }
  return true;
}
