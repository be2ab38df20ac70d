import type { FastifyInstance } from 'fastify';
import type { Hub } from '../hub/context.js';
import { HubError } from '../lib/errors.js';
import { hasScope } from '../rbac/check.js';
import { listUsers } from '../db/repos/users.js';
import { serversOfUsers } from '../db/repos/servers.js';
import { quotePath } from '../lib/names.js';
import { html, page, when } from './layout.js';
import { pageUser } from './session.js';
import { queryInteger } from '../api/pagination.js';

export function adminRoutes(app: FastifyInstance, hub: Hub): void {
  app.get('/admin', async (req, reply) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    if (!hasScope(who.scopes, 'admin-ui')) throw new HubError(403, 'The admin page needs the admin-ui permission');
    const q = req.query as Record<string, unknown>;
    const offset = queryInteger(q['offset'], 'offset') ?? 0;
    const limit = 100;
    const { rows, total } = await listUsers(hub.db, { offset, limit, sort: 'name', descending: false });
    const servers = await serversOfUsers(hub.db, rows.map((u) => u.id));
    const p = hub.urls.hub;
    const body = html`<div class="card"><h1>Users</h1><p class="muted">${total} users</p>
      <div class="table-scroll"><table><thead><tr><th>User</th><th>Admin</th><th>Last activity</th><th>Servers</th></tr></thead><tbody>
      ${rows.map((u) => {
        const active = (servers.get(u.id) ?? []).filter((s) => s.ready || s.pending);
        return html`<tr><td class="wrap">${u.name}</td><td>${u.admin ? 'yes' : ''}</td><td>${when(u.last_activity)}</td>
          <td>${active.length ? active.map((s) => html`<a href="/user/${quotePath(u.name)}/${s.name ? `${quotePath(s.name)}/` : ''}">${s.name || 'default'}</a> (${s.pending ?? 'running'}) `) : html`<a href="${p}spawn/${quotePath(u.name)}">start</a>`}</td></tr>`;
      })}</tbody></table></div>
      <p>${offset > 0 ? html`<a href="?offset=${Math.max(0, offset - limit)}">previous</a> ` : ''}${offset + limit < total ? html`<a href="?offset=${offset + limit}">next</a>` : ''}</p></div>`;
    return reply.type('text/html').send(page({ title: 'Admin', hubPrefix: p, user: { name: who.user.name, admin: !!who.user.admin } }, body));
  });
}
