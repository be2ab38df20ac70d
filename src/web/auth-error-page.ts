import type { FastifyReply } from 'fastify';
import type { Hub } from '../hub/context.js';
import { AuthError } from '../auth/auth-error.js';
import { HubError } from '../lib/errors.js';
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

/**
 * Runs one step of a login and turns its refusals into pages: an AuthError
 * is shown as it is; any other error of the backend (a library's own error
 * for a tampered callback, an identity provider that cannot be reached) is
 * logged with its detail and shown as `fallback`, never as a 500. A
 * HubError of the hub itself (a bad Host, a 404) keeps its own status.
 */
export async function withLoginErrors(
  hub: Hub,
  reply: FastifyReply,
  fallback: { status: number; message: string },
  work: () => Promise<FastifyReply>,
  /** Called when the step ends in a refusal page other than a 429 (the login rate limit counts it). */
  onRefusal?: () => void,
): Promise<FastifyReply> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof AuthError && err.status !== 429) onRefusal?.();
    if (err instanceof AuthError) return sendAuthErrorPage(hub, reply, err);
    if (err instanceof HubError) throw err;
    hub.log.error({ err, kind: hub.authenticator.kind }, 'login step failed');
    onRefusal?.();
    return sendAuthErrorPage(hub, reply, new AuthError(fallback.status, fallback.message));
  }
}
