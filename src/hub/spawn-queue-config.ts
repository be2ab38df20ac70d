import { Type } from '@sinclair/typebox';

/**
 * The spawn queue's options (`spawn_queue:`) and the per-user and per-group
 * server limits. `concurrent_spawn_limit` and `active_server_limit` keep
 * JupyterHub's names and stay at the top level (src/config/schema.ts).
 */
export const SpawnQueueConfigSchema = Type.Object(
  {
    max_length: Type.Integer({
      minimum: 0,
      default: 1000,
      description:
        'Most spawns waiting in the queue at once (over `concurrent_spawn_limit`). A start beyond it is refused with 429, `Retry-After` and JupyterHub\'s "Too many users trying to log in right now" message. 0: no queue, a start over the limit is refused at once (JupyterHub\'s behaviour).',
    }),
    max_wait: Type.Number({
      minimum: 0,
      default: 300,
      description:
        'Seconds a spawn may wait in the queue; then it is given up with the same 429 message (the start timeout counts only from admission). 0: no bound other than `max_length`.',
    }),
    check_interval: Type.Number({
      minimum: 0.05,
      maximum: 10,
      default: 0.5,
      description:
        'Seconds between re-checks of the queue while a spawn of this process waits. A spawn that ends in this process admits the next at once; this bounds the wait for slots freed by other hub processes on the same database.',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description:
      'The fair FIFO queue of spawns over `concurrent_spawn_limit`: a start over the limit waits here (shown as pending, with its position) instead of being refused. Kept in the database, so several hub processes on one PostgreSQL share it.',
  },
);

/** Top-level options: how many servers (running or pending) one user may have. */
export const ServerLimitOptions = {
  server_limit_per_user: Type.Integer({
    minimum: 0,
    default: 0,
    description:
      'Most servers (running, pending or queued, default and named together) one user may have at once; 0: no limit. A start over it is refused with 403. `server_limit_per_group` overrides it for members of a listed group.',
  }),
  server_limit_per_group: Type.Record(Type.String({ minLength: 1 }), Type.Integer({ minimum: 0 }), {
    default: {},
    description:
      'Most servers (running, pending or queued) a member of each group may have, by group name; 0: no limit. A user in several listed groups gets the largest of their limits; a user in none gets `server_limit_per_user`.',
  }),
};
