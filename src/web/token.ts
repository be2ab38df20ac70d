import type { FastifyInstance } from 'fastify';
import type { Hub } from '../hub/context.js';
import { createToken, deleteToken, getToken, listTokens, MAX_TOKEN_EXPIRES_IN } from '../db/repos/tokens.js';
import { HubError } from '../lib/errors.js';
import { html, page } from './layout.js';
import { pageUser, requireXsrf, xsrfField } from './session.js';

export function tokenRoutes(app: FastifyInstance, hub: Hub): void {
  const render = async (req: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply, created?: string) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    const xsrf = xsrfField(hub, req, reply);
    const tokens = await listTokens(hub.db, who.user.id);
    const p = hub.urls.hub;
    const body = html`<div class="card"><h1>Request a new API token</h1>
      ${created ? html`<p>Your new API token (copy it now, it is not shown again):</p><p><span class="token" id="new-token">${created}</span></p>` : ''}
      <form method="post" action="${p}token"><input type="hidden" name="_xsrf" value="${xsrf}">
        <label for="note">Note</label><input id="note" name="note" type="text" placeholder="what this token is for">
        <label for="expires_in">Expires in</label><select id="expires_in" name="expires_in">
          <option value="3600">1 hour</option><option value="86400">1 day</option><option value="604800">1 week</option><option value="" selected>Never</option></select>
        <p><button type="submit">Request new API token</button></p></form></div>
      <div class="card"><h2>API tokens</h2><table><thead><tr><th>Note</th><th>Kind</th><th>Created</th><th>Last used</th><th>Expires</th><th></th></tr></thead><tbody>
      ${tokens.map(
        (t) => html`<tr><td>${t.note}</td><td>${t.kind}</td><td>${t.created}</td><td>${t.last_activity ?? 'never'}</td><td>${t.expires_at ?? 'never'}</td>
        <td><form class="inline" method="post" action="${p}token/revoke"><input type="hidden" name="_xsrf" value="${xsrf}"><input type="hidden" name="id" value="${t.id}"><button class="secondary" type="submit">Revoke</button></form></td></tr>`,
      )}</tbody></table></div>`;
    return reply.type('text/html').send(page({ title: 'Tokens', hubPrefix: p, user: { name: who.user.name, admin: !!who.user.admin } }, body));
  };
  app.get('/token', (req, reply) => render(req, reply));
  app.post('/token', async (req, reply) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    const form = requireXsrf(req);
    const expires = form['expires_in'] ? Number(form['expires_in']) : null;
    if (expires !== null && (!Number.isFinite(expires) || expires <= 0 || expires > MAX_TOKEN_EXPIRES_IN)) throw new HubError(400, `expires_in must be a positive number of seconds up to ${MAX_TOKEN_EXPIRES_IN}, got ${JSON.stringify(form['expires_in'])}`);
    const { token } = await createToken(hub.db, who.user.id, { kind: 'api', scopes: ['inherit'], note: (form['note'] ?? '').slice(0, 500) || 'Requested via token page', expiresIn: expires });
    return render(req, reply, token);
  });
  app.post('/token/revoke', async (req, reply) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    const form = requireXsrf(req);
    const id = /^\d{1,15}$/.test(form['id'] ?? '') ? Number(form['id']) : undefined;
    const row = id === undefined ? undefined : await getToken(hub.db, who.user.id, id);
    if (!row) throw new HubError(404, 'No such token');
    await deleteToken(hub.db, row.id);
    return reply.redirect(`${hub.urls.hub}token`, 302);
  });
}
