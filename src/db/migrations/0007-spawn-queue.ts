import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Placeholder: the spawn queue (issue 14, item 3): what a queued spawn needs to be admitted in FIFO order, atomically, across hub processes.
 * Filled in by the work that needs it.
 */
export async function up(_db: Kysely<unknown>, _dialect: Dialect): Promise<void> {}

export async function down(_db: Kysely<unknown>): Promise<void> {}
