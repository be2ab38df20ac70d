import type { FastifyInstance } from 'fastify';
import type { Hub } from '../hub/context.js';
import { scopesOfUser, type Identity } from '../hub/identity.js';
import { HubError } from '../lib/errors.js';
import { filterFor, hasScope, isEmptyFilter, matchesFilter } from '../rbac/check.js';
import { groupsOfUsers, type UserRow } from '../db/repos/users.js';
import { serversOfUsers, type ServerRow } from '../db/repos/servers.js';
import { listAudit } from '../db/repos/audit.js';
import { quotePath } from '../lib/names.js';
import { html, page, when, type Html } from './layout.js';
import { pageUser, xsrfField } from './session.js';
import { queryInteger } from '../api/pagination.js';
import { ADMIN_SORTS, adminUserPage, groupSummaries, type AdminSort } from './admin-query.js';
import { cullInfo } from './admin-culling.js';
import { adminActionRoutes } from './admin-actions.js';

const PAGE_SIZE = 50;
const AUDIT_SHOWN = 20;
const GROUPS_SHOWN = 100;

interface View {
  q: string;
  sort: AdminSort;
  offset: number;
}

function readView(query: unknown): View {
  const q = query as Record<string, unknown>;
  const text = typeof q['q'] === 'string' ? q['q'].slice(0, 255) : '';
  const sort = typeof q['sort'] === 'string' && (ADMIN_SORTS as readonly string[]).includes(q['sort']) ? (q['sort'] as AdminSort) : 'name';
  return { q: text, sort, offset: queryInteger(q['offset'], 'offset') ?? 0 };
}

function viewUrl(p: string, v: View, change: Partial<View>): string {
  const next = { ...v, ...change };
  const params = new URLSearchParams();
  if (next.q) params.set('q', next.q);
  if (next.sort !== 'name') params.set('sort', next.sort);
  if (next.offset) params.set('offset', String(next.offset));
  const s = params.toString();
  return `${p}admin${s ? `?${s}` : ''}`;
}

function serverState(s: ServerRow): string {
  if (s.pending) return `pending ${s.pending}`;
  return s.ready ? 'running' : 'stopped';
}

/**
 * The admin page (`/hub/admin`, scope `admin-ui`): users found by name,
 * sorted and paginated in the database; each user's servers with state,
 * back-end and activity; buttons for what the viewer's scopes allow, posted
 * as forms to `/hub/admin/action`, which calls the REST API (the same checks
 * and audit entries); and the latest audit entries (scope `read:audit`).
 */
export function adminRoutes(app: FastifyInstance, hub: Hub): void {
  adminActionRoutes(app, hub);
  app.get('/admin', async (req, reply) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    if (!hasScope(who.scopes, 'admin-ui')) throw new HubError(403, 'The admin page needs the admin-ui permission');
    const view = readView(req.query);
    // admin-ui opens the page; what it shows is what the holder's own scopes let it read (as JupyterHub's
    // admin page, which reads through the API): users by list:users, the admin flag by read:users or
    // read:roles:users, last activity by read:users or read:users:activity, servers by read:servers
    const listed = filterFor(who.scopes, 'list:users');
    const { rows, total } =
      listed !== 'all' && isEmptyFilter(listed)
        ? { rows: [], total: 0 }
        : await adminUserPage(hub.db, {
            offset: view.offset,
            limit: PAGE_SIZE,
            sort: view.sort,
            nameFilter: view.q || undefined,
            ...(listed === 'all' ? {} : { names: [...listed.users], groups: [...listed.groups] }),
          });
    const ids = rows.map((u) => u.id);
    const [allServers, groups] = await Promise.all([serversOfUsers(hub.db, ids), groupsOfUsers(hub.db, ids)]);
    const audit = hasScope(who.scopes, 'read:audit') ? (await listAudit(hub.db, { offset: 0, limit: AUDIT_SHOWN, count: false })).rows : undefined;
    const listedGroups = filterFor(who.scopes, 'list:groups');
    const groupList = holdsGroups(who) ? await groupSummaries(hub.db, listedGroups === 'all' ? undefined : [...listedGroups.groups], GROUPS_SHOWN) : [];
    const xsrf = xsrfField(hub, req, reply);
    const p = hub.urls.hub;
    const back = viewUrl(p, view, {});
    const button = (op: string, label: string, fields: Record<string, string>, cls = 'secondary'): Html =>
      html`<form class="inline" method="post" action="${p}admin/action"><input type="hidden" name="_xsrf" value="${xsrf}"><input type="hidden" name="op" value="${op}"><input type="hidden" name="back" value="${back}">${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}<button class="${cls}" type="submit" data-op="${op}">${label}</button></form>`;
    // admin_access off: the admin role alone does not open someone else's server (src/oauth/provider.ts)
    const openScopes = hub.config.admin_access || !who.roles.includes('admin') ? who.scopes : await scopesOfUser(hub.db, who.user, who.roles.filter((r) => r !== 'admin'));
    const ctx: RowContext = { hub, who, button, groups, servers: allServers, openScopes };
    const sortLink = (label: string, key: 'name' | 'last_activity'): Html => {
      const next: AdminSort = view.sort === key ? (`-${key}` as AdminSort) : key;
      const mark = view.sort === key ? ' ▲' : view.sort === `-${key}` ? ' ▼' : '';
      return html`<a href="${viewUrl(p, view, { sort: next, offset: 0 })}">${label}${mark}</a>`;
    };
    const canAdd = hasScope(who.scopes, 'admin:users');
    const jumps = [canAdd ? html`<a href="#add-user">Add users</a>` : '', holdsGroups(who) ? html`<a href="#edit-group">Groups</a>` : '', audit ? html`<a href="#audit">Audit log</a>` : ''].filter((j) => j !== '');
    const body = html`<div class="card"><h1>Users</h1>${jumps.length ? html`<p class="muted">${jumps.map((j, i) => (i ? html` &middot; ${j}` : j))}</p>` : ''}
      <form method="get" action="${p}admin" id="search"><label for="q">Find users by name</label>
        <input id="q" name="q" type="text" value="${view.q}" placeholder="part of a name">
        ${view.sort !== 'name' ? html`<input type="hidden" name="sort" value="${view.sort}">` : ''}<p><button type="submit">Search</button></p></form>
      <p class="muted" id="user-count">${total.toLocaleString('en-US')} users${view.q ? html` matching <code>${view.q}</code>` : ''}</p>
      <div class="table-scroll"><table id="users"><thead><tr><th>${sortLink('User', 'name')}</th><th>Admin</th><th>Groups</th><th>${sortLink('Last activity', 'last_activity')}</th>
        <th><a href="${viewUrl(p, view, { sort: 'active', offset: 0 })}">Servers${view.sort === 'active' ? ' ▲' : ''}</a></th><th></th></tr></thead><tbody>
      ${rows.map((u) => userRow(ctx, u))}</tbody></table></div>
      <p>${view.offset > 0 ? html`<a id="prev" href="${viewUrl(p, view, { offset: Math.max(0, view.offset - PAGE_SIZE) })}">previous</a> ` : ''}${
        view.offset + PAGE_SIZE < total ? html`<a id="next" href="${viewUrl(p, view, { offset: view.offset + PAGE_SIZE })}">next</a>` : ''
      } <span class="muted">${rows.length ? `${(view.offset + 1).toLocaleString('en-US')}–${(view.offset + rows.length).toLocaleString('en-US')} of ${total.toLocaleString('en-US')}` : ''}</span></p></div>
      ${canAdd ? addUserCard(p, xsrf, back) : ''}
      ${holdsGroups(who) ? groupCard(p, xsrf, back, groupList) : ''}
      ${audit ? auditCard(p, audit) : ''}`;
    return reply.type('text/html').send(page({ title: 'Admin', hubPrefix: p, user: { name: who.user.name, admin: !!who.user.admin } }, body));
  });
}

interface RowContext {
  hub: Hub;
  who: Identity;
  button: (op: string, label: string, fields: Record<string, string>, cls?: string) => Html;
  groups: Map<number, string[]>;
  servers: Map<number, ServerRow[]>;
  /** the scopes that open a server in the browser (without the admin role's unless admin_access) */
  openScopes: ReadonlySet<string>;
}

function userRow(ctx: RowContext, u: UserRow): Html {
  const { who, button } = ctx;
  const userGroups = ctx.groups.get(u.id) ?? [];
  const target = { user: u.name, userGroups };
  const may = (scopes: string[], t: { user?: string; server?: string; userGroups: readonly string[] }): boolean =>
    scopes.some((s) => matchesFilter(filterFor(who.scopes, s), t));
  const readUser = may(['read:users', 'read:roles:users', 'read:users:name'], target);
  const admin = readUser ? (u.admin ? 'yes' : '') : '';
  const activity = may(['read:users', 'read:users:activity'], target) ? when(u.last_activity) : '';
  const groupsShown = may(['read:users', 'read:users:groups'], target) ? userGroups.join(', ') : '';
  const servers = (ctx.servers.get(u.id) ?? []).filter((s) => may(['read:servers'], { server: `${u.name}/${s.name}`, userGroups }));
  const hasDefault = servers.some((s) => s.name === '' && (s.ready || s.pending));
  const viewerAdmin = !!who.user.admin;
  const actions: Html[] = [];
  if (!hasDefault && may(['servers'], { server: `${u.name}/`, userGroups })) actions.push(button('start', 'Start server', { user: u.name, server: '' }));
  if (may(['admin:users'], target) && viewerAdmin && u.name !== who.user.name) {
    actions.push(u.admin ? button('revoke-admin', 'Revoke admin', { user: u.name }) : button('grant-admin', 'Make admin', { user: u.name }));
  }
  if (may(['delete:users'], target) && u.name !== who.user.name && (!u.admin || viewerAdmin)) actions.push(button('delete-user', 'Delete user', { user: u.name }, 'danger'));
  const serverCells = servers
    .filter((s) => s.ready || s.pending || s.name !== '')
    .map((s) => {
      const key = { server: `${u.name}/${s.name}`, userGroups };
      const info = cullInfo(ctx.hub, s, u);
      const url = `${ctx.hub.urls.base}user/${quotePath(u.name)}/${s.name ? `${quotePath(s.name)}/` : ''}`;
      const open = s.ready && matchesFilter(filterFor(ctx.openScopes, 'access:servers'), key) ? html` <a class="open" href="${url}">open</a>` : '';
      const stop = (s.ready || s.pending === 'spawn') && may(['delete:servers'], key) ? button('stop', 'Stop', { user: u.name, server: s.name }, 'danger') : '';
      const start = !s.ready && !s.pending && s.name && may(['servers'], key) ? button('start', 'Start', { user: u.name, server: s.name }) : '';
      const del = s.name && !s.ready && !s.pending && may(['delete:servers'], key) ? button('delete-server', 'Delete', { user: u.name, server: s.name }) : '';
      return html`<div class="server" data-server="${s.name}"><strong>${s.name || 'default'}</strong> <span class="state">${serverState(s)}</span>
        <span class="muted" title="back-end">on ${s.spawner}</span> <span class="muted">active ${when(s.last_activity)}${info.source ? ` (${info.source})` : ''}</span>
        ${info.cullAt ? html`<span class="muted"> culled at ${when(info.cullAt)}</span>` : ''}${open} ${stop}${start}${del}</div>`;
    });
  return html`<tr data-user="${u.name}"><td class="wrap">${u.name}</td><td class="admin-flag">${admin}</td><td class="wrap">${groupsShown}</td><td>${activity}</td>
    <td>${serverCells}</td><td>${actions}</td></tr>`;
}

function holdsGroups(who: Identity): boolean {
  return [...who.scopes].some((s) => s === 'groups' || s.startsWith('groups!') || s === 'admin:groups');
}

function addUserCard(p: string, xsrf: string, back: string): Html {
  return html`<div class="card" id="add-user"><h2>Add users</h2>
    <form method="post" action="${p}admin/action"><input type="hidden" name="_xsrf" value="${xsrf}"><input type="hidden" name="op" value="add-user"><input type="hidden" name="back" value="${back}">
      <label for="new-user">User name</label><input id="new-user" name="user" type="text" required>
      <label class="inline"><input type="checkbox" name="admin" value="1"> admin</label>
      <p><button type="submit" id="add-user-button">Add user</button></p></form></div>`;
}

function groupCard(p: string, xsrf: string, back: string, groups: { name: string; members: number }[]): Html {
  const op = (value: string, label: string, id: string): Html => html`<button type="submit" name="op" value="${value}" id="${id}" class="secondary">${label}</button> `;
  return html`<div class="card" id="edit-group"><h2>Groups</h2>
    ${groups.length ? html`<p class="wrap" id="group-list">${groups.map((g, i) => html`${i ? ', ' : ''}<strong>${g.name}</strong> <span class="muted">(${g.members})</span>`)}${groups.length === GROUPS_SHOWN ? html` <span class="muted">&hellip; (the first ${GROUPS_SHOWN}; all: <code>${p}api/groups</code>)</span>` : ''}</p>` : html`<p class="muted">No groups you can list.</p>`}
    <form method="post" action="${p}admin/action"><input type="hidden" name="_xsrf" value="${xsrf}"><input type="hidden" name="back" value="${back}">
      <label for="group-name">Group</label><input id="group-name" name="group" type="text" required>
      <label for="group-user">User (to add or remove)</label><input id="group-user" name="user" type="text">
      <p>${op('group-add', 'Add member', 'group-add')}${op('group-remove', 'Remove member', 'group-remove')}${op('group-create', 'Create group', 'group-create')}${op('group-delete', 'Delete group', 'group-delete')}</p></form></div>`;
}

function auditCard(p: string, rows: Awaited<ReturnType<typeof listAudit>>['rows']): Html {
  return html`<div class="card" id="audit"><h2>Audit log</h2><p class="muted">The latest ${AUDIT_SHOWN} entries; all of them: <code>${p}api/audit</code>.</p>
    ${rows.length
      ? html`<div class="table-scroll"><table><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>Detail</th></tr></thead><tbody>
      ${rows.map((r) => html`<tr><td>${when(r.at)}</td><td class="wrap">${r.actor_kind === 'user' ? '' : `${r.actor_kind} `}${r.actor}</td><td><code>${r.action}</code></td><td class="wrap">${r.target}</td><td class="wrap muted">${r.detail === '{}' ? '' : r.detail}</td></tr>`)}
      </tbody></table></div>`
      : html`<p class="muted">No entries yet.</p>`}</div>`;
}
