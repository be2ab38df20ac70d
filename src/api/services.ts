import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { serviceRoles, type Requester } from '../hub/service-identity.js';
import { HubError } from '../lib/errors.js';
import { servicePrefix } from '../services/service-routes.js';
import { filterFor, matchesFilter } from '../rbac/check.js';
import { getService, listServices, type ServiceRow } from '../db/repos/services.js';
import { requireScope } from './common.js';
import { paginated, readPage } from './pagination.js';

/**
 * Which service-model keys each scope reveals (JupyterHub's access map):
 * `command` and `pid` only with `read:services` (admins hold it).
 */
const SERVICE_ACCESS: ReadonlyArray<[string, readonly string[]]> = [
  ['read:services', ['kind', 'name', 'admin', 'roles', 'url', 'prefix', 'command', 'pid', 'info', 'display']],
  ['read:services:name', ['kind', 'name', 'admin']],
  ['read:roles:services', ['kind', 'name', 'roles', 'admin']],
];

/** The service model (JupyterHub 5.5.1 `Service`), with only the keys `who`'s scopes reveal. */
export function serviceModel(hub: Hub, who: Pick<Requester, 'scopes'>, service: ServiceRow, roles: readonly string[]): Record<string, unknown> {
  const allowed = new Set<string>();
  for (const [scope, keys] of SERVICE_ACCESS) {
    if (matchesFilter(filterFor(who.scopes, scope), { service: service.name })) for (const k of keys) allowed.add(k);
  }
  const full: Record<string, unknown> = {
    kind: 'service',
    name: service.name,
    admin: service.admin === 1 || roles.includes('admin'),
    roles: [...roles],
    url: service.url ?? '',
    prefix: service.url ? servicePrefix(hub.urls, service.name) : '',
    command: hub.managedServices.commandOf(service.name),
    pid: hub.managedServices.pidOf(service.name),
    info: JSON.parse(service.info) as unknown,
    display: service.display === 1,
  };
  const model: Record<string, unknown> = {};
  for (const key of Object.keys(full)) if (allowed.has(key)) model[key] = full[key];
  return model;
}

/** `GET /services` and `GET /services/{name}` (JupyterHub 5.5.1). */
export function servicesRoutes(app: FastifyInstance, hub: Hub): void {
  app.get('/services', async (req, reply) => {
    const who = await requireScope(hub, req, ['list:services'], { list: true });
    const page = readPage(req, hub.config);
    const f = filterFor(who.scopes, 'list:services');
    const all = await listServices(hub.db, f === 'all' ? undefined : [...f.services]);
    const slice = all.slice(page.offset, page.offset + page.limit);
    const items = [];
    for (const s of slice) items.push(serviceModel(hub, who, s, await serviceRoles(hub.db, s)));
    return reply.send(paginated(req, page, items, all.length));
  });

  app.get('/services/:name', async (req: FastifyRequest) => {
    const name = (req.params as { name: string }).name;
    const who = await requireScope(hub, req, ['read:services', 'read:services:name', 'read:roles:services'], { service: name });
    const service = await getService(hub.db, name);
    if (!service) throw new HubError(404, `No such service: ${name}`);
    return serviceModel(hub, who, service, await serviceRoles(hub.db, service));
  });
}
