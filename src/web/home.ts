import type { FastifyInstance } from 'fastify';
import type { Hub } from '../hub/context.js';
import { serversOfUsers } from '../db/repos/servers.js';
import { serverPrefix } from '../hub/spawn-env.js';
import { sessionFromCookie } from '../hub/identity.js';
import { getUser } from '../db/repos/users.js';
import { quotePath, urlJoin, usernameProblem } from '../lib/names.js';
import { quoteName } from '../lib/quote-name.js';
import { html, page } from './layout.js';
import { pageUser, requireXsrf, xsrfField } from './session.js';
import { HubError } from '../lib/errors.js';
import { redirectLocal, urlAfterPrefix } from './redirect.js';

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
    const named = servers.filter((s) => s.name !== '');
    const body = html`<div class="card"><h1>My server</h1>
      <p>Status: <strong id="server-status">${status(def)}</strong></p>
      ${def?.ready && !def.pending
        ? html`<a class="button" id="start" href="${serverPrefix(hub.urls, who.user.name, '')}">Go to my server</a>
          <form class="inline" method="post" action="${p}home/stop"><input type="hidden" name="_xsrf" value="${xsrf}"><input type="hidden" name="server" value="">
          <button class="danger" id="stop" type="submit">Stop my server</button></form>`
        : def?.pending === 'spawn'
          ? html`<a class="button" href="${p}spawn-pending/${me}">Show progress</a>`
          : html`<a class="button" id="start" href="${p}spawn/${me}">Start my server</a>`}
      </div>
      ${hub.config.allow_named_servers
        ? html`<div class="card"><h2>Named servers</h2>
        <table><thead><tr><th>Name</th><th>URL</th><th>Status</th><th></th></tr></thead><tbody>
        ${named.map(
          (s) => html`<tr><td>${s.name}</td><td><code>${serverPrefix(hub.urls, who.user.name, s.name)}</code></td><td>${status(s)}</td><td>
          ${s.ready && !s.pending
            ? html`<form class="inline" method="post" action="${p}home/stop"><input type="hidden" name="_xsrf" value="${xsrf}"><input type="hidden" name="server" value="${s.name}"><button class="danger" type="submit">Stop</button></form>`
            : html`<a class="button secondary" href="${p}spawn/${me}/${quotePath(s.name)}">Start</a>`}
          <form class="inline" method="post" action="${p}home/stop"><input type="hidden" name="_xsrf" value="${xsrf}"><input type="hidden" name="server" value="${s.name}"><input type="hidden" name="remove" value="1"><button class="secondary" type="submit">Delete</button></form>
          </td></tr>`,
        )}</tbody></table>
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
    await hub.servers.stop(who.user, server, { remove: form['remove'] === '1' && server !== '' });
    return reply.redirect(urlJoin(hub.urls.hub, 'home'), 302);
  });

  // A request for a server that is not running reaches the hub through the proxy's default route.
  const notRunning = async (req: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) => {
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
    if (row?.ready && !row.pending && !usernameProblem(name)) {
      // the route may be missing; restore it and send the browser back
      await hub.proxy.addRoute(serverPrefix(hub.urls, name, serverName), row.url!, { jupyterhub: true, user: name, server_name: serverName });
      return redirectLocal(reply, `${hub.urls.base}user/${urlAfterPrefix(req, `${hub.urls.hub}user/`)}`, urlJoin(hub.urls.hub, 'home'));
    }
    const mine = owner.id === who.user.id;
    const spawnUrl = `${hub.urls.hub}spawn/${quotePath(name)}${serverName ? `/${quotePath(serverName)}` : ''}`;
    const body = html`<div class="card"><h1>Server not running</h1>
      <p>${mine ? 'Your server' : `${name}'s server`} ${serverName ? html`<code>${serverName}</code> ` : ''}is not running.</p>
      ${row?.pending === 'spawn' ? html`<p>It is starting: <a href="${hub.urls.hub}spawn-pending/${quotePath(name)}">follow its progress</a>.</p>` : mine ? html`<a class="button" id="start" href="${spawnUrl}">Launch server</a>` : ''}</div>`;
    return reply.code(503).type('text/html').send(page({ title: 'Server not running', hubPrefix: hub.urls.hub, user: { name: who.user.name, admin: !!who.user.admin } }, body));
  };
  app.get('/user/*', notRunning);

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
