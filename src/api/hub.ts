import type { FastifyInstance } from 'fastify';
import type { Hub } from '../hub/context.js';
import { reconcileRoutes } from '../hub/reconcile.js';
import { jsonObjectBody, requireScope, sendStatus } from './common.js';
import { paginated, readPage } from './pagination.js';

/** The JupyterHub API version Ganymede implements (clients compare it). */
export const JUPYTERHUB_API_VERSION = '5.5.1';
export const GANYMEDE_VERSION = '0.1.0';

export function hubRoutes(app: FastifyInstance, hub: Hub): void {
  app.get('/', async () => ({ version: JUPYTERHUB_API_VERSION, ganymede_version: GANYMEDE_VERSION }));

  app.get('/info', async (req) => {
    await requireScope(hub, req, ['read:hub']);
    return {
      version: JUPYTERHUB_API_VERSION,
      ganymede_version: GANYMEDE_VERSION,
      python: `Node.js ${process.version}`,
      sys_executable: process.execPath,
      authenticator: { class: `ganymede.auth.${hub.authenticator.kind}`, version: GANYMEDE_VERSION },
      spawner: { class: `ganymede.spawners.${hub.spawner.kind}`, version: GANYMEDE_VERSION },
    };
  });

  app.get('/health', async (_req, reply) => {
    await hub.db.selectFrom('hub_settings').select('key').limit(1).execute();
    return reply.send({ status: 'ok' });
  });

  app.get('/proxy', async (req, reply) => {
    await requireScope(hub, req, ['proxy']);
    const page = readPage(req, hub.config);
    const routes = await hub.proxy.getAllRoutes();
    const entries = [...routes.entries()].sort(([a], [b]) => a.localeCompare(b));
    const slice = entries.slice(page.offset, page.offset + page.limit);
    const table: Record<string, unknown> = {};
    for (const [spec, r] of slice) {
      table[spec] = { routespec: spec, target: r.target, data: { ...r.data, ...(r.lastActivity ? { last_activity: r.lastActivity.toISOString() } : {}) } };
    }
    if (page.envelope) return reply.send(paginated(req, page, slice.map(([spec]) => table[spec]), entries.length));
    return reply.send(table);
  });

  app.post('/proxy', async (req, reply) => {
    await requireScope(hub, req, ['proxy']);
    await reconcileRoutes(hub);
    return reply.code(200).type('text/plain').send();
  });

  app.patch('/proxy', async (req, reply) => {
    await requireScope(hub, req, ['proxy']);
    jsonObjectBody(req, false);
    await reconcileRoutes(hub);
    return sendStatus(reply, 200);
  });
}
