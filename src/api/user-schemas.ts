/**
 * JSON schemas of the user model, for Fastify's response serializer
 * (fast-json-stringify, about twice as fast as JSON.stringify on a page of
 * 200 users). They describe, never shape: every key is optional (a model
 * holds only what the requester's scopes reveal, see models.ts), none has a
 * default, and keys not listed are still written as they are
 * (`additionalProperties`), so the body is the one JSON.stringify gives.
 * The keys are listed in the order userModel writes them.
 */
const nullableString = { type: ['string', 'null'] } as const;
const stringList = { type: 'array', items: { type: 'string' } } as const;

/** A server model (models.ts serverModel), in its key order. */
export const SERVER_MODEL_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    last_activity: nullableString,
    started: nullableString,
    pending: nullableString,
    ready: { type: 'boolean' },
    stopped: { type: 'boolean' },
    url: { type: 'string' },
    // any JSON: written by JSON.stringify
    user_options: {},
    progress_url: { type: 'string' },
    full_url: nullableString,
    full_progress_url: nullableString,
    state: {},
  },
  additionalProperties: true,
} as const;

export const USER_MODEL_SCHEMA = {
  type: 'object',
  properties: {
    kind: { type: 'string' },
    name: { type: 'string' },
    admin: { type: 'boolean' },
    roles: stringList,
    groups: stringList,
    server: nullableString,
    pending: nullableString,
    created: nullableString,
    last_activity: nullableString,
    // any JSON: written by JSON.stringify
    auth_state: {},
    servers: { type: 'object', additionalProperties: SERVER_MODEL_SCHEMA },
  },
  additionalProperties: true,
} as const;

/** `GET /users` without the pagination header: a bare list. */
export const USER_LIST_SCHEMA = { type: 'array', items: USER_MODEL_SCHEMA } as const;

/** `GET /users` with the pagination header: JupyterHub's envelope. */
export const USER_PAGE_SCHEMA = {
  type: 'object',
  properties: {
    items: USER_LIST_SCHEMA,
    // offset, limit, total, next: written by JSON.stringify
    _pagination: {},
  },
  additionalProperties: true,
} as const;
