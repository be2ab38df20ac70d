import type { Hub } from '../hub/context.js';
import type { ServerRow } from '../db/repos/servers.js';

/** What the admin page shows about a server's idleness. */
export interface CullInfo {
  /** where the last activity came from (`servers.last_activity_source`, the culler work's column), when known */
  source?: string | undefined;
  /** ISO time at which the idle culler would stop the server, when it would */
  cullAt?: string | undefined;
}

/**
 * The adapter between the admin page and the idle culler (issue 14, item 1),
 * kept here so the page does not depend on the culler's module: it reads the
 * activity source when the row has the column (migration 0008) and returns no
 * cull time until the culler's pure `cullAt()` is wired in here.
 */
export function cullInfo(_hub: Hub, server: ServerRow): CullInfo {
  const source = (server as ServerRow & { last_activity_source?: string | null }).last_activity_source;
  return { source: source ?? undefined, cullAt: undefined };
}
