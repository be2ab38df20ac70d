import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { userRolesAndGroups, type Identity } from '../hub/identity.js';
import { HubError } from '../lib/errors.js';
import { getUser, type UserRow } from '../db/repos/users.js';
import { getServer } from '../db/repos/servers.js';
import { serverNameProblem, quotePath, urlJoin, usernameProblem } from '../lib/names.js';
import { quoteName } from '../lib/quote-name.js';
import { hasScope } from '../rbac/check.js';
import { serverPrefix } from '../hub/spawn-env.js';
import { html, page, Html } from './layout.js';
import { pageUser, requireXsrf, safeNext, xsrfField } from './session.js';
import type { ProgressRecord } from '../hub/progress.js';
import { loadAuthState } from '../auth/auth-state.js';
import { BACKEND_OPTION } from '../spawners/backends.js';
import { sendLoginAgainPage } from './login-again-page.js';
import { loginAgainUrl } from '../hub/login-again.js';

interface SpawnTarget {
  owner: UserRow;
  server: string;
}

async function target(hub: Hub, who: Identity, req: FastifyRequest): Promise<SpawnTarget> {
  const p = req.params as { user?: string; server?: string };
  const name = p.user ?? who.user.name;
  const server = p.server ?? '';
  const problem = (p.user === undefined ? null : usernameProblem(p.user)) ?? serverNameProblem(server);
  if (problem) throw new HubError(400, problem);
  if (server && !hub.config.allow_named_servers) throw new HubError(400, 'Named servers are not enabled.');
  const owner = name === who.user.name ? who.user : await getUser(hub.db, name);
  // a `servers!group=` scope reaches the server by its owner's groups
  const ownerGroups = !owner ? [] : owner.id === who.user.id ? who.groups : (await userRolesAndGroups(hub.db, owner)).groups;
  if (!hasScope(who.scopes, 'servers', { server: `${name}/${server}`, userGroups: ownerGroups })) {
    throw new HubError(403, `You may not start the servers of ${quoteName(name)}`);
  }
  if (!owner) throw new HubError(404, `No such user: ${quoteName(name)}`);
  return { owner, server };
}

/** The groups of the server's owner (the viewer's own when they are the owner). */
async function ownerGroups(hub: Hub, who: Identity, t: SpawnTarget): Promise<string[]> {
  return t.owner.id === who.user.id ? who.groups : (await userRolesAndGroups(hub.db, t.owner)).groups;
}

function targetPath(t: SpawnTarget): string {
  return `${quotePath(t.owner.name)}${t.server ? `/${quotePath(t.server)}` : ''}`;
}

/** `url` with `?next=` when there is a next page to go to. */
function withNext(url: string, next: string | undefined): string {
  return next ? `${url}?next=${encodeURIComponent(next)}` : url;
}

/** Where to go once the server runs (JupyterHub's `next`, e.g. a notebook a deep link asked for), when it is a safe local path. */
function nextOf(req: FastifyRequest): string | undefined {
  return safeNext((req.query as Record<string, unknown> | undefined)?.['next']);
}

function pendingUrl(hub: Hub, t: SpawnTarget, next: string | undefined): string {
  return withNext(`${hub.urls.hub}spawn-pending/${targetPath(t)}`, next);
}

/**
 * The spawn form's HTML, or undefined for none: the `optionsForm` hook, else
 * the form of the one back-end the user may use, else (several back-ends) a
 * choice of back-end with each one's own fields, those of the chosen one
 * enabled. Fields are preselected from the server's last options.
 */
async function optionsForm(hub: Hub, t: SpawnTarget, groups: string[], chosen?: unknown): Promise<string | undefined> {
  const user = { name: t.owner.name, admin: !!t.owner.admin, groups };
  if (hub.hooks.optionsForm) return hub.hooks.optionsForm(user);
  const authState = await loadAuthState(hub.db, hub.crypt, t.owner.id, hub.log);
  const row = await getServer(hub.db, t.owner.id, t.server);
  const previous = JSON.parse(row?.user_options ?? '{}') as Record<string, unknown>;
  const usable = hub.spawners.forUser(user);
  if (usable.length <= 1) {
    const only = usable[0] ?? hub.spawners.default;
    // options another back-end started the server with are not this one's to preselect
    const own = previous[BACKEND_OPTION] === undefined || previous[BACKEND_OPTION] === only.name ? previous : {};
    return only.spawner.optionsForm ? only.spawner.optionsForm(user, { authState, previous: own }) : undefined;
  }
  // each back-end's fields (asked at once: one slow system does not add to another's wait), preselected only from options that were its own;
  // a back-end whose form cannot be drawn (its system down, the user's login refused) is shown, disabled, with the reason
  const drawn = await Promise.all(
    usable.map(async (b): Promise<{ own?: string; problem?: Html; err?: unknown }> => {
      try {
        const own = b.spawner.optionsForm ? await b.spawner.optionsForm(user, { authState, previous: previous[BACKEND_OPTION] === b.name ? previous : {} }) : undefined;
        return own === undefined ? {} : { own };
      } catch (err) {
        hub.log.warn({ user: user.name, backend: b.name, err: (err as Error).message }, 'a back-end could not draw its spawn form; it is offered disabled');
        if (!(err instanceof HubError)) return { problem: html`Its options cannot be shown right now.`, err };
        const again = err.status === 401 ? html` <a class="login-again" href="${loginAgainUrl(hub, `${hub.urls.hub}spawn/${targetPath(t)}`)}">Log in again</a>` : '';
        return { problem: html`${err.message}${again}`, err };
      }
    }),
  );
  const open = usable.filter((_b, i) => drawn[i]!.problem === undefined);
  // none can be used: the first one's error is the page (a 401 there offers a fresh login)
  if (open.length === 0) throw drawn[0]!.err;
  // the back-end just posted (a form shown again with an error), else the one last used, else the first that can be used
  const picked = open.find((b) => b.name === chosen) ?? open.find((b) => b.name === previous[BACKEND_OPTION]) ?? open[0]!;
  const parts: Html[] = [];
  usable.forEach((b, i) => {
    const { own, problem } = drawn[i]!;
    const on = b === picked;
    const attrs = new Html(on ? ' checked' : problem ? ' disabled' : '');
    parts.push(html`<label class="backend-choice"><input type="radio" name="${BACKEND_OPTION}" value="${b.name}"${attrs}> <strong>${b.displayName}</strong>${b.description ? html` <span class="muted">${b.description}</span>` : ''}</label>
      ${problem ? html`<p class="error backend-problem" data-backend="${b.name}">${problem}</p>` : ''}
      ${own ? html`<fieldset class="backend-options" data-backend="${b.name}"${new Html(on ? '' : ' disabled hidden')}>${new Html(own)}</fieldset>` : ''}`);
  });
  return html`<fieldset id="backend-choice"><legend>Where to run</legend>${parts}</fieldset>
    <script>
    (function(){
      var radios=document.querySelectorAll('input[name="${BACKEND_OPTION}"]');
      function show(){var v=document.querySelector('input[name="${BACKEND_OPTION}"]:checked');
        document.querySelectorAll('fieldset.backend-options').forEach(function(f){var on=v&&f.getAttribute('data-backend')===v.value;f.disabled=!on;f.hidden=!on;});}
      radios.forEach(function(r){r.addEventListener('change',show);});
    })();
    </script>`.toString();
}

/**
 * Turns the posted form into user_options: the `optionsFromForm` hook, else
 * the chosen back-end's own `optionsFromForm` (given the fields minus the
 * back-end choice), else the fields as posted. The back-end's checks on the
 * result run when the spawn is requested, as on every other path.
 */
async function formToOptions(hub: Hub, t: SpawnTarget, groups: string[], form: Record<string, string | string[]>): Promise<Record<string, unknown>> {
  const fields = { ...form };
  delete fields['_xsrf'];
  if (hub.hooks.optionsFromForm) return hub.hooks.optionsFromForm(fields);
  const user = { name: t.owner.name, admin: !!t.owner.admin, groups };
  const choice = fields[BACKEND_OPTION];
  delete fields[BACKEND_OPTION];
  if (choice !== undefined && typeof choice !== 'string') throw new HubError(400, `Pick one back-end (the form sent '${BACKEND_OPTION}' more than once)`);
  const { backend } = hub.spawners.pick(choice ? { [BACKEND_OPTION]: choice } : {}, user);
  const authState = await loadAuthState(hub.db, hub.crypt, t.owner.id, hub.log);
  const options = backend.spawner.optionsFromForm ? backend.spawner.optionsFromForm(fields, { user, authState }) : fields;
  return choice ? { [BACKEND_OPTION]: choice, ...options } : options;
}

function renderForm(hub: Hub, req: FastifyRequest, reply: FastifyReply, who: Identity, formHtml: string, error?: string): FastifyReply {
  const xsrf = xsrfField(hub, req, reply);
  const body: Html = html`<div class="card"><h1>Server options</h1>
    ${error ? html`<div class="error" role="alert">${error}</div>` : ''}
    <form method="post" action="${req.url}" id="spawn_form"><input type="hidden" name="_xsrf" value="${xsrf}">
    ${new Html(formHtml)}
    <p><button type="submit">Start</button></p></form></div>`;
  return reply
    .code(error ? 400 : 200)
    .type('text/html')
    .send(page({ title: 'Server options', hubPrefix: hub.urls.hub, user: { name: who.user.name, admin: !!who.user.admin } }, body));
}

async function startAndRedirect(hub: Hub, reply: FastifyReply, t: SpawnTarget, options: Record<string, unknown> | undefined, next: string | undefined): Promise<FastifyReply> {
  const row = await getServer(hub.db, t.owner.id, t.server);
  if (row?.ready && !row.pending) return reply.redirect(next ?? serverPrefix(hub.urls, t.owner.name, t.server), 302);
  // claim the spawn, then let the pending page show its progress
  if (row?.pending !== 'spawn') await hub.servers.requestSpawn(t.owner, t.server, options);
  return reply.redirect(pendingUrl(hub, t, next), 302);
}

export function spawnRoutes(app: FastifyInstance, hub: Hub): void {
  const get = async (req: FastifyRequest, reply: FastifyReply) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    const t = await target(hub, who, req);
    const groups = await ownerGroups(hub, who, t);
    try {
      const form = await optionsForm(hub, t, groups);
      if (form) return renderForm(hub, req, reply, who, form);
      return await startAndRedirect(hub, reply, t, undefined, nextOf(req));
    } catch (err) {
      return loginAgainOr(hub, req, reply, who, err);
    }
  };
  const post = async (req: FastifyRequest, reply: FastifyReply) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    requireXsrf(req);
    const t = await target(hub, who, req);
    const raw = (req.body ?? {}) as Record<string, string | string[]>;
    const groups = await ownerGroups(hub, who, t);
    try {
      const options = await formToOptions(hub, t, groups, raw);
      return await startAndRedirect(hub, reply, t, options, nextOf(req));
    } catch (err) {
      // a refused option (the back-end's checks) shows the form again with the message; other errors are pages
      if (!(err instanceof HubError) || (err.status !== 400 && err.status !== 403)) return loginAgainOr(hub, req, reply, who, err);
      req.log.info({ err: err.message }, 'spawn form refused');
      const form = (await optionsForm(hub, t, groups, raw[BACKEND_OPTION])) ?? '';
      return renderForm(hub, req, reply, who, form, err.message);
    }
  };
  for (const path of ['/spawn', '/spawn/:user', '/spawn/:user/:server']) {
    app.get(path, get);
    app.post(path, post);
  }

  const pending = async (req: FastifyRequest, reply: FastifyReply) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    const t = await target(hub, who, req);
    const row = await getServer(hub.db, t.owner.id, t.server);
    const url = serverPrefix(hub.urls, t.owner.name, t.server);
    const next = nextOf(req);
    if (row?.ready && !row.pending) return reply.redirect(next ?? url, 302);
    const user = { name: who.user.name, admin: !!who.user.admin };
    const spawnUrl = withNext(`${hub.urls.hub}spawn/${targetPath(t)}`, next);
    const record = row && !row.pending ? hub.servers.progressOf(row.id) : undefined;
    if (record?.failure !== undefined) {
      const mayReadLog = t.owner.id === who.user.id || hasScope(who.scopes, 'admin:server_state', { server: `${t.owner.name}/${t.server}` });
      return reply.type('text/html').send(page({ title: 'Spawn failed', hubPrefix: hub.urls.hub, user }, failurePage(hub, record, mayReadLog ? record.logTail : undefined, spawnUrl)));
    }
    if (row?.pending !== 'spawn') {
      const body = html`<div class="card"><h1>Server not running</h1>
        <p>${t.owner.id === who.user.id ? 'Your server' : `${t.owner.name}'s server`} ${t.server ? html`<code>${t.server}</code> ` : ''}is not running${row?.pending === 'stop' ? ' (it is stopping)' : ''}.</p>
        <p><a class="button" id="start" href="${spawnUrl}">Launch server</a> <a class="button secondary" href="${hub.urls.hub}home">Home</a></p></div>`;
      return reply.type('text/html').send(page({ title: 'Server not running', hubPrefix: hub.urls.hub, user }, body));
    }
    const progressUrl = t.server ? urlJoin(hub.urls.hub, 'api/users', quotePath(t.owner.name), 'servers', quotePath(t.server), 'progress') : urlJoin(hub.urls.hub, 'api/users', quotePath(t.owner.name), 'server/progress');
    const body = html`<div class="card"><h1>Your server is starting up</h1>
      <p class="muted">You will be redirected when it is ready.</p>
      <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100"><div id="bar"></div></div>
      <p id="queue" class="muted">${queueLine(hub, row.id)}</p>
      <ul class="log" id="log"></ul>
      </div>
      <script>
      (function(){
        var bar=document.getElementById('bar'),log=document.getElementById('log');
        var es=new EventSource(${new Html(scriptString(progressUrl))});
        var queue=document.getElementById('queue');
        es.onmessage=function(m){var e=JSON.parse(m.data);bar.style.width=(e.progress||0)+'%';
          if(/^Waiting in the spawn queue/.test(e.message||'')){queue.textContent=e.message;return;}
          queue.textContent='';
          var li=document.createElement('li');li.textContent=e.message||'';log.appendChild(li);
          if(e.ready){es.close();window.location.replace(${new Html(scriptString(next ?? ''))}||e.url||${new Html(scriptString(url))});}
          if(e.failed){es.close();window.location.reload();}};
        es.onerror=function(){es.close();setTimeout(function(){window.location.reload();},2000);};
      })();
      </script>`;
    return reply.type('text/html').send(page({ title: 'Starting', hubPrefix: hub.urls.hub, user }, body));
  };
  app.get('/spawn-pending/:user', pending);
  app.get('/spawn-pending/:user/:server', pending);
}

/**
 * The page of a spawn that failed: what went wrong, the end of the server's
 * log when the viewer may read it, and a way to try again. No progress bar.
 */
function failurePage(hub: Hub, record: ProgressRecord, logTail: string | undefined, spawnUrl: string): Html {
  return html`<div class="card"><h1 id="failed">Spawn failed</h1>
    <div class="error" id="failure" role="alert">${record.failure}${record.loginAgainUrl ? html` <a class="login-again" href="${record.loginAgainUrl}">Log in again</a>` : ''}</div>
    ${logTail ? html`<h2>Last lines of the server's log</h2><pre class="log-tail" id="log-tail">${logTail}</pre>` : ''}
    <p id="retry"><a class="button" href="${spawnUrl}">Try again</a> <a class="button secondary" href="${hub.urls.hub}home">Home</a></p></div>`;
}

/**
 * A back-end that needs a fresh login of the user (the form's sources or the
 * spawn refused with 401, e.g. FirecREST refused their token) gets the page
 * with the sentence and "Log in again", coming back to this spawn page; any
 * other error is thrown on.
 */
function loginAgainOr(hub: Hub, req: FastifyRequest, reply: FastifyReply, who: Identity, err: unknown): FastifyReply {
  if (!(err instanceof HubError) || err.status !== 401) throw err;
  const next = safeNext(req.url.split('?')[0]) ?? `${hub.urls.hub}home`;
  return sendLoginAgainPage(hub, reply, { name: who.user.name, admin: !!who.user.admin }, { title: 'Log in again to start a server', message: err.message, next });
}

/** A JavaScript string literal that is safe inside an HTML script element. */
function scriptString(value: string): string {
  return JSON.stringify(value).replaceAll('<', '\\u003c').replaceAll('>', '\\u003e').replaceAll('&', '\\u0026').replaceAll('\u2028', '\\u2028').replaceAll('\u2029', '\\u2029');
}

/** The latest queue message of a spawn of this process still waiting (the position and estimate), else empty. */
function queueLine(hub: Hub, serverId: number): string {
  const events = hub.servers.progressOf(serverId).events;
  const last = events[events.length - 1];
  return last && last.message.startsWith('Waiting in the spawn queue') ? last.message : '';
}
