import type { FastifyReply } from 'fastify';
import type { Hub } from '../hub/context.js';
import type { AuthError } from '../auth/auth-error.js';
import { statusText } from '../hub/error-replies.js';
import { urlJoin } from '../lib/names.js';
import { html, page } from './layout.js';

/**
 * The page for a refused login (redirect or header login, a failed refresh):
 * the refusal's status and message, and a link to try again. Nothing was
 * stored for the refused login.
 */
export function sendAuthErrorPage(hub: Hub, reply: FastifyReply, err: AuthError): FastifyReply {
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  const body = html`<div class="card"><h1>${err.status} ${statusText(err.status)}</h1>
    <p role="alert" class="error">${err.message}</p>
    <p><a class="button" href="${urlJoin(hub.urls.hub, 'login')}">Try again</a></p></div>`;
  return reply.code(err.status).type('text/html; charset=utf-8').send(page({ title: 'Sign in failed', hubPrefix: hub.urls.hub }, body));
}
