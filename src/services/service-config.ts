import { Type, type Static } from '@sinclair/typebox';

/**
 * One entry of `services:` (JupyterHub's `c.JupyterHub.services`): an API
 * client that is not a user, optionally reached through the proxy at
 * `/services/<name>/` (`url`) and optionally run by the hub (`command`).
 */
export const ServiceConfigSchema = Type.Object(
  {
    name: Type.String({
      pattern: '^[a-z0-9][a-z0-9_.-]{0,254}$',
      description: 'Service name: lower-case letters, digits, `_.-`, starting with a letter or digit. Services are not users: nobody can log in as one.',
    }),
    api_token: Type.Optional(
      Type.String({
        minLength: 16,
        description:
          "The service's API token (at least 16 characters; `openssl rand -hex 32`). Stored hashed and replaced when it changes. Not with `api_token_file`. Without either, a managed service (`command`) gets a generated token; others can get one with `ganymede token --service NAME`.",
      }),
    ),
    api_token_file: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'A file holding the service\'s API token (its first line; at least 16 characters), read at start and at every reload, e.g. a mounted secret. Relative paths are relative to the hub\'s working directory. Not with `api_token`.',
      }),
    ),
    admin: Type.Boolean({ default: false, description: 'Deprecated (as in JupyterHub): give the service the `admin` role. Prefer a role with only the scopes it needs.' }),
    roles: Type.Array(Type.String(), {
      default: [],
      description: 'Roles given to this service: built-in ones or those of `roles:` (same effect as listing the service in `roles[].services`).',
    }),
    scopes: Type.Array(Type.String(), {
      default: [],
      description: 'Scopes given to this service directly; they are held through an implicit role named `_service-<name>` (shown in the service model).',
    }),
    url: Type.Optional(
      Type.String({
        description:
          'Where the service listens (`http://host:port`). The hub routes `<base_url>services/<name>/` there through the proxy (the path is kept); a managed service gets it as `JUPYTERHUB_SERVICE_URL`.',
      }),
    ),
    command: Type.Array(Type.String(), {
      default: [],
      description:
        'Run the service as a process of the hub (a managed service): started after the proxy, restarted when it exits (backing off up to 60 s), stopped with the hub (SIGTERM, then SIGKILL after 10 s). Its output goes to `<data_dir>/services/<name>.log`.',
    }),
    environment: Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String(), {
      default: {},
      description: 'Extra environment variables of a managed service (the `JUPYTERHUB_*` ones are set by the hub and win).',
    }),
    cwd: Type.Optional(Type.String({ minLength: 1, description: 'Working directory of a managed service (default: the hub\'s).' })),
    display: Type.Boolean({ default: true, description: 'Whether the service is listed to users (kept for JupyterHub compatibility).' }),
    oauth_no_confirm: Type.Boolean({ default: false, description: 'Kept for JupyterHub compatibility; the hub does not run OAuth for services yet.' }),
    info: Type.Record(Type.String(), Type.Unknown(), { default: {}, description: 'Free-form information returned in the service model.' }),
  },
  { additionalProperties: false },
);

export type ServiceConfig = Static<typeof ServiceConfigSchema>;

export const ServicesConfigSchema = Type.Array(ServiceConfigSchema, {
  default: [],
  description:
    "API clients that are not users (JupyterHub's `services`), such as the idle culler: `[{name, api_token, roles, scopes, url, command}]`. Applied at start and by `applyServices` on reload: services removed from the list are deleted with their tokens and routes, and their processes stopped.",
});

/**
 * The services the hub keeps: `services:`, plus any the hub adds itself (the
 * built-in idle culler registers its own service here). Every place that
 * applies services uses this list, so a service added here is never deleted
 * as "no longer configured".
 */
export function configuredServices(config: { services: ServiceConfig[] }): ServiceConfig[] {
  return config.services;
}

/** The token files services name (`api_token_file`, as given): a live reload watches them too. */
export function serviceTokenFiles(config: { services: ServiceConfig[] }): string[] {
  return configuredServices(config).flatMap((s) => (s.api_token_file === undefined ? [] : [s.api_token_file]));
}
