import type { Kysely, Selectable } from 'kysely';
import type { AuditLogTable, DB } from '../schema.js';
import { isoNow } from '../../lib/time.js';

export type AuditRow = Selectable<AuditLogTable>;

/** Who acted: a user or service through the API or a page, or the `ganymede` command line. */
export interface AuditActor {
  kind: 'user' | 'service' | 'cli';
  name: string;
}

/**
 * The actions the hub records (docs/operations.md, "Admin page and audit log").
 * Server actions are recorded when someone other than the server's owner does
 * them (an admin, a group manager, a service such as the culler).
 */
export type AuditAction =
  | 'user.create'
  | 'user.delete'
  | 'user.rename'
  | 'user.admin.grant'
  | 'user.admin.revoke'
  | 'user.groups.set'
  | 'group.create'
  | 'group.delete'
  | 'group.members.add'
  | 'group.members.remove'
  | 'group.properties.set'
  | 'server.start'
  | 'server.stop'
  | 'server.delete'
  | 'token.create';

export interface AuditEntry {
  actor: AuditActor;
  action: AuditAction;
  target: string;
  /** Details (names, scopes, notes): never a token or other secret. */
  detail?: Record<string, unknown>;
}

/** Keys a detail may not carry: the audit log never holds a secret. */
const SECRET_KEYS = /token|secret|password|auth_state/i;

/** Removes secret-looking keys from a detail object (a token's value must never reach the log). */
export function cleanDetail(detail: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(detail ?? {})) if (!SECRET_KEYS.test(k)) out[k] = v;
  return out;
}

/** Appends one entry, stamped now. */
export async function recordAudit(db: Kysely<DB>, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      at: isoNow(),
      actor_kind: entry.actor.kind,
      actor: entry.actor.name,
      action: entry.action,
      target: entry.target,
      detail: JSON.stringify(cleanDetail(entry.detail)),
    })
    .execute();
}

export interface AuditQuery {
  offset: number;
  limit: number;
  /** only entries by this actor name */
  actor?: string | undefined;
  /** only this action, or (ending in `.`) every action starting with it, e.g. `server.` */
  action?: string | undefined;
  /** count all matches (the pagination envelope) */
  count?: boolean;
}

/** Entries newest first, through the `(at, id)`, `(actor, at)` or `(action, at)` index. */
export async function listAudit(db: Kysely<DB>, q: AuditQuery): Promise<{ rows: AuditRow[]; total: number }> {
  let base = db.selectFrom('audit_log');
  if (q.actor !== undefined) base = base.where('actor', '=', q.actor);
  if (q.action !== undefined) {
    if (q.action.endsWith('.')) base = base.where('action', '>=', q.action).where('action', '<', `${q.action.slice(0, -1)}/`);
    else base = base.where('action', '=', q.action);
  }
  const total = q.count === false ? -1 : Number((await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const rows = await base.selectAll().orderBy('at', 'desc').orderBy('id', 'desc').limit(q.limit).offset(q.offset).execute();
  return { rows, total };
}
