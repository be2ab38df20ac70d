import type { FastifyInstance } from 'fastify';
import type { Hub } from '../hub/context.js';
import { HubError } from '../lib/errors.js';
import { filterFor, hasScope, isEmptyFilter, matchesFilter } from '../rbac/check.js';
import { groupsOfUsers, listUsers } from '../db/repos/users.js';
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
    // admin-ui opens the page; what it shows is what the holder's own scopes let it read (as JupyterHub's
    // admin page, which reads through the API): users by list:users, the admin flag by read:users or
    // read:roles:users, last activity by read:users or read:users:activity, servers by read:servers
    const listed = filterFor(who.scopes, 'list:users');
    const { rows, total } =
      listed !== 'all' && isEmptyFilter(listed)
        ? { rows: [], total: 0 }
        : await listUsers(hub.db, { offset, limit, sort: 'name', descending: false, ...(listed === 'all' ? {} : { names: [...listed.users], groups: [...listed.groups] }) });
    const [allServers, groups] = await Promise.all([serversOfUsers(hub.db, rows.map((u) => u.id)), groupsOfUsers(hub.db, rows.map((u) => u.id))]);
    const may = (scopes: string[], target: { user?: string; server?: string; userGroups: readonly string[] }): boolean =>
      scopes.some((s) => matchesFilter(filterFor(who.scopes, s), target));
    const p = hub.urls.hub;
    const body = html`<div class="card"><h1>Users</h1><p class="muted">${total} users</p>
      <div class="table-scroll"><table><thead><tr><th>User</th><th>Admin</th><th>Last activity</th><th>Servers</th></tr></thead><tbody>
      ${rows.map((u) => {
        const userGroups = groups.get(u.id) ?? [];
        const target = { user: u.name, userGroups };
        const active = (allServers.get(u.id) ?? []).filter((s) => (s.ready || s.pending) && may(['read:servers'], { server: `${u.name}/${s.name}`, userGroups }));
        const admin = may(['read:users', 'read:roles:users', 'read:users:name'], target) ? (u.admin ? 'yes' : '') : '';
        const activity = may(['read:users', 'read:users:activity'], target) ? when(u.last_activity) : '';
        return html`<tr><td class="wrap">${u.name}</td><td>${admin}</td><td>${activity}</td>
          <td>${active.length ? active.map((s) => html`<a href="/user/${quotePath(u.name)}/${s.name ? `${quotePath(s.name)}/` : ''}">${s.name || 'default'}</a> (${s.pending ?? 'running'}) `) : html`<a href="${p}spawn/${quotePath(u.name)}">start</a>`}</td></tr>`;
      })}</tbody></table></div>
      <p>${offset > 0 ? html`<a href="?offset=${Math.max(0, offset - limit)}">previous</a> ` : ''}${offset + limit < total ? html`<a href="?offset=${offset + limit}">next</a>` : ''}</p></div>`;
    return reply.type('text/html').send(page({ title: 'Admin', hubPrefix: p, user: { name: who.user.name, admin: !!who.user.admin } }, body));
  });
}
