import type { Kysely, Selectable, Updateable } from 'kysely';
import type { ActivitySource, DB, ServersTable } from '../schema.js';
import { HubError } from '../../lib/errors.js';
import { serverNameProblem } from '../../lib/names.js';
import { idIn } from '../id-list.js';

export type ServerRow = Selectable<ServersTable>;

export async function getServer(db: Kysely<DB>, userId: number, name: string): Promise<ServerRow | undefined> {
  return db.selectFrom('servers').selectAll().where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
}

export async function serversOfUsers(db: Kysely<DB>, userIds: number[]): Promise<Map<number, ServerRow[]>> {
  const out = new Map<number, ServerRow[]>();
  if (userIds.length === 0) return out;
  const rows = await db.selectFrom('servers').selectAll().where(idIn(db, 'user_id', userIds)).orderBy('name').execute();
  for (const r of rows) {
    const list = out.get(r.user_id) ?? [];
    list.push(r);
    out.set(r.user_id, list);
  }
  return out;
}

/** The columns the API's server and user models read (not the URL, back-end, owner or reported port). */
export const SERVER_MODEL_COLUMNS = ['user_id', 'name', 'state', 'started', 'last_activity', 'user_options', 'pending', 'ready'] as const;
export type ServerModelRow = Pick<ServerRow, (typeof SERVER_MODEL_COLUMNS)[number]>;

/** serversOfUsers with only SERVER_MODEL_COLUMNS: a page of 200 users with servers makes fewer values. */
export async function modelServersOfUsers(db: Kysely<DB>, userIds: number[]): Promise<Map<number, ServerModelRow[]>> {
  const out = new Map<number, ServerModelRow[]>();
  if (userIds.length === 0) return out;
  const rows = await db.selectFrom('servers').select(SERVER_MODEL_COLUMNS).where(idIn(db, 'user_id', userIds)).orderBy('name').execute();
  for (const r of rows) {
    const list = out.get(r.user_id);
    if (list) list.push(r);
    else out.set(r.user_id, [r]);
  }
  return out;
}

/** Servers that are running or have an action pending, with their owner's name. */
export async function activeServers(db: Kysely<DB>): Promise<(ServerRow & { user_name: string })[]> {
  return db
    .selectFrom('servers')
    .innerJoin('users', 'users.id', 'servers.user_id')
    .selectAll('servers')
    .select('users.name as user_name')
    .where((eb) => eb.or([eb('servers.ready', '=', 1), eb('servers.pending', 'is not', null), eb('servers.url', 'is not', null)]))
    .execute();
}

export async function createServer(db: Kysely<DB>, userId: number, name: string, spawner: string): Promise<ServerRow> {
  const problem = serverNameProblem(name); // the last lock behind every entry point
  if (problem) throw new HubError(400, problem);
  return db
    .insertInto('servers')
    .values({ user_id: userId, name, state: '{}', url: null, spawner, started: null, last_activity: null, last_activity_source: null, user_options: '{}', pending: null, ready: 0, owner: null, reported_port: null })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function updateServer(db: Kysely<DB>, id: number, set: Updateable<ServersTable>): Promise<void> {
  await db.updateTable('servers').set(set).where('id', '=', id).execute();
}

/**
 * Claims the right to start a server: sets `pending = 'spawn'` only when no
 * action is pending and it is not running. Returns false when another request won.
 */
export async function claimSpawn(db: Kysely<DB>, id: number, owner: string): Promise<boolean> {
  const res = await db
    .updateTable('servers')
    .set({ pending: 'spawn', owner, ready: 0, reported_port: null })
    .where('id', '=', id)
    .where('pending', 'is', null)
    .where('ready', '=', 0)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function deleteServer(db: Kysely<DB>, id: number): Promise<void> {
  await db.deleteFrom('servers').where('id', '=', id).execute();
}

/** Moves a server's last_activity forward only (an older report changes nothing), recording where it came from. */
export async function touchServerActivity(db: Kysely<DB>, id: number, when: string, source: ActivitySource): Promise<void> {
  await db
    .updateTable('servers')
    .set({ last_activity: when, last_activity_source: source })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_activity', 'is', null), eb('last_activity', '<', when)]))
    .execute();
}

/**
 * Records the port a starting server reported. Only a server whose spawn is
 * pending takes one (a report for a running or stopped server changes
 * nothing); returns whether it was stored.
 */
export async function setReportedPort(db: Kysely<DB>, id: number, port: number): Promise<boolean> {
  const res = await db.updateTable('servers').set({ reported_port: port }).where('id', '=', id).where('pending', '=', 'spawn').executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** The port the server reported since its spawn was claimed, or undefined. */
export async function reportedPort(db: Kysely<DB>, id: number): Promise<number | undefined> {
  const row = await db.selectFrom('servers').select('reported_port').where('id', '=', id).executeTakeFirst();
  return row?.reported_port ?? undefined;
}
