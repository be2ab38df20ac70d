import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { DB } from '../db/schema.js';
import { ConfigError } from '../lib/errors.js';
import { deleteServicesExcept, setConfigToken, upsertService } from '../db/repos/services.js';
import { serviceToken } from '../services/service-token.js';

/** A `services:` entry checked, with its token read (from `api_token` or `api_token_file`). */
export type CheckedService = Config['services'][number] & { token: string | undefined };

/**
 * Checks `services` before anything is stored: names listed once, a token
 * from at most one source (a token file is read now), an `http(s)` url, a
 * non-empty command. Every error names the service.
 */
export function checkServices(services: Config['services'], log: Logger): CheckedService[] {
  const seen = new Set<string>();
  const out: CheckedService[] = [];
  for (const s of services) {
    const where = `config: services: ${JSON.stringify(s.name)}`;
    if (seen.has(s.name)) throw new ConfigError(`config: services: the service name ${JSON.stringify(s.name)} is listed twice`);
    seen.add(s.name);
    if (s.url !== undefined) {
      let url: URL | undefined;
      try {
        url = new URL(s.url);
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.host) {
        throw new ConfigError(`${where}: url ${JSON.stringify(s.url)} is not an http:// or https:// URL with a host`);
      }
    }
    if (s.command.length && !s.command[0]) throw new ConfigError(`${where}: command starts with an empty program name`);
    if (!s.command.length && (Object.keys(s.environment).length || s.cwd !== undefined)) {
      log.warn({ service: s.name }, 'services: environment and cwd apply only to a managed service (one with a command); ignored');
    }
    out.push({ ...s, token: serviceToken(s, log) });
  }
  return out;
}

/**
 * Applies `services` from config to the store (JupyterHub's `init_services`):
 * each service is stored with its config token (hashed; replaced when it
 * changes, removed when it is dropped), and services no longer listed are
 * deleted with their tokens and roles. Services are not users: nothing here
 * creates a user or a login. `builtin` names services the hub runs itself
 * (the idle culler's), kept although not listed. Roles are assigned by `loadRoles`, processes and
 * routes by `applyServices` (src/services/apply-services.ts).
 */
export async function loadServices(db: Kysely<DB>, services: Config['services'], log: Logger, builtin: readonly string[] = []): Promise<CheckedService[]> {
  const checked = checkServices(services, log);
  await db.transaction().execute(async (tx) => {
    for (const s of checked) {
      if (s.admin) log.warn({ service: s.name }, 'services: admin: true is deprecated (as in JupyterHub 2+); give the service a role with the scopes it needs');
      const row = await upsertService(tx, {
        name: s.name,
        admin: s.admin,
        url: s.url ?? null,
        display: s.display,
        oauthNoConfirm: s.oauth_no_confirm,
        info: s.info,
      });
      await setConfigToken(tx, row.id, s.token);
    }
    const removed = await deleteServicesExcept(tx, [...checked.map((s) => s.name), ...builtin]);
    if (removed.length) log.info({ services: removed }, 'deleted services no longer in the configuration, with their tokens');
  });
  return checked;
}
