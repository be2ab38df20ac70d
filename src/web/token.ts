import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import type { Identity } from '../hub/identity.js';
import { createToken, deleteToken, getToken, listTokens, type TokenRow, MAX_TOKEN_EXPIRES_IN } from '../db/repos/tokens.js';
import { getClient } from '../db/repos/oauth.js';
import { HubError } from '../lib/errors.js';
import { html, page, when, type Html } from './layout.js';
import { isSecureRequest } from '../hub/cookies.js';
import { audit } from '../hub/audit.js';
import { pageUser, requireXsrf, xsrfField } from './session.js';

/** How long a new token waits to be shown once on the token page, in seconds. */
const FLASH_SECONDS = 300;
/** The cookie that carries a new token to the page that shows it once. */
const FLASH_COOKIE = 'ganymede-new-token';

/** A token just created, for the GET after the POST: whose it is, the token and its note. */
interface Flash {
  user: number;
  token: string;
  note: string;
}

function scopesText(t: TokenRow): string {
  const scopes = JSON.parse(t.scopes) as string[];
  return scopes.length === 1 && scopes[0] === 'inherit' ? 'all of yours' : scopes.join(', ');
}

/** One row per OAuth client the user authorized: its tokens (revoked together), first and last use. */
interface Application {
  clientId: string;
  name: string;
  ids: number[];
  created: string;
  lastActivity: string | null;
}

async function applications(hub: Hub, tokens: TokenRow[]): Promise<Application[]> {
  const byClient = new Map<string, Application>();
  for (const t of tokens) {
    if (t.kind !== 'oauth' || !t.client_id) continue;
    let app = byClient.get(t.client_id);
    if (!app) {
      const client = await getClient(hub.db, t.client_id);
      app = { clientId: t.client_id, name: client?.description || t.client_id, ids: [], created: t.created, lastActivity: null };
      byClient.set(t.client_id, app);
    }
    app.ids.push(t.id);
    if (t.created < app.created) app.created = t.created;
    if (t.last_activity && (!app.lastActivity || t.last_activity > app.lastActivity)) app.lastActivity = t.last_activity;
  }
  return [...byClient.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The token page: request an API token (shown once, after a redirect, so a
 * reload creates no second one), the user's API tokens, and the applications
 * they authorized through OAuth (JupyterHub's "Authorized Applications"),
 * each revocable. The tokens the hub gives servers are internal and not shown.
 */
export function tokenRoutes(app: FastifyInstance, hub: Hub): void {
  // The new token travels in a signed HttpOnly cookie scoped to this page, for five minutes at most,
  // and the page that shows it clears it: a reload shows it no more and creates nothing. Nothing is
  // kept in the hub's memory, so a hub restart or another hub process in between loses nothing.
  const flashPath = `${hub.urls.hub}token`;
  const takeFlash = (req: FastifyRequest, reply: FastifyReply, who: Identity): Flash | undefined => {
    const raw = req.cookies[FLASH_COOKIE];
    if (raw === undefined) return undefined;
    reply.clearCookie(FLASH_COOKIE, { path: flashPath });
    const unsigned = req.unsignCookie(raw);
    if (!unsigned.valid || !unsigned.value) return undefined;
    try {
      const flash = JSON.parse(unsigned.value) as Flash;
      return flash.user === who.user.id && typeof flash.token === 'string' ? flash : undefined;
    } catch {
      return undefined;
    }
  };
  const putFlash = (req: FastifyRequest, reply: FastifyReply, flash: Flash): void => {
    reply.setCookie(FLASH_COOKIE, JSON.stringify(flash), {
      path: flashPath,
      signed: true,
      httpOnly: true,
      sameSite: 'strict',
      secure: isSecureRequest(req),
      maxAge: FLASH_SECONDS,
    });
  };

  const render = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    const xsrf = xsrfField(hub, req, reply);
    const tokens = await listTokens(hub.db, who.user.id);
    const apiTokens = tokens.filter((t) => t.kind === 'api');
    const apps = await applications(hub, tokens);
    const created = takeFlash(req, reply, who);
    const p = hub.urls.hub;
    const revoke = (action: string, field: string, value: string | number): Html =>
      html`<form class="inline" method="post" action="${p}${action}"><input type="hidden" name="_xsrf" value="${xsrf}"><input type="hidden" name="${field}" value="${value}"><button class="secondary" type="submit">Revoke</button></form>`;
    const body = html`<div class="card"><h1>Request a new API token</h1>
      ${created
        ? html`<div id="new-token-box"><p>Your new API token${created.note ? html` (<em>${created.note}</em>)` : ''}; copy it now, it is not shown again:</p>
          <p><span class="token" id="new-token">${created.token}</span></p></div>`
        : ''}
      <form method="post" action="${p}token"><input type="hidden" name="_xsrf" value="${xsrf}">
        <label for="note">Note</label><input id="note" name="note" type="text" placeholder="what this token is for">
        <label for="expires_in">Expires in</label><select id="expires_in" name="expires_in">
          <option value="3600">1 hour</option><option value="86400">1 day</option><option value="604800">1 week</option><option value="" selected>Never</option></select>
        <p><button type="submit" id="request-token">Request new API token</button></p></form></div>
      <div class="card" id="api-tokens"><h2>API tokens</h2>
      ${apiTokens.length
        ? html`<div class="table-scroll"><table><thead><tr><th>Note</th><th>Permissions</th><th>Last used</th><th>Created</th><th>Expires</th><th></th></tr></thead><tbody>
        ${apiTokens.map(
          (t) => html`<tr><td class="wrap">${t.note}</td><td class="wrap">${scopesText(t)}</td><td>${when(t.last_activity)}</td><td>${when(t.created)}</td><td>${when(t.expires_at)}</td>
          <td>${revoke('token/revoke', 'id', t.id)}</td></tr>`,
        )}</tbody></table></div>`
        : html`<p class="muted">No API tokens.</p>`}</div>
      <div class="card" id="authorized-apps"><h2>Authorized applications</h2>
      ${apps.length
        ? html`<div class="table-scroll"><table><thead><tr><th>Application</th><th>Last used</th><th>First authorized</th><th></th></tr></thead><tbody>
        ${apps.map((a) => html`<tr><td class="wrap">${a.name}</td><td>${when(a.lastActivity)}</td><td>${when(a.created)}</td><td>${revoke('token/revoke-app', 'client_id', a.clientId)}</td></tr>`)}
        </tbody></table></div>`
        : html`<p class="muted">No applications are authorized to act for you.</p>`}</div>`;
    if (created) reply.header('Cache-Control', 'no-store');
    return reply.type('text/html').send(page({ title: 'Tokens', hubPrefix: p, user: { name: who.user.name, admin: !!who.user.admin } }, body));
  };

  app.get('/token', render);

  // post/redirect/get: the new token is shown by the GET that follows
  app.post('/token', async (req, reply) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    const form = requireXsrf(req);
    const expires = form['expires_in'] ? Number(form['expires_in']) : null;
    if (expires !== null && (!Number.isFinite(expires) || expires <= 0 || expires > MAX_TOKEN_EXPIRES_IN)) {
      throw new HubError(400, `expires_in must be a positive number of seconds up to ${MAX_TOKEN_EXPIRES_IN}, got ${JSON.stringify(String(form['expires_in']).slice(0, 40))}`);
    }
    const note = (form['note'] ?? '').slice(0, 500) || 'Requested via token page';
    const { token, row } = await createToken(hub.db, who.user.id, { kind: 'api', scopes: ['inherit'], note, expiresIn: expires });
    await audit(hub, who, 'token.create', who.user.name, { id: `a${row.id}`, note, scopes: ['inherit'], expires_in: expires, via: 'page' });
    putFlash(req, reply, { user: who.user.id, token, note });
    return reply.redirect(`${hub.urls.hub}token`, 303);
  });

  app.post('/token/revoke', async (req, reply) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    const form = requireXsrf(req);
    const id = /^\d{1,15}$/.test(form['id'] ?? '') ? Number(form['id']) : undefined;
    const row = id === undefined ? undefined : await getToken(hub.db, who.user.id, id);
    if (!row || row.kind === 'server') throw new HubError(404, 'No such token');
    await deleteToken(hub.db, row.id);
    return reply.redirect(`${hub.urls.hub}token`, 303);
  });

  app.post('/token/revoke-app', async (req, reply) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    const form = requireXsrf(req);
    const clientId = form['client_id'] ?? '';
    const rows = (await listTokens(hub.db, who.user.id)).filter((t) => t.kind === 'oauth' && t.client_id === clientId);
    if (!rows.length) throw new HubError(404, 'No such authorized application');
    for (const t of rows) await deleteToken(hub.db, t.id);
    return reply.redirect(`${hub.urls.hub}token`, 303);
  });
}
