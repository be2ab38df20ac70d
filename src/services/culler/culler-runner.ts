import type { Hub } from '../../hub/context.js';
import { pollRouteActivity } from '../../hub/route-activity.js';
import { cullOnce, type CullOptions, type CullReport } from './culler.js';
import type { CullConfig } from './culler-config.js';
import { releaseLease, takeLease } from './cull-lease.js';
import { revokeRoundToken, roundToken } from './culler-service.js';

/** How often a hub with culling off looks again at `cull.enabled` (a live reload may turn it on). */
const IDLE_CHECK_MS = 60_000;
/** A round's token lives at most this long (it is revoked when the round ends). */
const ROUND_TOKEN_SECONDS = 3600;

/**
 * The options of the hub's own rounds. Admin users are never deleted: the
 * culler's service is no admin, and only admins may delete admins here
 * (every such request would fail, and be logged, at every round).
 */
export function builtinCullOptions(cull: CullConfig): CullOptions {
  return { timeout: cull.timeout, max_age: cull.max_age, users: cull.users, remove_named_servers: cull.remove_named_servers, admin_users: cull.admin_users, concurrency: cull.concurrency, keep_admin_users: true };
}

export interface CullerRunner {
  /** Runs one round now (tests; the admin page might offer it). Undefined when culling is off or another hub holds the lease. */
  runNow(): Promise<CullReport | undefined>;
  stop(): Promise<void>;
}

export interface CullerRunnerOptions {
  fetch?: typeof fetch;
  now?: () => Date;
}

/**
 * The hub's built-in culler: every `cull.every` seconds, when `cull.enabled`,
 * one round of {@link cullOnce} against the hub's own REST API
 * (`hub.urls.api`), with a token of the `cull-idle` service made for the
 * round. `hub.config.cull` is read at every round, so a live configuration
 * change applies from the next one. Before each round the proxies' route
 * activity is read, so websocket traffic since the last read counts. With
 * several hub processes on one database only the holder of the lease runs.
 */
export function startCuller(hub: Hub, opts: CullerRunnerOptions = {}): CullerRunner {
  const log = hub.log.child({ component: 'culler' });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<CullReport | undefined> | undefined;

  const round = async (): Promise<CullReport | undefined> => {
    const cull = hub.config.cull;
    if (!cull.enabled) return undefined;
    if (!(await takeLease(hub.db, hub.processId, cull.every * 1.5 + 30))) {
      log.debug('another hub process holds the culling lease; skipping this round');
      return undefined;
    }
    await pollRouteActivity(hub).catch((err: Error) => log.warn({ err: err.message }, 'could not read route activity before culling'));
    const { token, id } = await roundToken(hub.db, { cullUsers: cull.users, ttlSeconds: ROUND_TOKEN_SECONDS, services: hub.config.services, roles: hub.config.roles });
    try {
      const report = await cullOnce(
        { apiUrl: hub.urls.api, token, log, ...(opts.fetch ? { fetch: opts.fetch } : {}), ...(opts.now ? { now: opts.now } : {}) },
        builtinCullOptions(cull),
      );
      if (report.stopped.length || report.deleted.length || report.errors) {
        log.info({ users: report.users, stopped: report.stopped.length, deleted: report.deleted.length, errors: report.errors }, 'culling round done');
      }
      return report;
    } finally {
      await revokeRoundToken(hub.db, id).catch(() => undefined);
    }
  };

  const runNow = (): Promise<CullReport | undefined> => {
    running ??= round().finally(() => (running = undefined));
    return running;
  };

  const schedule = () => {
    if (stopped) return;
    const cull = hub.config.cull;
    timer = setTimeout(tick, cull.enabled ? cull.every * 1000 : IDLE_CHECK_MS);
    timer.unref();
  };
  const tick = () => {
    runNow()
      .catch((err: Error) => log.warn({ err: err.message }, 'culling round failed; will retry'))
      .finally(schedule);
  };
  schedule();

  return {
    runNow,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
      await releaseLease(hub.db, hub.processId).catch(() => undefined);
    },
  };
}
