import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { createSession } from '../db/repos/sessions.js';
import { getServer } from '../db/repos/servers.js';
import type { UserRow } from '../db/repos/users.js';
import { serverPrefix } from '../hub/spawn-env.js';
import { setLoginCookies } from '../hub/cookies.js';
import { urlJoin } from '../lib/names.js';
import { safeNext } from './session.js';

/** Starts a login session for an admitted user (src/auth/admit-user.ts) and sets its cookies. */
export async function startLoginSession(hub: Hub, req: FastifyRequest, reply: FastifyReply, user: UserRow): Promise<void> {
  const session = await createSession(hub.db, user.id, Math.round(hub.config.cookie_max_age_days * 86400));
  setLoginCookies(req, reply, session.id, hub.urls.hub, hub.config.cookie_max_age_days);
  req.log.info({ user: user.name, kind: hub.authenticator.kind }, 'user logged in');
}

/**
 * Where a logged-in user goes after login: `next` when it is safe; else,
 * with `redirect_to_server`, their default server when it runs (as
 * JupyterHub does); else the home page.
 */
export async function afterLoginUrl(hub: Hub, next: unknown, user: UserRow): Promise<string> {
  const safe = safeNext(next);
  if (safe) return safe;
  if (hub.config.redirect_to_server) {
    const server = await getServer(hub.db, user.id, '');
    if (server?.ready && !server.pending) return serverPrefix(hub.urls, user.name, '');
  }
  return urlJoin(hub.urls.hub, 'home');
}
