import type { FastifyReply } from 'fastify';
import type { Hub } from '../hub/context.js';
import { loginAgainUrl } from '../hub/login-again.js';
import { html, page } from './layout.js';

/**
 * The 401 page of an action a back-end refused because the user must log in
 * again (FirecREST refused their token): the sentence, and a "Log in again"
 * link that comes back to `next` after a fresh login.
 */
export function sendLoginAgainPage(hub: Hub, reply: FastifyReply, user: { name: string; admin: boolean }, opts: { title: string; message: string; next: string }): FastifyReply {
  const body = html`<div class="card"><h1>${opts.title}</h1>
    <p class="error" role="alert" id="login-again-reason">${opts.message}</p>
    <p><a class="button login-again" href="${loginAgainUrl(hub, opts.next)}">Log in again</a> <a class="button secondary" href="${hub.urls.hub}home">Home</a></p></div>`;
  return reply.code(401).type('text/html').send(page({ title: opts.title, hubPrefix: hub.urls.hub, user }, body));
}
