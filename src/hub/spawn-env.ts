import type { Config } from '../config/schema.js';
import { quotePath, urlJoin } from '../lib/names.js';
import { serverKey } from '../lib/server-key.js';
import type { HubUrls } from './context.js';

/** Variables passed through from the hub's own environment (as JupyterHub's `env_keep`). */
export const ENV_KEEP = ['PATH', 'PYTHONPATH', 'CONDA_ROOT', 'CONDA_DEFAULT_ENV', 'VIRTUAL_ENV', 'LANG', 'LC_ALL', 'JUPYTERHUB_SINGLEUSER_APP', 'HOME', 'SHELL'];

/** The URL path of a server: `/user/alice/` or `/user/alice/gpu/`. */
export function serverPrefix(urls: HubUrls, user: string, serverName: string): string {
  const p = urlJoin(urls.base, 'user', quotePath(user), serverName ? quotePath(serverName) : '');
  return p.endsWith('/') ? p : `${p}/`;
}

/**
 * The OAuth client id of a server, which is also the name of its auth cookie:
 * `jupyterhub-user-` and the pair's {@link serverKey}, so distinct (user, server)
 * pairs never share a client (`ka-b` gives `jupyterhub-user-ka-2db`, `ka`/`b`
 * gives `jupyterhub-user-ka--b`).
 */
export function oauthClientId(user: string, serverName: string): string {
  return `jupyterhub-user-${serverKey(user, serverName)}`;
}

export function accessScopes(user: string, serverName: string): string[] {
  return [`access:servers!server=${user}/${serverName}`, `access:servers!user=${user}`];
}

/**
 * The environment of a single-user server: JupyterHub's contract
 * (contracts.md §1.1). JUPYTERHUB_SERVICE_URL is completed by the spawner,
 * which knows the address it binds.
 */
export function buildServerEnv(opts: {
  config: Config;
  urls: HubUrls;
  user: string;
  serverName: string;
  apiToken: string;
  hostEnv?: NodeJS.ProcessEnv;
}): Record<string, string> {
  const { config, urls, user, serverName, apiToken } = opts;
  const hostEnv = opts.hostEnv ?? process.env;
  const env: Record<string, string> = {};
  for (const key of ENV_KEEP) {
    const v = hostEnv[key];
    if (v !== undefined) env[key] = v;
  }
  const prefix = serverPrefix(urls, user, serverName);
  const clientId = oauthClientId(user, serverName);
  const access = JSON.stringify(accessScopes(user, serverName));
  Object.assign(env, {
    JUPYTERHUB_API_TOKEN: apiToken,
    JPY_API_TOKEN: apiToken,
    JUPYTERHUB_CLIENT_ID: clientId,
    JUPYTERHUB_API_URL: urls.api,
    JUPYTERHUB_ACTIVITY_URL: urlJoin(urls.api, 'users', quotePath(user), 'activity'),
    JUPYTERHUB_BASE_URL: urls.base,
    JUPYTERHUB_SERVICE_PREFIX: prefix,
    JUPYTERHUB_OAUTH_CALLBACK_URL: `${prefix}oauth_callback`,
    JUPYTERHUB_OAUTH_ACCESS_SCOPES: access,
    JUPYTERHUB_OAUTH_SCOPES: access,
    JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES: JSON.stringify([`access:servers!server=${user}/${serverName}`]),
    JUPYTERHUB_USER: user,
    JUPYTERHUB_SERVER_NAME: serverName,
    JUPYTERHUB_HOST: '',
    JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED: '0',
    JUPYTERHUB_PUBLIC_URL: '',
    JUPYTERHUB_PUBLIC_HUB_URL: '',
  });
  if (!env['USER']) env['USER'] = user;
  if (config.admin_access) env['JUPYTERHUB_ADMIN_ACCESS'] = '1';
  Object.assign(env, config.environment);
  return env;
}
