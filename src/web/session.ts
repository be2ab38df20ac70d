import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { identify, type Identity } from '../hub/identity.js';
import { checkXsrf, clearLoginCookies, ensureXsrf, loginCookieSession, xsrfHeader } from '../hub/cookies.js';
import { refreshIfStale } from '../auth/refresh.js';
import { noteRequestActivity } from '../hub/request-activity.js';
import { HubError } from '../lib/errors.js';
import { urlJoin } from '../lib/names.js';
import { localRedirectTarget, redirectLocal } from './redirect.js';

/** The logged-in browser user of a page, or a redirect to the login page. */
export async function pageUser(hub: Hub, req: FastifyRequest, reply: FastifyReply): Promise<Identity | null> {
  const who = await identify(hub.db, req, true);
  noteRequestActivity(hub, who);
  if (who) return who.via === 'cookie' ? withFreshLogin(hub, req, reply, who) : who;
  const login = urlJoin(hub.urls.hub, 'login');
  await redirectLocal(reply, `${login}?next=${encodeURIComponent(req.url)}`, login);
  return null;
}

/**
 * A cookie-authenticated identity after the refresh by age
 * (`auth.auth_refresh_age`, src/auth/refresh.ts): the same identity when no
 * refresh was due, the identity read again after one. A failed refresh
 * clears the login cookies and throws the 401 "please log in again".
 */
export async function withFreshLogin(hub: Hub, req: FastifyRequest, reply: FastifyReply, who: Identity): Promise<Identity> {
  let fresh;
  try {
    fresh = await refreshIfStale(hub, who.user, hub.log);
  } catch (err) {
    clearLoginCookies(reply, hub.urls.hub);
    throw err;
  }
  if (fresh === who.user) return who;
  return (await identify(hub.db, req, true)) ?? who;
}

/**
 * Checks the XSRF token of a posted form (its `_xsrf` field, else the
 * `X-XSRFToken` header) against the session id of the request's login cookie
 * (or, logged out, against the browser's own `_xsrf` cookie); 403 naming the
 * problem otherwise. Returns the form's fields.
 */
export function requireXsrf(req: FastifyRequest): Record<string, string> {
  const form = formFields(req);
  if (!checkXsrf(req, form['_xsrf'] ?? xsrfHeader(req), loginCookieSession(req))) {
    throw new HubError(403, "'_xsrf' argument missing or not valid for this login session; reload the page and try again");
  }
  return form;
}

function formFields(req: FastifyRequest): Record<string, string> {
  const body = req.body;
  const form: Record<string, string> = {};
  if (body === null || typeof body !== 'object') return form;
  for (const [k, v] of Object.entries(body)) form[k] = Array.isArray(v) ? String(v[0] ?? '') : String(v ?? '');
  return form;
}

/**
 * The login form's check. JupyterHub before 4.1 had no `_xsrf` field on its
 * login form, so scripts written for it post only username and password: a
 * post without the field is accepted when it cannot come from another site's
 * page (no cross-site `Origin` or `Sec-Fetch-Site`, which browsers always
 * send on cross-site form posts). A field that is present must match.
 */
export function requireXsrfOrSameOrigin(req: FastifyRequest): Record<string, string> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (body['_xsrf'] !== undefined || xsrfHeader(req) !== undefined) return requireXsrf(req);
  const origin = req.headers.origin;
  const site = req.headers['sec-fetch-site'];
  const host = req.headers['x-forwarded-host'] ?? req.headers.host;
  let crossSite = site !== undefined && site !== 'same-origin' && site !== 'none';
  if (origin !== undefined) {
    try {
      crossSite ||= new URL(origin).host !== host;
    } catch {
      crossSite = true; // "null" or garbage
    }
  }
  if (crossSite) {
    throw new HubError(403, "'_xsrf' argument missing from a cross-site login form; reload the login page and try again");
  }
  return formFields(req);
}

/** The XSRF token for a page's forms, bound to the session id of the request's login cookie (if any). */
export function xsrfField(hub: Hub, req: FastifyRequest, reply: FastifyReply): string {
  return ensureXsrf(req, reply, hub.urls.hub, loginCookieSession(req));
}

/**
 * A `next` URL that stays on this site as a browser reads it, normalised to a
 * valid `Location` value, or undefined (see {@link localRedirectTarget}).
 */
export const safeNext: (next: unknown) => string | undefined = localRedirectTarget;
