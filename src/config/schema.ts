import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { LocalProcessSpawnerSchema } from '../spawners/local-process-config.js';
import { spawnerConfigSchema } from '../spawners/registry.js';
import { AuthConfigSchema } from '../auth/registry.js';
import { CullConfigSchema } from '../services/culler/culler-config.js';
import { ServicesConfigSchema } from '../services/service-config.js';
import { ServerLimitOptions, SpawnQueueConfigSchema } from '../hub/spawn-queue-config.js';

/**
 * The one declaration of every configuration option: its type, default and
 * help text. Validation (src/config/load.ts), `ganymede config generate` and
 * docs/reference/config.md (`npm run docs:gen`) all come from here.
 */

export { LocalProcessSpawnerSchema };

const StrList = (description: string) => Type.Array(Type.String(), { default: [], description });

const Seconds = (def: number, description: string) => Type.Number({ minimum: 0, default: def, description });

export const ConfigSchema = Type.Object(
  {
    ip: Type.String({ default: '127.0.0.1', description: 'The public address the proxy listens on.' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8000, description: 'The public port the proxy listens on.' }),
    base_url: Type.String({ default: '/', pattern: '^/(.*/)?$', description: 'The URL prefix of the whole hub; starts and ends with `/`.' }),
    data_dir: Type.String({
      default: './.ganymede',
      description:
        "Where the SQLite database, the cookie secret, the proxy token and pid file, and server logs live. Readable by the hub alone: created 0700 (a wider mode is narrowed at start), its secrets and database 0600.",
    }),
    log_level: Type.Union(
      [Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')],
      { default: 'info', description: 'Minimum level of log lines.' },
    ),
    log_format: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], {
      default: 'auto',
      description:
        'How the hub writes log lines to stdout: `json` (one JSON object a line, for log collectors), `pretty` (time, level, message, fields), `auto` (pretty on a terminal, JSON otherwise).',
    }),
    hub: Type.Object(
      {
        ip: Type.String({ default: '127.0.0.1', description: 'The address the hub process binds to (the proxy forwards `/hub/` there).' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8081, description: 'The port the hub process binds to.' }),
        connect_url: Type.Optional(
          Type.String({ description: 'How single-user servers and the proxy reach the hub, when not `http://<hub.ip>:<hub.port>`.' }),
        ),
      },
      { additionalProperties: false, default: {}, description: 'The hub process itself.' },
    ),
    db: Type.Object(
      {
        url: Type.String({
          default: 'sqlite:///ganymede.sqlite',
          description:
            'The database. `sqlite:///relative/to/data_dir.sqlite`, `sqlite:////absolute/path.sqlite`, `sqlite://:memory:` or `postgres://user:pass@host:port/db`.',
        }),
      },
      { additionalProperties: false, default: {}, description: 'The store.' },
    ),
    proxy: Type.Object(
      {
        should_start: Type.Boolean({
          default: true,
          description: 'Start `ganymede proxy` as a child process (reused across hub restarts). False: the proxy is run externally.',
        }),
        command: Type.Array(Type.String(), {
          default: [],
          description:
            'The proxy command to start when `should_start` (default: this ganymede\'s own `proxy` command). Any program taking configurable-http-proxy\'s flags works, e.g. `["configurable-http-proxy"]`.',
        }),
        api_url: Type.String({ default: 'http://127.0.0.1:8001', description: "The proxy's REST API (configurable-http-proxy's)." }),
        api_urls: StrList(
          'Several proxies: the REST API URLs of every proxy the hub keeps routes on. When not empty, it replaces `api_url`; all share `auth_token`. With `should_start`, the hub starts only the first; run the others yourself (`ganymede proxy ...`).',
        ),
        auth_token: Type.Optional(
          Type.String({
            description:
              'Token for the proxy API. Also read from CONFIGPROXY_AUTH_TOKEN. Generated and kept in the data dir when unset and the hub starts the proxy.',
          }),
        ),
        check_interval: Seconds(30, 'Seconds between reconciliations of the proxy routing table with the database.'),
        route_store: Type.Union([Type.Literal('file'), Type.Literal('database')], {
          default: 'file',
          description:
            "Where the proxy the hub starts keeps its routing table across restarts. `file`: `<data_dir>/proxy-routes.json` (`--state-file`). `database`: the table `ganymede_proxy_routes` in the hub's own `db.url` (`--state-db`; not with `sqlite://:memory:`). Only for the hub's own proxy (empty `proxy.command`).",
        }),
      },
      { additionalProperties: false, default: {}, description: 'The proxy that routes users to the hub and to their servers.' },
    ),
    auth: AuthConfigSchema,
    roles: Type.Array(
      Type.Object(
        {
          name: Type.String({ description: 'Role name (lower-case letters, digits, `-_.~`).' }),
          description: Type.String({ default: '', description: 'What the role is for.' }),
          scopes: Type.Array(Type.String(), { default: [], description: 'Scopes the role grants (see docs/reference/scopes.md).' }),
          users: Type.Array(Type.String(), { default: [], description: 'Users given this role (created when missing).' }),
          groups: Type.Array(Type.String(), { default: [], description: 'Groups given this role (created when missing).' }),
          services: Type.Array(Type.String(), { default: [], description: 'Services given this role (each must be listed in `services`).' }),
        },
        { additionalProperties: false },
      ),
      { default: [], description: "Custom roles, applied at every start (JupyterHub's `load_roles`): `[{name, scopes, users, groups, services}]`." },
    ),
    services: ServicesConfigSchema,
    cull: CullConfigSchema,
    allowed_users: StrList('Users allowed to log in. Empty: anyone who authenticates. Admin users are always allowed.'),
    admin_users: StrList('Users made admin at login and at start-up.'),
    blocked_users: StrList('Users who may never log in, even when they authenticate.'),
    spawner: spawnerConfigSchema('The spawner: the back-end (`kind`) that runs single-user servers, and its options. Ignored when `spawners` is not empty.', { kind: 'local-process' }),
    spawners: Type.Record(
      Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }),
      // a default lets Value.Default fill each entry's defaults (TypeBox visits a record's values only then)
      spawnerConfigSchema('One named back-end: `kind` and its options.', { kind: 'local-process' }),
      {
        default: {},
        additionalProperties: false,
        keyDescription: 'a back-end name is 1 to 63 lower-case letters, digits, `_` and `-`, starting with a letter or digit',
        description:
          "Several back-ends in one hub, by name (lower-case letters, digits, `_` and `-`): e.g. `local` (`kind: local-process`) and `cluster-a` (`kind: slurm` over SSH). Users pick one on the spawn form (the `backend` field; in the REST API the `backend` key of the start request's options), limited by each one's `allowed_groups`; the first one listed is the default. A server's row records its back-end, and poll, stop and re-attach use that one. When empty, `spawner` is the only back-end (named `default`).",
      },
    ),
    environment: Type.Record(Type.String(), Type.String(), {
      default: {},
      description:
        'Extra environment variables for single-user servers; set last, so they win, except HOME, USER, LOGNAME and SHELL, which a server run as its system account (`spawner.run_as: user`) takes from that account.',
    }),
    start_timeout: Seconds(60, 'Seconds the spawner may take to start a server (not counting the HTTP check).'),
    http_timeout: Seconds(30, 'Seconds a started server may take to answer HTTP before the spawn fails.'),
    poll_interval: Seconds(30, 'Seconds between polls of running servers.'),
    last_activity_interval: Seconds(
      300,
      "Seconds between two reads of the proxy's per-route activity into the servers' and users' `last_activity` (JupyterHub's `last_activity_interval`); 0: only at each reconciliation (`proxy.check_interval`). The built-in culler also reads it just before each round.",
    ),
    slow_spawn_timeout: Seconds(10, 'Seconds the start API call waits before answering 202 (pending).'),
    allow_named_servers: Type.Boolean({ default: false, description: 'Let users run named servers besides the default one.' }),
    admin_access: Type.Boolean({
      default: false,
      description:
        "Let admins open other users' servers in the browser (JupyterHub's name). Off: the admin role's `access:servers` does not count when the hub authorizes a browser (OAuth) login to someone else's server, and the admin page shows no link to open it; access granted by other roles (e.g. `access:servers!group=team`) still counts. JupyterHub 5 ignores this deprecated option and always lets admins in. Browser only, no security boundary: an admin's API token still reaches other users' servers, and admins may create tokens for any user. Applies live.",
    }),
    named_server_limit_per_user: Type.Integer({ minimum: 0, default: 0, description: 'Most named servers a user may have; 0: no limit.' }),
    concurrent_spawn_limit: Type.Integer({
      minimum: 0,
      default: 100,
      description: 'Most spawns in progress at once, over every hub process on the database; more wait in `spawn_queue`. 0: no limit.',
    }),
    active_server_limit: Type.Integer({ minimum: 0, default: 0, description: 'Most servers running or pending (queued ones too) at once; 0: no limit. A start over it is refused with 429.' }),
    spawn_queue: SpawnQueueConfigSchema,
    ...ServerLimitOptions,
    cookie_max_age_days: Type.Number({ exclusiveMinimum: 0, default: 14, description: 'Lifetime of login sessions and OAuth tokens, in days.' }),
    headers: Type.Record(Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" }), Type.String({ pattern: '^[\\t\\x20-\\x7e]*$' }), {
      default: {},
      additionalProperties: false,
      description:
        "Extra HTTP headers on every answer of the hub (pages and API), as JupyterHub's `tornado_settings.headers`. " +
        "A name given here replaces the hub's default for it; an empty value removes the header. Defaults: " +
        "`Content-Security-Policy: frame-ancestors 'self'` (no framing by other sites), `X-Content-Type-Options: nosniff`, " +
        '`Referrer-Policy: same-origin`.',
    }),
    api_page_default_limit: Type.Integer({ minimum: 1, default: 50, description: 'Page size of paginated API lists when `limit` is not given.' }),
    api_page_max_limit: Type.Integer({ minimum: 1, default: 200, description: 'Largest page size a client may ask for.' }),
    max_body_size: Type.Integer({ minimum: 1024, default: 1048576, description: 'Largest request body the API accepts, in bytes.' }),
    trusted_downstream_ips: Type.Array(Type.String({ minLength: 1 }), {
      default: ['127.0.0.1/8', '::1/128'],
      description:
        "Proxies whose `X-Forwarded-For/Proto/Host` headers the hub believes (IP addresses or CIDR ranges). Default: loopback, i.e. a proxy on the hub's machine, such as the one the hub starts. A proxy (or load balancer) on another host must be listed, else the hub sees it as the client. Requests from any other address are taken at face value: their `X-Forwarded-*` headers are ignored.",
    }),
    redirect_to_server: Type.Boolean({
      default: true,
      description: 'After login without a `next` page, send users whose default server runs to that server (else to the home page).',
    }),
    authenticate_prometheus: Type.Boolean({
      default: true,
      description:
        'Require the `read:metrics` scope to read `<base>hub/metrics` (JupyterHub\'s `authenticate_prometheus`). False: anyone may read them, through the public proxy too (JupyterHub\'s behaviour with this off).',
    }),
    logo_file: Type.String({
      default: '',
      description:
        "An image file (`.svg`, `.png`, `.jpg`, `.gif`, `.webp`, `.ico`) served as the logo at `<base>hub/logo`, which Jupyter's pages show (JupyterHub's `logo_file`). Read at start-up. Empty: Ganymede's own mark.",
    }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type SpawnerConfig = Config['spawner'];
export type AuthConfig = Config['auth'];

// The hooks' types live in hooks.ts (for config authors); re-exported here where the hub imports them.
export { HOOK_NAMES, type ConfigHooks } from './hooks.js';

export type { TSchema };
