import type { Hub } from './context.js';
import type { Requester } from './service-identity.js';
import { recordAudit, type AuditAction, type AuditActor } from '../db/repos/audit.js';

/** The audit actor of an API or page requester. */
export function actorOf(who: Requester): AuditActor {
  return who.kind === 'service' ? { kind: 'service', name: who.service.name } : { kind: 'user', name: who.user.name };
}

/**
 * Records an audit entry for an action that has happened. A failure to write
 * it is logged (with the action, never a secret) and does not undo or fail the
 * action, which is already done.
 */
export async function audit(hub: Hub, who: Requester, action: AuditAction, target: string, detail?: Record<string, unknown>): Promise<void> {
  try {
    await recordAudit(hub.db, { actor: actorOf(who), action, target, ...(detail ? { detail } : {}) });
  } catch (err) {
    hub.log.error({ action, target, err: (err as Error).message }, 'could not write an audit log entry');
  }
}

/** Whether a server action by `who` on `owner`'s server is recorded: when someone else than the owner does it. */
export function auditsServerAction(who: Requester, owner: string): boolean {
  return who.kind === 'service' || who.user.name !== owner;
}
