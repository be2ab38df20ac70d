import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { DB } from '../db/schema.js';
import { ConfigError } from '../lib/errors.js';
import { deleteServicesExcept, setConfigToken, upsertService } from '../db/repos/services.js';

/**
 * Applies `services` from config at start (JupyterHub's `init_services`):
 * each service is stored with its `api_token` (hashed; replaced when it
 * changes, removed when it is dropped), and services no longer listed are
 * deleted with their tokens and roles. Services are not users: nothing here
 * creates a user or a login.
 */
export async function loadServices(db: Kysely<DB>, services: Config['services'], log: Logger): Promise<void> {
  const seen = new Set<string>();
  for (const s of services) {
    if (seen.has(s.name)) throw new ConfigError(`config: services: the service name ${JSON.stringify(s.name)} is listed twice`);
    seen.add(s.name);
  }
  await db.transaction().execute(async (tx) => {
    for (const s of services) {
      if (s.admin) log.warn({ service: s.name }, 'services: admin: true is deprecated (as in JupyterHub 2+); give the service a role with the scopes it needs');
      const row = await upsertService(tx, {
        name: s.name,
        admin: s.admin,
        url: s.url ?? null,
        display: s.display,
        oauthNoConfirm: s.oauth_no_confirm,
        info: s.info,
      });
      await setConfigToken(tx, row.id, s.api_token);
    }
    const removed = await deleteServicesExcept(tx, [...seen]);
    if (removed.length) log.info({ services: removed }, 'deleted services no longer in the configuration, with their tokens');
  });
}
