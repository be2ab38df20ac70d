import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { serversOfUsers } from '../db/repos/servers.js';
import { serverPrefix } from '../hub/spawn-env.js';
import { sessionFromCookie, userRolesAndGroups } from '../hub/identity.js';
import { getUser } from '../db/repos/users.js';
import { quotePath, urlJoin, usernameProblem } from '../lib/names.js';
import { quoteName } from '../lib/quote-name.js';
import { html, Html, page } from './layout.js';
import { pageUser, requireXsrf, xsrfField } from './session.js';
import { HubError } from '../lib/errors.js';
import { redirectLocal, urlAfterPrefix } from './redirect.js';
import { hasScope } from '../rbac/check.js';
import { stopBlockers } from '../hub/stop-blockers.js';
import { loginAgainUrl } from '../hub/login-again.js';
import { sendLoginAgainPage } from './login-again-page.js';

/** A request from code rather than a person: JSON accepted before HTML, or an `api` path segment (as JupyterHub decides). */
function wantsJson(req: FastifyRequest): boolean {
  const path = req.url.split('?')[0] ?? '';
  if (path.split('/').includes('api')) return true;
  const accept = req.headers.accept ?? '';
  const json = accept.indexOf('application/json');
  const htmlAt = accept.indexOf('text/html');
  return json !== -1 && (htmlAt === -1 || json < htmlAt);
}

/**
 * The answer to an API call (e.g. from JupyterLab) for a server that is not
 * running: 424 JSON naming the spawn page, so the client can tell "server
 * stopped" from "not found" (JupyterHub's answer; no login needed).
 */
async function notRunningJson(hub: Hub, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const rest = (req.params as { '*': string })['*'] ?? '';
  const [user = '', server = ''] = rest.split('/');
  const path = `${hub.urls.base}user/${rest.split('?')[0] ?? ''}`;
  let named = false;
  if (server && hub.config.allow_named_servers) {
    const owner = await getUser(hub.db, user);
    named = !!owner && (await serversOfUsers(hub.db, [owner.id])).get(owner.id)?.some((s) => s.name !== '' && s.name === server) === true;
  }
  const spawn = `${hub.urls.hub}spawn/${user}${named ? `/${server}` : ''}`;
  const message = `JupyterHub server no longer running at ${path.slice(0, 300)}. Restart the server at ${spawn.slice(0, 300)}`;
  return reply.code(424).type('application/json').send({ status: 424, message });
}

export function homeRoutes(app: FastifyInstance, hub: Hub): void {
  app.get('/', async (req, reply) => {
    const session = await sessionFromCookie(hub.db, req);
    return reply.redirect(urlJoin(hub.urls.hub, session ? 'home' : 'login'), 302);
  });

  app.get('/home', async (req, reply) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    const xsrf = xsrfField(hub, req, reply);
    const servers = (await serversOfUsers(hub.db, [who.user.id])).get(who.user.id) ?? [];
    const def = servers.find((s) => s.name === '');
    const p = hub.urls.hub;
    const me = quotePath(who.user.name);
    const status = (s: (typeof servers)[number] | undefined) =>
      !s ? 'stopped' : s.pending ? `pending ${s.pending}` : s.ready ? 'running' : 'stopped';
    // a server whose last spawn failed (in this hub process): a link to why
    const failedNote = (s: (typeof servers)[number] | undefined) =>
      s && !s.pending && !s.ready && hub.servers.progressOf(s.id).failure !== undefined
        ? html` <a class="failed-note" href="${p}spawn-pending/${me}${s.name ? `/${quotePath(s.name)}` : ''}">(its last start failed: see why)</a>`
        : '';
    const named = servers.filter((s) => s.name !== '');
    // why a server cannot be stopped now (the back-end needs a fresh login of the user), by server name
    const blockers = await stopBlockers(hub, who.user.name, servers);
    const relogin = loginAgainUrl(hub, `${p}home`);
    const blockerNote = (name: string) => {
      const reason = blockers.get(name);
      return reason === undefined ? '' : html` <span class="stop-blocker" data-server="${name}">${reason} <a class="login-again" href="${relogin}">Log in again</a></span>`;
    };
    const disabledIfBlocked = (name: string) => new Html(blockers.has(name) ? ' disabled title="Log in again to stop this server"' : '');
    const body = html`<div class="card"><h1>My server</h1>
      <p>Status: <strong id="server-status">${status(def)}</strong>${failedNote(def)}${def ? blockerNote('') : ''}</p>
      ${def?.ready && !def.pending
        ? html`<a class="button" id="start" href="${serverPrefix(hub.urls, who.user.name, '')}">Go to my server</a>
          <form class="inline" method="post" action="${p}home/stop"><input type="hidden" name="_xsrf" value="${xsrf}"><input type="hidden" name="server" value="">
          <button class="danger" id="stop" type="submit"${disabledIfBlocked('')}>Stop my server</button></form>`
        : def?.pending === 'spawn'
          ? html`<a class="button" href="${p}spawn-pending/${me}">Show progress</a>`
          : html`<a class="button" id="start" href="${p}spawn/${me}">Start my server</a>`}
      </div>
      ${hub.config.allow_named_servers
        ? html`<div class="card"><h2>Named servers</h2>
        <div class="table-scroll"><table><thead><tr><th>Name</th><th class="hide-narrow">URL</th><th>Status</th><th></th></tr></thead><tbody>
        ${named.map((s) => {
          const url = serverPrefix(hub.urls, who.user.name, s.name);
          const running = s.ready && !s.pending;
          return html`<tr><td class="wrap">${running ? html`<a href="${url}">${s.name}</a>` : s.name}</td><td class="hide-narrow"><code>${url}</code></td><td><span class="nowrap">${status(s)}</span>${failedNote(s)}${blockerNote(s.name)}</td><td>
          ${running
            ? html`<a class="button" data-open="${s.name}" href="${url}">Open</a>
            <form class="inline" method="post" action="${p}home/stop"><input type="hidden" name="_xsrf" value="${xsrf}"><input type="hidden" name="server" value="${s.name}"><button class="danger" type="submit"${disabledIfBlocked(s.name)}>Stop</button></form>`
            : s.pending === 'spawn'
              ? html`<a class="button secondary" href="${p}spawn-pending/${me}/${quotePath(s.name)}">Show progress</a>`
              : html`<a class="button secondary" href="${p}spawn/${me}/${quotePath(s.name)}">Start</a>`}
          <form class="inline" method="post" action="${p}home/stop"><input type="hidden" name="_xsrf" value="${xsrf}"><input type="hidden" name="server" value="${s.name}"><input type="hidden" name="remove" value="1"><button class="secondary" type="submit"${disabledIfBlocked(s.name)}>Delete</button></form>
          </td></tr>`;
        })}</tbody></table></div>
        <form method="get" action="${p}spawn/${me}" onsubmit="this.action=this.action+'/'+encodeURIComponent(this.elements.name.value);this.elements.name.disabled=true">
          <label for="new-server">New server name</label><input id="new-server" name="name" type="text" pattern="[^/]+" required>
          <p><button type="submit">Add new server</button></p></form></div>`
        : ''}`;
    return reply.type('text/html').send(page({ title: 'Home', hubPrefix: p, user: { name: who.user.name, admin: !!who.user.admin } }, body));
  });

  app.post('/home/stop', async (req, reply) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    const form = requireXsrf(req);
    const server = form['server'] ?? '';
    try {
      await hub.servers.stop(who.user, server, { remove: form['remove'] === '1' && server !== '' });
    } catch (err) {
      // the back-end needs a fresh login of the user to stop it (the server is kept): say so, with the way to log in
      if (!(err instanceof HubError) || err.status !== 401) throw err;
      const user = { name: who.user.name, admin: !!who.user.admin };
      return sendLoginAgainPage(hub, reply, user, { title: 'Could not stop the server', message: err.message, next: `${hub.urls.hub}home` });
    }
    return reply.redirect(urlJoin(hub.urls.hub, 'home'), 302);
  });

  // A request for a server that is not running reaches the hub through the proxy's default route.
  const notRunning = async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.method !== 'GET' || wantsJson(req)) return notRunningJson(hub, req, reply);
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    const rest = (req.params as { '*': string })['*'] ?? '';
    // the router has decoded the wildcard already (decoding again turned `%25` into a URIError: a 500)
    const [name = '', requestedServer = ''] = rest.split('/');
    const owner = await getUser(hub.db, name);
    if (!owner) throw new HubError(404, `No such user: ${quoteName(name)}`);
    const servers = (await serversOfUsers(hub.db, [owner.id])).get(owner.id) ?? [];
    const serverName = hub.config.allow_named_servers && servers.some((s) => s.name === requestedServer && s.name !== '') ? requestedServer : '';
    const row = servers.find((s) => s.name === serverName);
    // what the browser asked for, as a public path (the proxy sent /user/... here as /hub/user/...)
    const userUrl = `${hub.urls.base}user/${urlAfterPrefix(req, `${hub.urls.hub}user/`)}`;
    if (row?.ready && !row.pending && !usernameProblem(name)) {
      // the route may be missing; restore it and send the browser back
      await hub.proxy.addRoute(serverPrefix(hub.urls, name, serverName), row.url!, { jupyterhub: true, user: name, server_name: serverName });
      return redirectLocal(reply, userUrl, urlJoin(hub.urls.hub, 'home'));
    }
    const serverPath = `${quotePath(name)}${serverName ? `/${quotePath(serverName)}` : ''}`;
    const withNext = (url: string) => `${url}?next=${encodeURIComponent(userUrl)}`;
    const mine = owner.id === who.user.id;
    const mayStart = hasScope(who.scopes, 'servers', { server: `${name}/${serverName}`, userGroups: mine ? who.groups : (await userRolesAndGroups(hub.db, owner)).groups });
    // a spawn in progress, or one that failed: the progress page (which says why it failed, or goes on
    // to the page asked for when the server is ready), as JupyterHub does with a 303
    const failed = row !== undefined && !row.pending && hub.servers.progressOf(row.id).failure !== undefined;
    if (row?.pending === 'spawn' || (failed && mayStart)) return reply.redirect(withNext(`${hub.urls.hub}spawn-pending/${serverPath}`), 303);
    const spawnUrl = withNext(`${hub.urls.hub}spawn/${serverPath}`);
    const body = html`<div class="card"><h1>Server not running</h1>
      <p>${mine ? 'Your server' : `${name}'s server`} ${serverName ? html`<code>${serverName}</code> ` : ''}is not running.
      ${mayStart ? 'Launch it to continue to the page you asked for.' : ''}</p>
      ${mayStart ? html`<a class="button" id="start" href="${spawnUrl}">Launch server</a>` : ''}
      <a class="button secondary" href="${hub.urls.hub}home">Home</a></div>`;
    // 424 (Failed Dependency): the server is missing, not the page in it (JupyterHub's code)
    return reply.code(424).type('text/html').send(page({ title: 'Server not running', hubPrefix: hub.urls.hub, user: { name: who.user.name, admin: !!who.user.admin } }, body));
  };
  app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/user/*', handler: notRunning });

  app.get('/error/:code', async (req, reply) => {
    // the proxy's error target (`/hub/error/503?url=…`): only an error status makes a page
    const raw = (req.params as { code: string }).code;
    const status = /^[45]\d\d$/.test(raw) ? Number(raw) : 0;
    if (!status) throw new HubError(404, `No error page for ${JSON.stringify(raw.slice(0, 20))}: expected an HTTP error status (400 to 599)`);
    const url = String((req.query as Record<string, unknown>)['url'] ?? '');
    const body = html`<div class="card"><h1>${status === 503 ? 'Service unavailable' : `Error ${status}`}</h1>
      <p>${status === 503 ? 'The server behind this address is not answering.' : 'The proxy could not serve this address.'} ${url ? html`(<code>${url}</code>)` : ''}</p>
      <p><a class="button" href="${hub.urls.hub}home">Back to the hub</a></p></div>`;
    return reply.code(status).type('text/html').send(page({ title: `Error ${status}`, hubPrefix: hub.urls.hub }, body));
  });
}
