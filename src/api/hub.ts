import type { FastifyInstance } from 'fastify';
import type { Hub } from '../hub/context.js';
import { reconcileRoutes } from '../hub/reconcile.js';
import { stopEverything } from '../hub/shutdown.js';
import { HubError } from '../lib/errors.js';
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
      spawner: { class: `ganymede.spawners.${hub.spawners.default.spawner.kind}`, version: GANYMEDE_VERSION },
      // Ganymede's own: the live configuration reloads (src/hub/reload.ts) and options waiting for a restart
      ...(hub.configReload ? { config_reload: hub.configReload.status() } : {}),
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

  /**
   * JupyterHub's shutdown: 202 at once, then stops the servers and the proxy when
   * asked (`{"servers": true, "proxy": true}`; both default to false, Ganymede's
   * design being that they outlive the hub), then the hub process.
   */
  app.post('/shutdown', async (req, reply) => {
    await requireScope(hub, req, ['shutdown']);
    const body = jsonObjectBody(req, true);
    const flag = (name: 'servers' | 'proxy'): boolean => {
      const v = body[name];
      if (v === undefined) return false;
      if (typeof v !== 'boolean') throw new HubError(400, `${name} must be true or false, got ${JSON.stringify(v)?.slice(0, 40)}`);
      return v;
    };
    const opts = { servers: flag('servers'), proxy: flag('proxy') };
    hub.log.warn(opts, 'shutdown requested through the API');
    await reply.code(202).send({ message: 'Shutting down Hub' });
    void stopEverything(hub, opts)
      .catch((err: Error) => hub.log.error({ err }, 'shutdown: could not stop everything'))
      .finally(() => hub.exit?.());
    return reply;
  });
}
