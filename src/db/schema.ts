import type { Generated } from 'kysely';

/**
 * Table types for Kysely. Timestamps are ISO-8601 strings (UTC, with `Z`),
 * booleans are 0/1 integers and JSON is text, so one schema serves SQLite and
 * PostgreSQL alike.
 */
export interface UsersTable {
  id: Generated<number>;
  name: string;
  admin: number;
  created: string;
  last_activity: string | null;
  /** AES-256-GCM ciphertext (src/lib/crypto.ts), or null. */
  auth_state: string | null;
  /** When the authenticator last confirmed the user's credentials (login or refresh), ISO time; null: never. */
  last_refresh: string | null;
}

export interface GroupsTable {
  id: Generated<number>;
  name: string;
  /** JSON object */
  properties: string;
}

export interface UserGroupsTable {
  user_id: number;
  group_id: number;
}

export interface UserRolesTable {
  user_id: number;
  role: string;
}

export interface GroupRolesTable {
  group_id: number;
  role: string;
}

export interface RolesTable {
  name: string;
  description: string;
  /** JSON array of scopes */
  scopes: string;
}

export type PendingAction = 'spawn' | 'stop';

/** Where a server's last activity was learnt (migration 0008). */
export type ActivitySource = 'server' | 'proxy' | 'start';

export interface ServersTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  /** Versioned spawner state, JSON `{v: N, ...}`, or '{}' */
  state: string;
  /** Where the hub and proxy reach the server (e.g. http://127.0.0.1:41234), or null when not started. */
  url: string | null;
  /** The back-end that owns `state`: a key of `spawners:` (`default` for the single `spawner:`). Poll, stop and re-attach use it. */
  spawner: string;
  started: string | null;
  last_activity: string | null;
  /** Where `last_activity` came from: 'server' (its report), 'proxy' (its route's traffic), 'start', or null (unknown). */
  last_activity_source: ActivitySource | null;
  /** JSON object */
  user_options: string;
  pending: PendingAction | null;
  ready: number;
  /** Which hub process (pid@host) runs the pending action; lets a restarted hub clear stale flags. */
  owner: string | null;
  /** The port the starting server reported (`POST /hub/api/batchspawner`); null until then. Cleared when a spawn is claimed. */
  reported_port: number | null;
}

export interface ApiTokensTable {
  id: Generated<number>;
  /** The first characters of the token, for lookup. */
  prefix: string;
  /** sha256 hex of the token */
  hashed: string;
  user_id: number;
  /** 'api' (user-created), 'server' (a server's JUPYTERHUB_API_TOKEN), 'oauth' (issued by /oauth2/token) */
  kind: string;
  /** JSON array of scopes */
  scopes: string;
  note: string;
  created: string;
  expires_at: string | null;
  last_activity: string | null;
  session_id: string | null;
  client_id: string | null;
  /** For kind 'server': the server's name. */
  server_name: string | null;
}

export interface OAuthClientsTable {
  identifier: string;
  /** sha256 hex of the client secret */
  secret_hash: string;
  redirect_uri: string;
  description: string;
  /** JSON array */
  allowed_scopes: string;
  user_id: number | null;
  server_name: string | null;
}

export interface OAuthCodesTable {
  id: Generated<number>;
  code_hash: string;
  client_id: string;
  user_id: number;
  redirect_uri: string;
  scopes: string;
  session_id: string | null;
  expires_at: string;
  /** PKCE (RFC 7636): the challenge of the authorization request, if it had one. */
  code_challenge: string | null;
  /** `S256` or `plain`, with `code_challenge`. */
  code_challenge_method: string | null;
}

export interface SessionsTable {
  id: string;
  user_id: number;
  created: string;
  expires_at: string;
  /** The login form's XSRF token is bound to the session. */
  xsrf: string;
}

export interface HubSettingsTable {
  key: string;
  value: string;
}

/** A service from config (`services:`): an API client that is not a user. */
export interface ServicesTable {
  id: Generated<number>;
  name: string;
  /** Deprecated `admin: true` in config: the service has the admin role. */
  admin: number;
  /** Where the service runs (informational; the hub does not proxy it yet). */
  url: string | null;
  display: number;
  oauth_no_confirm: number;
  /** JSON object */
  info: string;
  created: string;
  last_activity: string | null;
}

export interface ServiceRolesTable {
  service_id: number;
  role: string;
}

export interface ServiceTokensTable {
  id: Generated<number>;
  prefix: string;
  /** sha256 hex of the token */
  hashed: string;
  service_id: number;
  /** 'config' (the service's `api_token`/`api_token_file`, replaced when it changes), 'api' (`ganymede token --service`) or 'managed' (generated for a managed service without `api_token`) */
  kind: string;
  /** JSON array of scopes */
  scopes: string;
  note: string;
  created: string;
  expires_at: string | null;
  last_activity: string | null;
}

/** A spawn waiting for a slot under `concurrent_spawn_limit` (FIFO by `id`; deleted when admitted). */
export interface SpawnQueueTable {
  id: Generated<number>;
  server_id: number;
  /** The hub process (`processId`) that runs the spawn once admitted. */
  owner: string;
  /** When the spawn joined the queue, ISO time. */
  enqueued: string;
  /** When the owning process last re-checked the queue, ISO time: an entry not seen for long belongs to a dead process. */
  seen: string;
}

export interface DB {
  users: UsersTable;
  groups: GroupsTable;
  user_groups: UserGroupsTable;
  user_roles: UserRolesTable;
  group_roles: GroupRolesTable;
  roles: RolesTable;
  servers: ServersTable;
  api_tokens: ApiTokensTable;
  oauth_clients: OAuthClientsTable;
  oauth_codes: OAuthCodesTable;
  sessions: SessionsTable;
  hub_settings: HubSettingsTable;
  services: ServicesTable;
  service_roles: ServiceRolesTable;
  service_tokens: ServiceTokensTable;
  audit_log: AuditLogTable;
  spawn_queue: SpawnQueueTable;
}

/** One audit entry (migration 0006, `src/db/repos/audit.ts`): who did what, when. Never holds a token value. */
export interface AuditLogTable {
  id: Generated<number>;
  /** ISO time of the action */
  at: string;
  /** `user`, `service` or `cli` */
  actor_kind: string;
  /** the user's or service's name (`cli`: the OS user running `ganymede`) */
  actor: string;
  /** e.g. `user.create`, `server.start`, `token.create` (docs/operations.md lists them) */
  action: string;
  /** what it acted on: a user name, `user/server`, a group name */
  target: string;
  /** JSON object with details of the action */
  detail: string;
}
