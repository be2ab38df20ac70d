/**
 * Server names are user input and keys of the model's `servers` object: a
 * name that is also an Object.prototype member (`__proto__`, `constructor`)
 * must come out as an ordinary key, through JSON.stringify and the response
 * schemas alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { userModel } from '../../src/api/models.js';
import { USER_MODEL_SCHEMA } from '../../src/api/user-schemas.js';
import type { Hub } from '../../src/hub/context.js';
import type { Requester } from '../../src/hub/service-identity.js';
import type { UserRow } from '../../src/db/repos/users.js';
import type { ServerModelRow } from '../../src/db/repos/servers.js';

test('a server named __proto__ or constructor is listed in the user model like any other', async () => {
  const hub = { urls: { base: '/', hub: '/hub/', api: 'http://127.0.0.1:8081/hub/api' } } as unknown as Hub;
  const who = { kind: 'user', scopes: new Set(['read:users', 'read:servers']) } as unknown as Requester;
  const user = { id: 1, name: 'ann', admin: 0, created: 't', last_activity: null } as unknown as UserRow;
  const row = (name: string): ServerModelRow => ({ user_id: 1, name, state: '{}', started: 't', last_activity: null, user_options: '{}', pending: null, ready: 1 });
  const model = userModel(hub, who, user, { groups: [], roles: ['user'], servers: [row('__proto__'), row('constructor'), row('gpu')] }, false);
  const json = JSON.parse(JSON.stringify(model)) as { servers: Record<string, { name: string }> };
  assert.deepEqual(Object.keys(json.servers), ['__proto__', 'constructor', 'gpu']);
  assert.equal(json.servers['__proto__']!.name, '__proto__');
  const app = Fastify();
  app.get('/m', { schema: { response: { 200: USER_MODEL_SCHEMA } } }, async () => model);
  assert.equal((await app.inject('/m')).body, JSON.stringify(model));
  await app.close();
});
