import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { HubError } from '../lib/errors.js';
import { safeEqual, sha256 } from '../lib/crypto.js';
import { createCode, getClient, takeCode } from '../db/repos/oauth.js';
import { createToken } from '../db/repos/tokens.js';
import { getUserById } from '../db/repos/users.js';
import { sessionFromCookie, scopesOfUser, userRolesAndGroups } from '../hub/identity.js';
import { hasScope } from '../rbac/check.js';
import { identifyScopes } from '../rbac/scopes.js';
import { urlJoin } from '../lib/names.js';
import { redirectLocal } from '../web/redirect.js';

/**
 * The hub as an OAuth 2 provider (authorization-code grant, RFC 6749 §4.1),
 * the way single-user servers log browser users in: client id
 * `jupyterhub-user-NAME`, client secret = the server's API token.
 */
export function oauthRoutes(app: FastifyInstance, hub: Hub): void {
  app.get('/oauth2/authorize', (req, reply) => authorize(hub, req, reply));
  app.post('/oauth2/token', (req, reply) => token(hub, req, reply));
}

function str(q: Record<string, unknown>, key: string): string | undefined {
  const v = q[key];
  return typeof v === 'string' ? v : undefined;
}

async function authorize(hub: Hub, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const q = req.query as Record<string, unknown>;
  const clientId = str(q, 'client_id');
  const redirectUri = str(q, 'redirect_uri');
  const state = str(q, 'state');
  if (!clientId) throw new HubError(400, 'OAuth authorize: missing client_id');
  if (str(q, 'response_type') !== 'code') throw new HubError(400, `OAuth authorize: response_type must be "code", got ${JSON.stringify(q['response_type'] ?? null)}`);
  const client = await getClient(hub.db, clientId);
  if (!client) throw new HubError(400, `OAuth authorize: unknown client_id ${JSON.stringify(clientId)}`);
  if (!redirectUri || !sameRedirect(redirectUri, client.redirect_uri)) {
    throw new HubError(400, `OAuth authorize: redirect_uri ${JSON.stringify(redirectUri ?? null)} does not match the one registered for ${clientId}`);
  }
  const session = await sessionFromCookie(hub.db, req);
  if (!session) {
    const login = urlJoin(hub.urls.hub, 'login');
    return redirectLocal(reply, `${login}?next=${encodeURIComponent(req.url)}`, login);
  }
  const user = session.user;
  // The user must be allowed to access the server behind this client.
  const owner = client.user_id !== null ? await getUserById(hub.db, client.user_id) : undefined;
  const allowed = JSON.parse(client.allowed_scopes) as string[];
  const { roles, groups } = await userRolesAndGroups(hub.db, user);
  const held = await scopesOfUser(hub.db, user, roles);
  const granted = allowed.filter((s) => hasScope(held, s, { userGroups: groups }));
  if (owner && granted.length === 0) {
    throw new HubError(403, `User ${user.name} is not allowed to access ${owner.name}'s server`);
  }
  const scopes = [...new Set([...granted, ...identifyScopes({ user: user.name })])];
  const code = await createCode(hub.db, { clientId, userId: user.id, redirectUri, scopes, sessionId: session.id });
  const target = new URL(redirectUri, 'http://placeholder.invalid');
  target.searchParams.set('code', code);
  if (state !== undefined) target.searchParams.set('state', state);
  const location = redirectUri.startsWith('/') ? `${target.pathname}${target.search}` : target.toString();
  return reply.redirect(location, 302);
}

function sameRedirect(given: string, registered: string): boolean {
  if (given === registered) return true;
  // a server may send its callback as a full URL on the hub's host
  try {
    return new URL(given).pathname === registered && registered.startsWith('/');
  } catch {
    return false;
  }
}

function oauthError(reply: FastifyReply, status: number, error: string, description: string): FastifyReply {
  return reply.code(status).send({ status, message: description, error, error_description: description });
}

async function token(hub: Hub, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body)) return oauthError(reply, 400, 'invalid_request', 'token request body must be form-encoded fields');
  let clientId = str(body, 'client_id');
  let clientSecret = str(body, 'client_secret');
  const basic = /^basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (basic) {
    const [id, secret] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
    // RFC 6749 §2.3.1: both parts are form-encoded; a bad %-escape is the client's error (it was a 500)
    try {
      clientId ??= decodeURIComponent((id ?? '').replaceAll('+', ' '));
      clientSecret ??= decodeURIComponent((secret ?? '').replaceAll('+', ' '));
    } catch {
      return oauthError(reply, 401, 'invalid_client', 'malformed Basic credentials: bad percent-encoding in the client id or secret');
    }
  }
  const grant = str(body, 'grant_type');
  const code = str(body, 'code');
  const redirectUri = str(body, 'redirect_uri');
  if (grant !== 'authorization_code') return oauthError(reply, 400, 'unsupported_grant_type', `grant_type must be "authorization_code", got ${JSON.stringify(grant ?? null)}`);
  if (!clientId || !clientSecret) return oauthError(reply, 401, 'invalid_client', 'client_id and client_secret are required');
  const client = await getClient(hub.db, clientId);
  if (!client || !safeEqual(client.secret_hash, sha256(clientSecret))) return oauthError(reply, 401, 'invalid_client', 'unknown client or wrong client secret');
  if (!code) return oauthError(reply, 400, 'invalid_request', 'code is required');
  const row = await takeCode(hub.db, code);
  if (!row || row.client_id !== clientId) return oauthError(reply, 400, 'invalid_grant', 'the authorization code is invalid, expired or already used');
  if (!redirectUri || !sameRedirect(redirectUri, row.redirect_uri)) return oauthError(reply, 400, 'invalid_grant', 'redirect_uri does not match the authorization request');
  const expiresIn = Math.round(hub.config.cookie_max_age_days * 86400);
  const scopes = JSON.parse(row.scopes) as string[];
  const { token: accessToken } = await createToken(hub.db, row.user_id, {
    kind: 'oauth',
    scopes,
    note: `OAuth token for ${client.description || clientId}`,
    expiresIn,
    sessionId: row.session_id,
    clientId,
  });
  return reply
    .header('Cache-Control', 'no-store')
    .send({ access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn, scope: scopes.join(' ') });
}
