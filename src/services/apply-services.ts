import { builtinServices } from './culler/culler-service.js';
import type { Config } from '../config/schema.js';
import type { Hub } from '../hub/context.js';
import { loadRoles } from '../hub/roles-loader.js';
import { loadServices, type CheckedService } from '../hub/services-loader.js';
import { reconcileRoutes } from '../hub/reconcile.js';
import { checkServiceRoleRefs } from './service-roles.js';
import { configuredServices } from './service-config.js';

/**
 * Applies a `services:` list to a running hub (at start, after the proxy is
 * up, and on a live reload): services stored or deleted with their tokens
 * (`api_token_file` read again), their roles and scopes re-applied (with
 * `hub.config.roles`), managed processes started, restarted when changed or
 * stopped, and the proxy's routes brought in line (`/services/<name>/`).
 * Idempotent: applying the same list again changes nothing and restarts
 * nothing. Bad entries throw a ConfigError naming the service, before
 * anything is stored.
 *
 * A reload passes the configuration it is about to set (`opts.config`) and
 * sets it as `hub.config` only once this succeeded, so that a refused reload
 * is never seen by a request (the default list is `configuredServices(hub.config)`).
 * `routes: false` leaves the proxy to the caller's own reconciliation (start-up).
 */
export function applyServices(hub: Hub, services: Config['services'] = configuredServices(hub.config), opts: ApplyOptions = {}): Promise<void> {
  return hub.managedServices.exclusive(() => applyNow(hub, services, opts));
}

interface ApplyOptions {
  routes?: boolean;
  /** The roles and culler settings to apply with (default `hub.config`): a reload's configuration, not yet set. */
  config?: Pick<Config, 'roles' | 'cull'>;
}

async function applyNow(hub: Hub, services: Config['services'], opts: ApplyOptions): Promise<void> {
  const checked = await storeServices(hub, services, opts.config ?? hub.config);
  await startServices(hub, checked, opts);
}

/**
 * The store half of {@link applyServices}: the role references checked,
 * the services stored (tokens, deletions), their roles and scopes applied
 * with `config.roles`, cached identities dropped. At start it runs once,
 * before the hub serves (lifecycle.ts); {@link startServices} follows once
 * the proxy is up.
 */
export async function storeServices(hub: Hub, services: Config['services'], config: Pick<Config, 'roles' | 'cull'> = hub.config): Promise<CheckedService[]> {
  await checkServiceRoleRefs(hub.db, config.roles, services);
  const checked = await loadServices(hub.db, services, hub.log, builtinServices(config));
  await loadRoles(hub.db, config.roles, services);
  hub.identities.clear();
  return checked;
}

/** The process half of {@link applyServices}: managed services started, restarted or stopped, then (unless `routes: false`) the proxy's routes. */
export async function startServices(hub: Hub, checked: readonly CheckedService[], opts: Pick<ApplyOptions, 'routes'> = {}): Promise<void> {
  await hub.managedServices.sync(hub, checked);
  if (opts.routes === false) return;
  try {
    await reconcileRoutes(hub);
  } catch (err) {
    // the periodic reconciliation (proxy.check_interval) retries
    hub.log.warn({ err: (err as Error).message }, 'services: could not update the proxy routes now; will retry');
  }
}
