/**
 * The user-model response schemas describe and never shape: through
 * Fastify's serializer a body is byte for byte what JSON.stringify gives,
 * whatever keys a model has or lacks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { USER_LIST_SCHEMA, USER_MODEL_SCHEMA, USER_PAGE_SCHEMA } from '../../src/api/user-schemas.js';

const full = {
  kind: 'user',
  name: 'a"b\u2028\u00e9',
  admin: true,
  roles: ['admin', 'user'],
  groups: ['g "1"'],
  server: '/user/a/',
  pending: null,
  created: '2026-01-01T00:00:00.000Z',
  last_activity: null,
  auth_state: { x: [1, { y: null }], s: 'z' },
  servers: {
    '': { name: '', last_activity: null, started: 't', pending: 'spawn', ready: false, stopped: false, url: '/user/a/', user_options: { profile: 'p', n: 1.5 }, progress_url: '/p', full_url: null, full_progress_url: null, state: { v: 1, pid: 3 } },
    gpu: { name: 'gpu', ready: true, stopped: false, extra: [1] },
  },
};
const models = [full, { kind: 'user', name: 'only-name' }, { name: 'n', servers: {} }, { kind: 'user', name: 'x', extra: 5 }, {}];

describe('user model response schemas', () => {
  it('write exactly what JSON.stringify writes', async () => {
    const app = Fastify();
    app.get('/one/:i', { schema: { response: { 200: USER_MODEL_SCHEMA } } }, async (req) => models[Number((req.params as { i: string }).i)]);
    app.get('/list', async (_req, reply) => reply.type('application/json; charset=utf-8').send(reply.serializeInput(models as unknown as Record<string, unknown>, USER_LIST_SCHEMA)));
    const page = { items: models, _pagination: { offset: 0, limit: 5, total: 9, next: { offset: 5, limit: 5, url: '/x?offset=5&limit=5' } } };
    app.get('/page', async (_req, reply) => reply.type('application/json; charset=utf-8').send(reply.serializeInput(page, USER_PAGE_SCHEMA)));
    for (let i = 0; i < models.length; i++) assert.equal((await app.inject(`/one/${i}`)).body, JSON.stringify(models[i]));
    assert.equal((await app.inject('/list')).body, JSON.stringify(models));
    assert.equal((await app.inject('/page')).body, JSON.stringify(page));
    await app.close();
  });
});
