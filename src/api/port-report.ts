/**
 * Where a batch job's server listens: `POST /hub/api/batchspawner` and
 * `POST /hub/api/firecrestspawner`, the endpoints the unmodified
 * `batchspawner-singleuser` and `firecrestspawner-singleuser` (and Ganymede's
 * own `bin/ganymede-singleuser`) call on the compute node, with the body
 * `{"port": N}` and `Authorization: token $JUPYTERHUB_API_TOKEN`.
 *
 * Unlike batchspawner's handler, which copies every posted field onto the
 * spawner, this one takes only the port (port-report-body.ts), only from the
 * starting server's own API token (the `server` token the hub made for that
 * spawn), and only for that token's server, while its spawn is pending. The
 * spawner reads it back with `req.reportedPort()`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { HubError } from '../lib/errors.js';
import { tokenFromHeader } from '../hub/identity.js';
import { findToken, touchToken, type TokenRow } from '../db/repos/tokens.js';
import { findServiceToken } from '../db/repos/services.js';
import { getUserById, type UserRow } from '../db/repos/users.js';
import { getServer, setReportedPort } from '../db/repos/servers.js';
import { serverLabel } from '../hub/server-manager.js';
import { reportedPortOf } from './port-report-body.js';

/** The report endpoints under the API prefix: batchspawner's and FirecRESTSpawner's. */
export const PORT_REPORT_PATHS = ['/batchspawner', '/firecrestspawner'] as const;

const NEEDS_SERVER_TOKEN = "only the starting server's own API token (JUPYTERHUB_API_TOKEN, sent as 'Authorization: token …') may report its port";

/** Registers the port report endpoints (see the file comment). */
export function portReportRoutes(app: FastifyInstance, hub: Hub): void {
  for (const path of PORT_REPORT_PATHS) app.post(path, (req, reply) => reportPort(hub, req, reply, path.slice(1)));
}

async function reportPort(hub: Hub, req: FastifyRequest, reply: FastifyReply, endpoint: string): Promise<FastifyReply> {
  const log = hub.log.child({ endpoint, ip: req.ip });
  const { token, user } = await serverTokenOf(hub, req).catch((err: unknown) => {
    if (err instanceof HubError) log.warn({ reason: err.message }, 'port report refused');
    throw err;
  });
  const serverName = token.server_name!;
  const label = serverLabel(user.name, serverName);
  let port: number;
  try {
    port = reportedPortOf(req.body, serverName);
  } catch (err) {
    if (err instanceof HubError) log.warn({ user: user.name, server: serverName, reason: err.message }, 'port report refused');
    throw err;
  }
  const row = await getServer(hub.db, user.id, serverName);
  if (!row || !(await setReportedPort(hub.db, row.id, port))) {
    log.warn({ user: user.name, server: serverName, port }, 'port report refused: the server is not starting');
    throw new HubError(409, `${label} is not starting: a port is taken only while its spawn is pending`);
  }
  log.info({ user: user.name, server: serverName, port }, 'server reported its port');
  return reply.code(200).send({ message: `port ${port} recorded for ${label}`, port });
}

/**
 * The `server` token in the request's Authorization header and its owner.
 * @throws HubError(403) naming why for no token, an unknown or expired one,
 *   a service's token, a user's own API token or an OAuth access token.
 */
async function serverTokenOf(hub: Hub, req: FastifyRequest): Promise<{ token: TokenRow; user: UserRow }> {
  const presented = tokenFromHeader(req);
  if (!presented) throw new HubError(403, `Missing credentials: ${NEEDS_SERVER_TOKEN}`);
  const token = await findToken(hub.db, presented);
  if (!token) {
    if (await findServiceToken(hub.db, presented)) throw new HubError(403, `A service's token cannot report a port: ${NEEDS_SERVER_TOKEN}`);
    throw new HubError(403, `Invalid or expired token: ${NEEDS_SERVER_TOKEN}`);
  }
  if (token.kind !== 'server' || token.server_name === null) {
    const what = token.kind === 'oauth' ? 'an OAuth access token' : "a user's API token";
    throw new HubError(403, `This is ${what}, not a server's: ${NEEDS_SERVER_TOKEN}`);
  }
  const user = await getUserById(hub.db, token.user_id);
  if (!user) throw new HubError(403, `Invalid or expired token: ${NEEDS_SERVER_TOKEN}`);
  void touchToken(hub.db, token).catch(() => undefined);
  return { token, user };
}
