import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { AuthError } from '../auth/auth-error.js';
import type { LoginContext } from '../auth/authenticator.js';
import { admitUser } from '../auth/admit-user.js';
import { recordFailedLogin, refuseIfLoginRateLimited } from '../auth/login-rate-limit.js';
import { HubError } from '../lib/errors.js';
import { withLoginErrors } from './auth-error-page.js';
import { afterLoginUrl, startLoginSession } from './login-session.js';
import { publicHubUrl } from './public-url.js';
import { safeNext } from './session.js';

/**
 * The redirect login (`startLogin`/`finishLogin`, e.g. OIDC):
 * `GET <hub>/oauth_login?next=` sends the browser to the identity provider;
 * `GET <hub>/oauth_callback` finishes the flow, applies the hub's policy,
 * starts a session and goes to `next` (checked again here). A refusal
 * (AuthError) is a page with its status and message; nothing is stored.
 */
export function redirectLoginRoutes(app: FastifyInstance, hub: Hub): void {
  const a = hub.authenticator;

  app.get('/oauth_login', async (req, reply) => {
    if (!a.startLogin || !a.finishLogin) throw new HubError(404, `the ${a.kind} login does not redirect to an identity provider`);
    return withLoginErrors(hub, reply, { status: 502, message: 'The login service could not be reached; try again later.' }, async () => {
      const url = await a.startLogin!(loginContext(hub, req, reply, safeNext((req.query as Record<string, unknown>)['next'])));
      if (!isHttpUrl(url)) {
        hub.log.error({ kind: a.kind }, 'startLogin returned no http(s) URL');
        throw new AuthError(502, 'The login service could not be reached; try again later.');
      }
      return reply.redirect(url, 302);
    });
  });

  app.get('/oauth_callback', async (req, reply) => {
    if (!a.startLogin || !a.finishLogin) throw new HubError(404, `the ${a.kind} login does not redirect to an identity provider`);
    return withLoginErrors(hub, reply, { status: 400, message: 'The login could not be completed; start it again.' }, async () => {
      refuseIfLoginRateLimited(hub, req, reply);
      const { result, next } = await a.finishLogin!(loginContext(hub, req, reply, undefined));
      const user = await admitUser(hub, result, { log: hub.log });
      await startLoginSession(hub, req, reply, user);
      return reply.redirect(await afterLoginUrl(hub, next, user), 302);
    }, () => recordFailedLogin(hub, req));
  });
}

function loginContext(hub: Hub, req: FastifyRequest, reply: FastifyReply, next: string | undefined): LoginContext {
  return { req, reply, log: hub.log, hubUrl: publicHubUrl(hub, req), ...(next === undefined ? {} : { next }) };
}

function isHttpUrl(url: unknown): url is string {
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url) || !/^[\x21-\x7e]+$/.test(url)) return false;
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}
