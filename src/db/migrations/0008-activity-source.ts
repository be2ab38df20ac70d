import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Placeholder: where a server's last activity came from (issue 14, item 1): the single-user report, the proxy's per-route activity.
 * Filled in by the work that needs it.
 */
export async function up(_db: Kysely<unknown>, _dialect: Dialect): Promise<void> {}

export async function down(_db: Kysely<unknown>): Promise<void> {}
