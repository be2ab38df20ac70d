import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { applyLoginPolicy } from '../auth/policy.js';
import { createSession, deleteSession } from '../db/repos/sessions.js';
import { deleteTokensOfSession } from '../db/repos/tokens.js';
import { getServer } from '../db/repos/servers.js';
import { ensureUser, updateUser, type UserRow } from '../db/repos/users.js';
import { serverPrefix } from '../hub/spawn-env.js';
import { clearLoginCookies, setLoginCookies } from '../hub/cookies.js';
import { sessionFromCookie } from '../hub/identity.js';
import { NAME_MAX_LENGTH, urlJoin } from '../lib/names.js';
import { HubError } from '../lib/errors.js';
import { loginRateLimiter } from '../auth/login-rate-limit.js';
import { html, page } from './layout.js';
import { requireXsrfOrSameOrigin, safeNext, xsrfField } from './session.js';

function loginPage(hub: Hub, req: FastifyRequest, reply: FastifyReply, opts: { error?: string; username?: string; status?: number }): FastifyReply {
  const xsrf = xsrfField(hub, req, reply);
  const next = safeNext((req.query as Record<string, unknown>)['next']) ?? '';
  const fields = hub.authenticator.loginFields ?? [
    { name: 'username', label: 'Username', type: 'text' as const },
    { name: 'password', label: 'Password', type: 'password' as const },
  ];
  const action = `${urlJoin(hub.urls.hub, 'login')}${next ? `?next=${encodeURIComponent(next)}` : ''}`;
  const body = html`<div class="login card"><h1>Sign in</h1>
    ${opts.error ? html`<div class="error" role="alert">${opts.error}</div>` : ''}
    <form method="post" action="${action}">
      <input type="hidden" name="_xsrf" value="${xsrf}">
      ${fields.map(
        (f, i) => html`<label for="${f.name}">${f.label}</label>
        <input id="${f.name}" name="${f.name}" type="${f.type}" ${f.name === 'username' ? html`value="${opts.username ?? ''}" autocapitalize="off" autocorrect="off"` : ''} ${i === 0 ? html`autofocus` : ''} required>`,
      )}
      <p><button type="submit" id="login_submit">Sign in</button></p>
    </form></div>`;
  return reply.code(opts.status ?? 200).type('text/html').send(page({ title: 'Sign in', hubPrefix: hub.urls.hub }, body));
}

/**
 * Where a logged-in user goes from the login page: the request's own `next`
 * when it is safe; else, with `redirect_to_server`, their default server when
 * it runs (as JupyterHub does); else the home page.
 */
async function afterLoginUrl(hub: Hub, req: FastifyRequest, user: UserRow): Promise<string> {
  const next = safeNext((req.query as Record<string, unknown>)['next']);
  if (next) return next;
  if (hub.config.redirect_to_server) {
    const server = await getServer(hub.db, user.id, '');
    if (server?.ready && !server.pending) return serverPrefix(hub.urls, user.name, '');
  }
  return urlJoin(hub.urls.hub, 'home');
}

export function loginRoutes(app: FastifyInstance, hub: Hub): void {
  app.get('/login', async (req, reply) => {
    const session = await sessionFromCookie(hub.db, req);
    if (session) return reply.redirect(await afterLoginUrl(hub, req, session.user), 302);
    return loginPage(hub, req, reply, {});
  });

  app.post('/login', async (req, reply) => {
    const form = requireXsrfOrSameOrigin(req);
    if (!hub.authenticator.authenticate) throw new HubError(404, `the ${hub.authenticator.kind} login has no login form`);
    const typed = form['username'] ?? '';
    const username = typed.length <= NAME_MAX_LENGTH ? typed : ''; // echoed in the form: never a huge one (the log clips it)
    const limit = loginRateLimiter(hub).check(req.ip, typed); // before the password is looked at
    if (!limit.ok) {
      req.log.warn({ username: typed, retryAfter: limit.retryAfter }, 'login refused: too many failed logins');
      reply.header('Retry-After', String(limit.retryAfter));
      return loginPage(hub, req, reply, { error: `Too many failed logins. Try again in ${limit.retryAfter} s.`, username, status: 429 });
    }
    const result = await hub.authenticator.authenticate(req, form);
    if (!result) {
      loginRateLimiter(hub).recordFailure(req.ip, typed);
      req.log.warn({ username: typed }, 'failed login');
      return loginPage(hub, req, reply, { error: 'Invalid username or password.', username, status: 403 });
    }
    const decision = applyLoginPolicy(result, hub.config);
    if (!decision.ok && decision.badName) {
      req.log.warn({ username: typed, reason: decision.reason }, 'login refused: invalid user name');
      return loginPage(hub, req, reply, { error: `This user name cannot be used: ${decision.reason}.`, username, status: 400 });
    }
    if (!decision.ok) {
      req.log.warn({ username: typed, reason: decision.reason }, 'login refused by policy');
      return loginPage(hub, req, reply, { error: 'You are not allowed to use this hub.', username, status: 403 });
    }
    const user = await ensureUser(hub.db, decision.name, decision.admin === true);
    if (decision.admin !== undefined && !!user.admin !== decision.admin) await updateUser(hub.db, user.id, { admin: decision.admin });
    if (result.authState !== undefined && hub.crypt.enabled) await updateUser(hub.db, user.id, { auth_state: hub.crypt.encrypt(result.authState) });
    loginRateLimiter(hub).recordSuccess(req.ip, typed);
    const session = await createSession(hub.db, user.id, Math.round(hub.config.cookie_max_age_days * 86400));
    setLoginCookies(req, reply, session.id, hub.urls.hub, hub.config.cookie_max_age_days);
    req.log.info({ user: user.name }, 'user logged in');
    return reply.redirect(await afterLoginUrl(hub, req, user), 302);
  });

  app.get('/logout', async (req, reply) => {
    const session = await sessionFromCookie(hub.db, req);
    if (session) {
      await deleteTokensOfSession(hub.db, session.id);
      await deleteSession(hub.db, session.id);
      hub.identities.clear();
      req.log.info({ user: session.user.name }, 'user logged out');
    }
    clearLoginCookies(reply, hub.urls.hub);
    return reply.redirect(urlJoin(hub.urls.hub, 'login'), 302);
  });
}
