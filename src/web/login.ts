import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { AuthError } from '../auth/auth-error.js';
import { admitUser } from '../auth/admit-user.js';
import { decryptAuthState } from '../auth/auth-state.js';
import { deleteSession } from '../db/repos/sessions.js';
import { deleteTokensOfSession } from '../db/repos/tokens.js';
import { clearLoginCookies } from '../hub/cookies.js';
import { sessionFromCookie } from '../hub/identity.js';
import type { UserRow } from '../db/repos/users.js';
import { NAME_MAX_LENGTH, urlJoin } from '../lib/names.js';
import { HubError } from '../lib/errors.js';
import { loginRateLimiter, recordFailedLogin, refuseIfLoginRateLimited } from '../auth/login-rate-limit.js';
import { html, page } from './layout.js';
import { withLoginErrors } from './auth-error-page.js';
import { afterLoginUrl, startLoginSession } from './login-session.js';
import { publicHubUrl } from './public-url.js';
import { requireXsrfOrSameOrigin, safeNext, xsrfField } from './session.js';

/** How the authenticator logs people in (src/auth/authenticator.ts). */
function loginMode(hub: Hub): 'header' | 'redirect' | 'form' {
  const a = hub.authenticator;
  if (a.authenticateRequest) return 'header';
  if (a.startLogin && a.finishLogin) return 'redirect';
  return 'form';
}

function loginPage(hub: Hub, req: FastifyRequest, reply: FastifyReply, opts: { error?: string; username?: string; status?: number }): FastifyReply {
  const next = safeNext((req.query as Record<string, unknown>)['next']) ?? '';
  const query = next ? `?next=${encodeURIComponent(next)}` : '';
  const error = opts.error ? html`<div class="error" role="alert">${opts.error}</div>` : '';
  let body;
  if (loginMode(hub) === 'redirect') {
    // the identity provider asks for the credentials: no password field here
    const label = hub.authenticator.loginService ? `Sign in with ${hub.authenticator.loginService}` : 'Sign in';
    body = html`<div class="login card"><h1>Sign in</h1>${error}
      <p><a class="button" id="login_service" href="${urlJoin(hub.urls.hub, 'oauth_login')}${query}">${label}</a></p></div>`;
  } else {
    const xsrf = xsrfField(hub, req, reply);
    const fields = hub.authenticator.loginFields ?? [
      { name: 'username', label: 'Username', type: 'text' as const },
      { name: 'password', label: 'Password', type: 'password' as const },
    ];
    body = html`<div class="login card"><h1>Sign in</h1>${error}
    <form method="post" action="${urlJoin(hub.urls.hub, 'login')}${query}">
      <input type="hidden" name="_xsrf" value="${xsrf}">
      ${fields.map(
        (f, i) => html`<label for="${f.name}">${f.label}</label>
        <input id="${f.name}" name="${f.name}" type="${f.type}" ${f.name === 'username' ? html`value="${opts.username ?? ''}" autocapitalize="off" autocorrect="off"` : ''} ${i === 0 ? html`autofocus` : ''} required>`,
      )}
      <p><button type="submit" id="login_submit">Sign in</button></p>
    </form></div>`;
  }
  return reply.code(opts.status ?? 200).type('text/html').send(page({ title: 'Sign in', hubPrefix: hub.urls.hub }, body));
}

/**
 * Header login (`authenticateRequest`, e.g. a JWT from an authenticating
 * tunnel): valid credentials start a session; none give a 401 page naming
 * the header; bad ones the backend's AuthError. Nothing is stored on failure.
 * With a session: credentials of another person replace it (another person
 * behind the same tunnel); none, or invalid ones, keep it, unless the backend
 * says invalid ones end it (`AuthError.endSession`: the JWT login's
 * `invalid_jwt_logout`), which logs the browser out.
 */
async function headerLogin(hub: Hub, req: FastifyRequest, reply: FastifyReply, session: { id: string; user: UserRow } | null): Promise<FastifyReply> {
  const a = hub.authenticator;
  const next = (req.query as Record<string, unknown>)['next'];
  let presented = true; // credentials were sent (a refusal then counts against the address)
  return withLoginErrors(hub, reply, { status: 401, message: 'The credentials of this request could not be checked; try again.' }, async () => {
    refuseIfLoginRateLimited(hub, req, reply);
    let result;
    try {
      result = await a.authenticateRequest!(req);
    } catch (err) {
      if (!session || !(err instanceof AuthError)) throw err;
      if (!err.endSession) return reply.redirect(await afterLoginUrl(hub, next, session.user), 302);
      req.log.info({ kind: a.kind, reason: err.message }, 'invalid login credentials with a session: logging the session out');
      return reply.redirect(urlJoin(hub.urls.hub, 'logout'), 302);
    }
    if (!result && session) return reply.redirect(await afterLoginUrl(hub, next, session.user), 302);
    if (!result) {
      presented = false;
      const header = a.loginHeader ? `the ${a.loginHeader} request header` : 'the identity header of the authenticating proxy';
      req.log.warn({ kind: a.kind }, 'header login: no credentials in the request');
      throw new AuthError(401, `This hub logs you in from ${header}, which this request does not carry. Reach the hub through its login service.`);
    }
    const user = await admitUser(hub, result, { log: hub.log });
    if (session?.user.id !== user.id) {
      if (session) await endSession(hub, session.id);
      await startLoginSession(hub, req, reply, user);
    }
    return reply.redirect(await afterLoginUrl(hub, next, user), 302);
  }, () => {
    if (presented) recordFailedLogin(hub, req);
  });
}

/** Ends one login session and the OAuth tokens issued in it. */
async function endSession(hub: Hub, id: string): Promise<void> {
  await deleteTokensOfSession(hub.db, id);
  await deleteSession(hub.db, id);
  hub.identities.clear();
}

export function loginRoutes(app: FastifyInstance, hub: Hub): void {
  app.get('/login', async (req, reply) => {
    const session = await sessionFromCookie(hub.db, req);
    // header login: the header is the truth, even with a session (another person behind the same tunnel)
    if (loginMode(hub) === 'header') return headerLogin(hub, req, reply, session);
    if (session) return reply.redirect(await afterLoginUrl(hub, (req.query as Record<string, unknown>)['next'], session.user), 302);
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
    try {
      const result = await hub.authenticator.authenticate(req, form);
      if (!result) {
        loginRateLimiter(hub).recordFailure(req.ip, typed);
        req.log.warn({ username: typed }, 'failed login');
        return loginPage(hub, req, reply, { error: 'Invalid username or password.', username, status: 403 });
      }
      const user = await admitUser(hub, result, { log: hub.log.child({ username: typed }) });
      loginRateLimiter(hub).recordSuccess(req.ip, typed);
      await startLoginSession(hub, req, reply, user);
      return reply.redirect(await afterLoginUrl(hub, (req.query as Record<string, unknown>)['next'], user), 302);
    } catch (err) {
      loginRateLimiter(hub).recordFailure(req.ip, typed); // a refusal (or an error) is a failed login
      if (err instanceof AuthError) return loginPage(hub, req, reply, { error: err.message, username, status: err.status });
      throw err;
    }
  });

  app.get('/logout', async (req, reply) => {
    const session = await sessionFromCookie(hub.db, req);
    let target: string | undefined;
    if (session) {
      const authState = decryptAuthState(hub.crypt, session.user.auth_state, hub.log);
      await endSession(hub, session.id);
      req.log.info({ user: session.user.name }, 'user logged out');
      target = await backendLogoutUrl(hub, req, session.user.name, authState);
    }
    clearLoginCookies(reply, hub.urls.hub);
    target ??= externalUrl(hub.config.auth.logout_redirect_url) ?? safeNext(hub.config.auth.logout_redirect_url);
    return reply.redirect(target ?? urlJoin(hub.urls.hub, 'login'), 302);
  });
}

/** The backend's own logout URL (an IdP's end-session endpoint), if it names a usable one; its errors are logged, not shown. */
async function backendLogoutUrl(hub: Hub, req: FastifyRequest, user: string, authState: Record<string, unknown> | null): Promise<string | undefined> {
  const a = hub.authenticator;
  if (!a.logoutUrl) return undefined;
  try {
    const url = await a.logoutUrl({ req, user, authState, hubUrl: publicHubUrl(hub, req) });
    return externalUrl(url) ?? safeNext(url);
  } catch (err) {
    hub.log.warn({ err: (err as Error).message, kind: a.kind }, 'the authenticator could not give its logout URL; going to the login page');
    return undefined;
  }
}

/** An absolute http(s) URL usable as a `Location` header, else undefined. */
function externalUrl(url: unknown): string | undefined {
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return undefined;
  try {
    const href = new URL(url).href;
    return /^[\x21-\x7e]+$/.test(href) ? href : undefined;
  } catch {
    return undefined;
  }
}
