import type { Hub } from '../hub/context.js';
import type { ServerRow } from '../db/repos/servers.js';
import { cullAt } from '../services/culler/cull-at.js';

/** What the admin page shows about a server's idleness. */
export interface CullInfo {
  /** Where the last activity came from (`servers.last_activity_source`: server, proxy, start), when known. */
  source?: string | undefined;
  /** ISO time at which the built-in idle culler would stop the server; undefined when it would not (culling off, admin exempt, not running). */
  cullAt?: string | undefined;
}

/** The admin page's view of a server's idleness: the source of its last activity and, with `cull.enabled`, when it would be culled. */
export function cullInfo(hub: Hub, server: ServerRow, owner: { admin: number | boolean }): CullInfo {
  const at = cullAt(server, { admin: owner.admin }, hub.config.cull, new Date());
  return { source: server.last_activity_source ?? undefined, cullAt: at ? at.toISOString() : undefined };
}
