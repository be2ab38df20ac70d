import type { Kysely, Selectable } from 'kysely';
import type { DB, ServicesTable, ServiceTokensTable } from '../schema.js';
import { newToken, safeEqual, sha256, TOKEN_PREFIX_LENGTH } from '../../lib/crypto.js';
import { isoIn, isoNow } from '../../lib/time.js';

export type ServiceRow = Selectable<ServicesTable>;
export type ServiceTokenRow = Selectable<ServiceTokensTable>;

/** What config says about a service (the stored part). */
export interface ServiceSpec {
  name: string;
  admin: boolean;
  url: string | null;
  display: boolean;
  oauthNoConfirm: boolean;
  info: Record<string, unknown>;
}

/** Creates or updates a service by name. */
export async function upsertService(db: Kysely<DB>, spec: ServiceSpec): Promise<ServiceRow> {
  const values = {
    admin: spec.admin ? 1 : 0,
    url: spec.url,
    display: spec.display ? 1 : 0,
    oauth_no_confirm: spec.oauthNoConfirm ? 1 : 0,
    info: JSON.stringify(spec.info),
  };
  return db
    .insertInto('services')
    .values({ name: spec.name, created: isoNow(), last_activity: null, ...values })
    .onConflict((oc) => oc.column('name').doUpdateSet(values))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Deletes the services not named in `keep` (their tokens and roles go with them). */
export async function deleteServicesExcept(db: Kysely<DB>, keep: readonly string[]): Promise<string[]> {
  let q = db.deleteFrom('services');
  if (keep.length) q = q.where('name', 'not in', [...keep]);
  return (await q.returning('name').execute()).map((r) => r.name);
}

export async function getService(db: Kysely<DB>, name: string): Promise<ServiceRow | undefined> {
  return db.selectFrom('services').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function getServiceById(db: Kysely<DB>, id: number): Promise<ServiceRow | undefined> {
  return db.selectFrom('services').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listServices(db: Kysely<DB>, names?: readonly string[]): Promise<ServiceRow[]> {
  let q = db.selectFrom('services').selectAll().orderBy('name');
  if (names !== undefined) {
    if (names.length === 0) return [];
    q = q.where('name', 'in', [...names]);
  }
  return q.execute();
}

/** The roles assigned to a service (not counting the admin flag). */
export async function rolesOfService(db: Kysely<DB>, serviceId: number): Promise<string[]> {
  return (await db.selectFrom('service_roles').select('role').where('service_id', '=', serviceId).execute()).map((r) => r.role);
}

/** Creates a service token; the plain token is returned once and only its hash is stored. */
export async function createServiceToken(
  db: Kysely<DB>,
  serviceId: number,
  opts: { kind: 'config' | 'api' | 'managed'; scopes: string[]; note?: string; expiresIn?: number | null; token?: string },
): Promise<{ token: string; row: ServiceTokenRow }> {
  const token = opts.token ?? newToken();
  const row = await db
    .insertInto('service_tokens')
    .values({
      prefix: token.slice(0, TOKEN_PREFIX_LENGTH),
      hashed: sha256(token),
      service_id: serviceId,
      kind: opts.kind,
      scopes: JSON.stringify(opts.scopes),
      note: opts.note ?? '',
      created: isoNow(),
      expires_at: opts.expiresIn ? isoIn(opts.expiresIn) : null,
      last_activity: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { token, row };
}

/** Sets a service's config token (`api_token`): replaces the previous one, or removes it when `token` is undefined. */
export async function setConfigToken(db: Kysely<DB>, serviceId: number, token: string | undefined): Promise<void> {
  const current = await db.selectFrom('service_tokens').select(['id', 'hashed']).where('service_id', '=', serviceId).where('kind', '=', 'config').execute();
  if (token !== undefined && current.length === 1 && safeEqual(current[0]!.hashed, sha256(token))) return;
  await db.deleteFrom('service_tokens').where('service_id', '=', serviceId).where('kind', '=', 'config').execute();
  if (token !== undefined) await createServiceToken(db, serviceId, { kind: 'config', scopes: ['inherit'], note: 'api_token from config', token });
}

/** Finds a service token by its plain value; expired tokens are not found. */
export async function findServiceToken(db: Kysely<DB>, token: string): Promise<ServiceTokenRow | undefined> {
  if (token.length < TOKEN_PREFIX_LENGTH + 4 || token.length > 256) return undefined;
  const rows = await db.selectFrom('service_tokens').selectAll().where('prefix', '=', token.slice(0, TOKEN_PREFIX_LENGTH)).execute();
  const hashed = sha256(token);
  const now = isoNow();
  return rows.find((r) => safeEqual(r.hashed, hashed) && (r.expires_at === null || r.expires_at > now));
}

/** Records use of a service token and its service, at most once a minute. */
export async function touchServiceToken(db: Kysely<DB>, row: ServiceTokenRow): Promise<void> {
  const now = isoNow();
  if (row.last_activity && Date.parse(now) - Date.parse(row.last_activity) < 60_000) return;
  row.last_activity = now;
  await db.updateTable('service_tokens').set({ last_activity: now }).where('id', '=', row.id).execute();
  await db.updateTable('services').set({ last_activity: now }).where('id', '=', row.service_id).execute();
}
