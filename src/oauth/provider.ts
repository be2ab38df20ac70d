import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { refreshIfStale } from '../auth/refresh.js';
import { clearLoginCookies, clientProtocol } from '../hub/cookies.js';
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
import { clip } from '../api/common.js';
import { parseBasicAuth } from './basic-auth.js';
import { redirectUriMatches, withQuery } from './redirect-uri.js';
import { readChallenge, verifierMatches } from './pkce.js';

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
  if (!client) throw new HubError(400, `OAuth authorize: unknown client_id ${JSON.stringify(clip(clientId, 200))}`);
  if (!redirectUri || !redirectUriMatches(redirectUri, client.redirect_uri, hubOrigin(req))) {
    throw new HubError(400, `OAuth authorize: redirect_uri ${JSON.stringify(clip(redirectUri ?? 'null', 200))} does not match the one registered for ${JSON.stringify(clip(clientId, 200))}`);
  }
  const pkce = readChallenge(q['code_challenge'], q['code_challenge_method']);
  if (typeof pkce === 'string') throw new HubError(400, `OAuth authorize: ${pkce}`);
  const session = await sessionFromCookie(hub.db, req);
  if (!session) {
    const login = urlJoin(hub.urls.hub, 'login');
    return redirectLocal(reply, `${login}?next=${encodeURIComponent(req.url)}`, login);
  }
  // auth.auth_refresh_age: an old login is refreshed here too (a failed one: 401 "please log in again")
  let user;
  try {
    user = await refreshIfStale(hub, session.user, hub.log);
  } catch (err) {
    clearLoginCookies(reply, hub.urls.hub);
    throw err;
  }
  // The user must be allowed to access the server behind this client.
  const owner = client.user_id !== null ? await getUserById(hub.db, client.user_id) : undefined;
  const allowed = JSON.parse(client.allowed_scopes) as string[];
  const { roles } = await userRolesAndGroups(hub.db, user);
  // admin_access off: the admin role alone does not open someone else's server
  const held = await scopesOfUser(hub.db, user, owner && owner.id !== user.id && !hub.config.admin_access ? roles.filter((r) => r !== 'admin') : roles);
  // the target is the owner's server: a `!group=` scope reaches it when the owner is in that group
  const ownerGroups = owner ? (await userRolesAndGroups(hub.db, owner)).groups : [];
  const granted = allowed.filter((s) => hasScope(held, s, { userGroups: ownerGroups }));
  if (owner && granted.length === 0) {
    throw new HubError(403, `User ${user.name} is not allowed to access ${owner.name}'s server`);
  }
  const scopes = [...new Set([...granted, ...identifyScopes({ user: user.name })])];
  const code = await createCode(hub.db, { clientId, userId: user.id, redirectUri, scopes, sessionId: session.id, ...(pkce ? { pkce } : {}) });
  return reply.redirect(withQuery(redirectUri, { code, state }), 302);
}

/**
 * The hub's own origin as the browser sees it: the browser's protocol (the
 * client-most `X-Forwarded-Proto` or `Forwarded` claim, as for cookies: a
 * chain of proxies sends `https,http`) and Host, both read from trusted
 * proxies only.
 */
function hubOrigin(req: FastifyRequest): string {
  return `${clientProtocol(req)}://${req.host}`;
}

function oauthError(reply: FastifyReply, status: number, error: string, description: string): FastifyReply {
  return reply.code(status).send({ status, message: description, error, error_description: description });
}

async function token(hub: Hub, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body)) return oauthError(reply, 400, 'invalid_request', 'token request body must be form-encoded fields');
  let clientId = str(body, 'client_id');
  let clientSecret = str(body, 'client_secret');
  const basic = parseBasicAuth(req.headers.authorization);
  if (basic && !basic.ok) return oauthError(reply, 400, 'invalid_request', basic.problem);
  if (basic) {
    // RFC 6749 §2.3: one way of authenticating the client per request
    if ((clientId !== undefined && clientId !== basic.id) || (clientSecret !== undefined && clientSecret !== basic.secret)) {
      return oauthError(reply, 400, 'invalid_request', 'client credentials given both in Authorization: Basic and in the body, and they differ');
    }
    clientId = basic.id;
    clientSecret = basic.secret;
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
  // RFC 6749 §4.1.3: identical to the redirect_uri of the authorization request
  if (!redirectUri || redirectUri !== row.redirect_uri) return oauthError(reply, 400, 'invalid_grant', 'redirect_uri does not match the authorization request');
  // RFC 7636 §4.6; a verifier for a code issued without a challenge means the challenge was stripped (RFC 9700 §2.1.1)
  const challenge = row.code_challenge ? { challenge: row.code_challenge, method: row.code_challenge_method === 'S256' ? 'S256' as const : 'plain' as const } : undefined;
  if (!verifierMatches(body['code_verifier'], challenge)) {
    return oauthError(reply, 400, 'invalid_grant', challenge ? 'code_verifier is missing or does not match the code_challenge of the authorization request' : 'code_verifier given, but the authorization request had no code_challenge');
  }
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
