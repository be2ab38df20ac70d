import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Placeholder: the audit log (issue 14, item 6): who did what, when, for admin actions and token creation.
 * Filled in by the work that needs it.
 */
export async function up(_db: Kysely<unknown>, _dialect: Dialect): Promise<void> {}

export async function down(_db: Kysely<unknown>): Promise<void> {}
