/**
 * Which configuration options a live reload (src/hub/reload.ts) applies and
 * which need a restart: the one table the reload, its tests and the docs
 * (`npm run docs:gen` writes it into docs/operations.md, "Live
 * configuration") all come from. Every top-level option of the schema has an
 * entry (a test checks it); a dotted entry (`auth.allowed_groups`) overrides
 * its section's for that key.
 *
 * Live options are read from `hub.config` when they are used, so replacing
 * `hub.config` applies them; a few need an action too (roles, services,
 * admin users, the log level), done by the reload. A restart-only option
 * keeps its running value after a reload, which logs that it needs a restart.
 */

/** `live`: applied by a reload; `restart`: the running value is kept until the hub restarts. */
export type ReloadApply = 'live' | 'restart';

export interface ReloadRule {
  apply: ReloadApply;
  /** When a live option takes effect, or why a restart is needed (docs). */
  note: string;
}

const live = (note: string): ReloadRule => ({ apply: 'live', note });
const restart = (note: string): ReloadRule => ({ apply: 'restart', note });

const NEXT_SPAWN = 'servers started from then on (running servers keep theirs)';
const NEXT_LOGIN = 'at the next login or credential refresh (`auth.auth_refresh_age`)';

/** Every option, by dotted key. Keep in the schema's order. */
export const RELOAD_TABLE: Readonly<Record<string, ReloadRule>> = {
  ip: restart('the proxy binds it when it starts (the proxy outlives the hub: restart it too)'),
  port: restart('the proxy binds it when it starts (the proxy outlives the hub: restart it too)'),
  base_url: restart('routes, cookies and server URLs are built on it at start'),
  data_dir: restart('the database, secrets and pid files are opened there at start'),
  log_level: live('at once, for every log line (request and back-end loggers included)'),
  log_format: restart('the log stream is built at start'),
  hub: restart('the hub binds its address at start'),
  db: restart('the store is opened at start'),
  proxy: restart('the proxy client (and the proxy the hub starts) are set up at start'),
  auth: restart('the authenticator (`kind` and its own options, `login_rate_limit`, `enable_auth_state`) is built at start'),
  'auth.allowed_groups': live(NEXT_LOGIN),
  'auth.admin_groups': live(NEXT_LOGIN),
  'auth.manage_groups': live(NEXT_LOGIN),
  'auth.auth_refresh_age': live('at the next request of each session'),
  'auth.refresh_pre_spawn': live('at the next spawn'),
  'auth.logout_redirect_url': live('at the next logout'),
  roles: live('written to the database at once, as at start (a role removed from the file keeps its assignments, as at start)'),
  services: live('written to the database at once, as at start: added, changed, removed with their tokens and routes; a managed service whose entry changed is restarted, others keep running'),
  cull: live('at the culler\'s next round'),
  last_activity_interval: live('after the current wait for the proxy\'s route activity'),
  authenticate_prometheus: live('at the next scrape of /hub/metrics'),
  admin_access: live('at the next opening of a server (the OAuth step) and the next admin page'),
  allowed_users: live(NEXT_LOGIN),
  admin_users: live('listed users are made admin at once, as at start (a name removed is not demoted, as at start)'),
  blocked_users: live(`${NEXT_LOGIN}; a blocked user's running server is left alone`),
  spawner: restart('the back-end is built at start; running servers keep the back-end that started them'),
  spawners: restart('the back-ends are built at start; running servers keep the back-end that started them'),
  environment: live(NEXT_SPAWN),
  start_timeout: live(NEXT_SPAWN),
  http_timeout: live(NEXT_SPAWN),
  poll_interval: restart('the poll loop takes its period when it starts'),
  slow_spawn_timeout: live('at the next start request'),
  allow_named_servers: live('at the next request'),
  named_server_limit_per_user: live('at the next new named server'),
  concurrent_spawn_limit: live('at the next spawn'),
  active_server_limit: live('at the next spawn'),
  spawn_queue: live('at the next spawn; spawns already queued keep the wait bound they started with'),
  server_limit_per_user: live('at the next spawn'),
  server_limit_per_group: live('at the next spawn'),
  cookie_max_age_days: live('logins and OAuth tokens from then on'),
  headers: live('at the next answer'),
  api_page_default_limit: live('at the next request'),
  api_page_max_limit: live('at the next request'),
  max_body_size: restart('the HTTP server takes its body limit at start'),
  trusted_downstream_ips: restart('the HTTP server takes its trusted proxies at start'),
  redirect_to_server: live('at the next login'),
  logo_file: restart('the logo is read once, at start'),
};

/**
 * The rule for a changed dotted key: its own entry, else its closest
 * section's (`auth.client_id` → `auth`). An option missing from the table
 * (a bug the tests catch) is restart-only, the safe side.
 */
export function reloadRule(key: string): ReloadRule & { entry: string | undefined } {
  for (let k = key; ; k = k.slice(0, k.lastIndexOf('.'))) {
    const rule = RELOAD_TABLE[k];
    if (rule) return { ...rule, entry: k };
    if (!k.includes('.')) return { ...restart('not classified: kept until a restart'), entry: undefined };
  }
}

/** Whether entries below `key` (`auth.…`) are classified apart from it: then a diff descends into it. */
export function hasNestedRules(key: string): boolean {
  return Object.keys(RELOAD_TABLE).some((k) => k.startsWith(`${key}.`));
}

/** The table as Markdown, for docs/operations.md (`npm run docs:gen`). */
export function reloadTableMarkdown(): string {
  const rows = Object.entries(RELOAD_TABLE).map(([key, r]) => `| \`${key}\` | ${r.apply === 'live' ? 'live' : '**restart**'} | ${r.note} |`);
  return ['| Option | Applies | When, or why a restart |', '| --- | --- | --- |', ...rows, ''].join('\n');
}

const BEGIN = '<!-- live-config-table: generated from src/hub/reload-table.ts by `npm run docs:gen`; do not edit -->';
const END = '<!-- /live-config-table -->';

/** The generated block of docs/operations.md: the table between its markers. */
export function liveConfigSection(): string {
  return `${BEGIN}\n${reloadTableMarkdown()}${END}`;
}

/** `doc` with its generated block replaced by the current one (unchanged when it has none). */
export function withLiveConfigSection(doc: string): string {
  const from = doc.indexOf(BEGIN);
  const to = doc.indexOf(END);
  if (from < 0 || to < from) return doc;
  return doc.slice(0, from) + liveConfigSection() + doc.slice(to + END.length);
}
