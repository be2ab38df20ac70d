import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { HubError } from '../lib/errors.js';
import { createToken, deleteToken, getToken, listTokens, MAX_TOKEN_EXPIRES_IN } from '../db/repos/tokens.js';
import { validateScopes, expandScopes, identifyScopes } from '../rbac/scopes.js';
import { actsAsAdmin, listScopes, scopesNotHeld } from '../rbac/privilege.js';
import { groupsLookup } from './privilege.js';
import { roleScopes, isBuiltinRole } from '../rbac/roles.js';
import { scopesOfUser, userRolesAndGroups } from '../hub/identity.js';
import { audit } from '../hub/audit.js';
import { expectType, findUserOr404, groupsOf, jsonObjectBody, onlyKeys, requireScope, sendStatus } from './common.js';
import { tokenModel } from './models.js';

function tokenId(req: FastifyRequest): number {
  const raw = (req.params as { token_id: string }).token_id;
  const m = /^a?(\d{1,15})$/.exec(raw);
  if (!m) throw new HubError(404, `No such token: ${raw}`);
  return Number(m[1]);
}

export function tokensRoutes(app: FastifyInstance, hub: Hub): void {
  app.get('/users/:name/tokens', async (req) => {
    const name = (req.params as { name: string }).name;
    await requireScope(hub, req, ['read:tokens'], { user: name, userGroups: await groupsOf(hub, name, req) });
    const user = await findUserOr404(hub, name);
    const rows = await listTokens(hub.db, user.id);
    return { api_tokens: rows.filter((t) => t.kind !== 'oauth').map((t) => tokenModel(user, t)), oauth_tokens: rows.filter((t) => t.kind === 'oauth').map((t) => tokenModel(user, t)) };
  });

  app.post('/users/:name/tokens', async (req, reply) => {
    const name = (req.params as { name: string }).name;
    const who = await requireScope(hub, req, ['tokens'], { user: name, userGroups: await groupsOf(hub, name, req) });
    const user = await findUserOr404(hub, name);
    const body = jsonObjectBody(req);
    onlyKeys(body, ['expires_in', 'note', 'roles', 'scopes'], 'new token');
    expectType(body, 'note', 'string', 'new token');
    expectType(body, 'roles', 'array', 'new token');
    expectType(body, 'scopes', 'array', 'new token');
    const expires = body['expires_in'];
    if (expires !== undefined && expires !== null && (typeof expires !== 'number' || !Number.isFinite(expires) || expires < 0 || expires > MAX_TOKEN_EXPIRES_IN)) {
      throw new HubError(400, `new token: expires_in must be a non-negative number of seconds up to ${MAX_TOKEN_EXPIRES_IN}, got ${JSON.stringify(expires)}`);
    }
    const roles = (body['roles'] as unknown[] | undefined) ?? [];
    let scopes = (body['scopes'] as unknown[] | undefined) ?? [];
    if ([...roles, ...scopes].some((s) => typeof s !== 'string')) throw new HubError(400, 'new token: roles and scopes must be lists of strings');
    for (const role of roles as string[]) {
      if (!isBuiltinRole(role)) {
        const custom = await hub.db.selectFrom('roles').select('scopes').where('name', '=', role).executeTakeFirst();
        if (!custom) throw new HubError(403, `Role ${role} does not exist`);
        scopes = [...scopes, ...(JSON.parse(custom.scopes) as string[])];
      } else scopes = [...scopes, ...roleScopes(role)];
    }
    if (scopes.length === 0) scopes = ['inherit'];
    const problem = validateScopes(scopes as string[]);
    if (problem) throw new HubError(400, problem);
    // A token may not hold more than its owner, nor more than the requester;
    // `inherit` stands for the owner's scopes (JupyterHub's token role).
    const { roles: ownerRoles, groups: ownerGroups } = await userRolesAndGroups(hub.db, user);
    const ownerScopes = await scopesOfUser(hub.db, user, ownerRoles);
    const inherit = (scopes as string[]).includes('inherit');
    const explicit = expandScopes((scopes as string[]).filter((s) => s !== 'inherit'), { user: user.name });
    const effective = inherit ? new Set([...ownerScopes, ...explicit]) : explicit;
    const groupsOfUser = await groupsLookup(hub, effective, new Map([[user.name, ownerGroups]]));
    const beyondOwner = scopesNotHeld(ownerScopes, effective, groupsOfUser);
    if (beyondOwner.length) throw new HubError(403, `Not assigning requested scopes ${listScopes(beyondOwner)}: not held by ${user.name}`);
    const identifying = identifyScopes({ user: user.name });
    const beyondRequester = scopesNotHeld(who.scopes, [...effective].filter((s) => !identifying.has(s)), groupsOfUser);
    if (beyondRequester.length) {
      throw new HubError(403, `Not assigning requested scopes ${listScopes(beyondRequester)}: not held by the requester${inherit ? ` (inherit stands for all of ${user.name}'s scopes)` : ''}`);
    }
    // `inherit` follows the owner's permissions as they change; only the owner
    // (or an admin) may mint that. For anyone else the token keeps what was checked now.
    const byOwner = who.kind === 'user' && who.user.id === user.id;
    if (inherit && !byOwner && !actsAsAdmin(who.scopes)) scopes = [...effective].sort();
    const note = (body['note'] as string | undefined) ?? (byOwner ? 'Requested via api' : `Requested via api by ${who.kind} ${who.kind === 'user' ? who.user.name : who.service.name}`);
    const { token, row } = await createToken(hub.db, user.id, { kind: 'api', scopes: scopes as string[], note, expiresIn: (expires as number | null | undefined) ?? null });
    await audit(hub, who, 'token.create', user.name, { id: `a${row.id}`, note, scopes, expires_in: expires ?? null, via: 'api' });
    return reply.code(201).send({ ...tokenModel(user, row), token });
  });

  app.get('/users/:name/tokens/:token_id', async (req) => {
    const name = (req.params as { name: string }).name;
    await requireScope(hub, req, ['read:tokens'], { user: name, userGroups: await groupsOf(hub, name, req) });
    const user = await findUserOr404(hub, name);
    const row = await getToken(hub.db, user.id, tokenId(req));
    if (!row) throw new HubError(404, `No such token: ${(req.params as { token_id: string }).token_id}`);
    return tokenModel(user, row);
  });

  app.delete('/users/:name/tokens/:token_id', async (req, reply) => {
    const name = (req.params as { name: string }).name;
    await requireScope(hub, req, ['tokens'], { user: name, userGroups: await groupsOf(hub, name, req) });
    const user = await findUserOr404(hub, name);
    const row = await getToken(hub.db, user.id, tokenId(req));
    if (!row) throw new HubError(404, `No such token: ${(req.params as { token_id: string }).token_id}`);
    await deleteToken(hub.db, row.id);
    return sendStatus(reply, 204);
  });
}
