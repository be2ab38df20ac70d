import type { FastifyInstance } from 'fastify';
import type { Hub } from '../hub/context.js';
import { HubError } from '../lib/errors.js';
import { listAudit, type AuditRow } from '../db/repos/audit.js';
import { requireScope } from './common.js';
import { paginated, readPage } from './pagination.js';

/** The JSON model of an audit entry. */
export function auditModel(r: AuditRow): Record<string, unknown> {
  let detail: unknown = {};
  try {
    detail = JSON.parse(r.detail);
  } catch {
    // a row written by hand: show nothing rather than fail the list
  }
  return { id: r.id, at: r.at, actor: { kind: r.actor_kind, name: r.actor }, action: r.action, target: r.target, detail };
}

function textParam(value: unknown, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > 255) throw new HubError(400, `Invalid ${name} parameter: give it once, as text of at most 255 characters`);
  return value;
}

/**
 * `GET /hub/api/audit?offset&limit&actor&action` (scope `read:audit`, Ganymede
 * only): the audit log, newest first, paginated as the other lists are.
 * `action` is an action name (`user.create`) or a prefix ending in a dot (`server.`).
 */
export function auditRoutes(app: FastifyInstance, hub: Hub): void {
  app.get('/audit', async (req, reply) => {
    await requireScope(hub, req, ['read:audit']);
    const q = req.query as Record<string, unknown>;
    const page = readPage(req, hub.config);
    const actor = textParam(q['actor'], 'actor');
    const action = textParam(q['action'], 'action');
    const { rows, total } = await listAudit(hub.db, { offset: page.offset, limit: page.limit, actor, action, count: page.envelope });
    return reply.send(paginated(req, page, rows.map(auditModel), total));
  });
}
