import { parseArgs } from 'node:util';
import path from 'node:path';
import os from 'node:os';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../lib/log.js';
import { HubError } from '../lib/errors.js';
import { migrate, openDatabase, pendingMigrations } from '../db/database.js';
import { ensureUser } from '../db/repos/users.js';
import { createToken } from '../db/repos/tokens.js';
import { recordAudit, type AuditActor } from '../db/repos/audit.js';
import { createServiceToken, upsertService } from '../db/repos/services.js';
import { normalizeUsername, usernameProblem } from '../lib/names.js';
import { validateScopes } from '../rbac/scopes.js';

const USAGE = `Usage: ganymede [command] [options]

Commands:
  serve                 start the hub and, unless configured otherwise, its proxy (default)
  stop                  stop everything the hub started: its servers, its proxy, the hub
  reload                have the running hub read its configuration again (SIGHUP)
  proxy [flags]         run the proxy alone (configurable-http-proxy's flags; see 'ganymede proxy --help')
  cull [flags]          stop idle servers of any JupyterHub or Ganymede through its REST API
                        (jupyterhub-idle-culler's flags; see 'ganymede cull --help')
  db upgrade            bring the database schema up to date
  token NAME            print a new API token for user NAME (created if missing)
  password reset        make and print a new shared login password
  token --service NAME  print a new API token for service NAME (listed in services: in the config)
  config check          validate the configuration and exit
  config show           print the effective configuration (secrets hidden)
  config generate       print a commented configuration file with every option
  help [COMMAND]        show this help, or a command's
  version               print the version (also --version)

Common options:
  --config FILE         YAML or JS config file (also GANYMEDE_CONFIG)
  --ip IP               public address of the proxy (config: ip)
  --port N              public port of the proxy (config: port)
  --data-dir DIR        where the database, secrets and logs live (default ./.ganymede)
  -h, --help            show help (of a command: ganymede COMMAND --help)
  --version             print the version

token options:
  --scopes a,b          scopes of the token (default: inherit, all of the user's or service's permissions)
  --admin               make the user an admin (for people; give a service a role instead)
  --service NAME        make the token for a service, not a user (services cannot log in)
  --note TEXT           a note stored with the token

stop options:
  --keep-servers        leave the users' servers running
  --keep-proxy          leave the proxy running

In a clone of the repository, 'ganymede' is 'node bin/ganymede.js' (after 'npm run build'),
or 'npx ganymede'.
`;

const COMMON = {
  config: { type: 'string' },
  ip: { type: 'string' },
  port: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  scopes: { type: 'string' },
  admin: { type: 'boolean' },
  note: { type: 'string' },
  version: { type: 'boolean' },
  'keep-servers': { type: 'boolean' },
  'keep-proxy': { type: 'boolean' },
  service: { type: 'string' },
} as const;

type Values = {
  config?: string;
  ip?: string;
  port?: string;
  'data-dir'?: string;
  help?: boolean;
  scopes?: string;
  admin?: boolean;
  note?: string;
  version?: boolean;
  'keep-servers'?: boolean;
  'keep-proxy'?: boolean;
  service?: string;
};

async function config(values: Values) {
  const { file, overrides } = configSource(values);
  return loadConfig(file, overrides);
}

/** The config file and the command line's overrides of it (read again by a live reload). */
function configSource(values: Values): { file: string | undefined; overrides: Record<string, unknown> } {
  const overrides: Record<string, unknown> = {};
  if (values.ip !== undefined) overrides['ip'] = values.ip;
  if (values.port !== undefined) {
    if (!/^\d+$/.test(values.port)) throw new HubError(400, `--port: expected a port number, got ${JSON.stringify(values.port)}`);
    overrides['port'] = Number(values.port);
  }
  if (values['data-dir'] !== undefined) overrides['data_dir'] = values['data-dir'];
  return { file: values.config ?? process.env['GANYMEDE_CONFIG'], overrides };
}

function fail(message: string): never {
  process.stderr.write(`ganymede: ${message}\n`);
  process.exit(2);
}

/** The `ganymede` command line. */
export async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === 'proxy') {
    // each command loads only the code it needs (start-up time and memory)
    const { runProxyCli, PROXY_USAGE } = await import('../proxy/builtin/cli.js');
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(PROXY_USAGE);
      return;
    }
    await runProxyCli(rest);
    return;
  }
  if (first === 'cull') {
    const { runCullCli } = await import('./cull.js');
    try {
      await runCullCli(rest);
    } catch (err) {
      if (err instanceof HubError) fail(err.message);
      throw err;
    }
    return;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: COMMON, allowPositionals: true, strict: true });
  } catch (err) {
    fail(`${(err as Error).message}\n\n${USAGE}`);
  }
  const values = parsed.values as Values;
  const positionals = parsed.positionals;
  const command = positionals[0] ?? 'serve';
  if (values.version || command === 'version') {
    process.stdout.write(await versionText());
    return;
  }
  if (values.help || command === 'help') {
    const topic = command === 'help' ? positionals[1] : positionals[0];
    return help(topic);
  }
  try {
    switch (command) {
      case 'serve':
        return await serve(values);
      case 'stop':
        return await stopCommand(values);
      case 'reload':
        return await reloadCommand(values);
      case 'password':
        if (positionals[1] !== 'reset') fail(`unknown password command ${JSON.stringify(positionals[1] ?? '')}; expected 'password reset'`);
        return await passwordReset(values);
      case 'db':
        if (positionals[1] !== 'upgrade') fail(`unknown db command ${JSON.stringify(positionals[1] ?? '')}; expected 'db upgrade'`);
        return await dbUpgrade(values);
      case 'token':
        return await token(values, positionals[1]);
      case 'config':
        return await configCommand(values, positionals[1]);
      default:
        fail(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    }
  } catch (err) {
    if (err instanceof HubError) fail(err.message);
    throw err;
  }
}

/** `ganymede --version`: Ganymede's version and the JupyterHub API version it implements. */
async function versionText(): Promise<string> {
  const { GANYMEDE_VERSION, JUPYTERHUB_API_VERSION } = await import('../api/hub.js');
  return `ganymede ${GANYMEDE_VERSION} (JupyterHub REST API ${JUPYTERHUB_API_VERSION}, Node.js ${process.version})\n`;
}

/** `ganymede help [COMMAND]`, `ganymede [COMMAND] --help`. */
async function help(topic: string | undefined): Promise<void> {
  if (topic === undefined || topic === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (topic === 'proxy') {
    process.stdout.write((await import('../proxy/builtin/cli.js')).PROXY_USAGE);
    return;
  }
  if (topic === 'cull') {
    process.stdout.write((await import('./cull.js')).CULL_USAGE);
    return;
  }
  const { COMMAND_HELP } = await import('./help.js');
  const text = COMMAND_HELP[topic];
  if (text === undefined) fail(`no help for ${JSON.stringify(topic)}: not a command\n\n${USAGE}`);
  process.stdout.write(text);
}

async function serve(values: Values): Promise<void> {
  const source = configSource(values);
  // SIGHUP reloads the configuration (src/hub/reload.ts); one during start-up is done once the hub runs
  const hup: { reload?: (trigger: string) => void; duringStart: boolean } = { duringStart: false };
  process.on('SIGHUP', () => (hup.reload ? hup.reload('SIGHUP') : (hup.duringStart = true)));
  const { config: cfg, hooks } = await loadConfig(source.file, source.overrides);
  const log = createLogger(cfg.log_level, { format: cfg.log_format });
  const { startHub } = await import('../hub/lifecycle.js');
  const { writeHubPid } = await import('../hub/shutdown.js');
  const running = await startHub(cfg, hooks, log, source);
  writeHubPid(running.hub.dataDir);
  hup.reload = (trigger) => void running.hub.configReload?.reload(trigger, { force: true });
  if (hup.duringStart) hup.reload('SIGHUP (during start-up)');
  const publicUrl = `http://${cfg.ip === '' ? '0.0.0.0' : cfg.ip}:${cfg.port}${cfg.base_url}`;
  process.stderr.write(`\nGanymede is running at ${publicUrl} (hub at ${running.address}).\n`);
  process.stderr.write(`Ctrl-C stops the hub only; the proxy and servers keep running. 'ganymede stop' stops everything.\n`);
  if (running.notice) process.stderr.write(`${running.notice}\n`);
  else if (cfg.auth.kind === 'shared-password' && cfg.auth.shared_password === undefined && !process.env['GANYMEDE_SHARED_PASSWORD']) {
    process.stderr.write(`Log in with the shared password generated at first start (lost it? 'ganymede password reset' makes a new one).\n`);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    delete hup.reload; // no reload while the hub stops
    log.info({ signal }, 'stopping the hub; the proxy and servers keep running unless a shutdown asked otherwise');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await running.stop();
    process.exit(0);
  };
  running.hub.exit = () => void stop('POST /hub/api/shutdown');
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

async function dbUpgrade(values: Values): Promise<void> {
  const { config: cfg } = await config(values);
  const database = await openDatabase(cfg.db.url, path.resolve(cfg.data_dir));
  try {
    const pending = await pendingMigrations(database).catch(() => ['(all)']);
    if (pending.length) process.stderr.write(`applying ${pending.length} migration(s): ${pending.join(', ')}\n`);
    const applied = await migrate(database);
    process.stdout.write(applied.length ? `database upgraded: ${applied.join(', ')}\n` : 'database is up to date\n');
  } finally {
    await database.close();
  }
}

async function token(values: Values, name: string | undefined): Promise<void> {
  if (values.service !== undefined) return serviceToken(values, values.service, name);
  if (!name) fail('token: give the user name: ganymede token NAME (or a service: ganymede token --service NAME)');
  const username = normalizeUsername(name);
  const problem = usernameProblem(username);
  if (problem) fail(`token: ${problem}`);
  const scopes = values.scopes ? values.scopes.split(',').map((s) => s.trim()).filter(Boolean) : ['inherit'];
  const bad = validateScopes(scopes);
  if (bad) fail(`token: ${bad}`);
  const { config: cfg } = await config(values);
  const database = await openDatabase(cfg.db.url, path.resolve(cfg.data_dir));
  try {
    await migrate(database);
    const user = await ensureUser(database.db, username, values.admin === true);
    const note = values.note ?? 'Generated by ganymede token';
    const { token: t, row } = await createToken(database.db, user.id, { kind: 'api', scopes, note });
    await recordAudit(database.db, { actor: cliActor(), action: 'token.create', target: user.name, detail: { id: `a${row.id}`, note, scopes, via: 'cli' } });
    process.stdout.write(`${t}\n`);
  } finally {
    await database.close();
  }
}

/** The audit actor of a command-line action: the operating-system user running `ganymede`. */
function cliActor(): AuditActor {
  let name = 'unknown';
  try {
    name = os.userInfo().username;
  } catch {
    // no passwd entry for the uid (containers): keep 'unknown'
  }
  return { kind: 'cli', name };
}

async function stopCommand(values: Values): Promise<void> {
  const { config: cfg } = await config(values);
  const log = createLogger('warn', { format: cfg.log_format, destination: process.stderr });
  const { stopEverythingOffline } = await import('./stop.js');
  const said = await stopEverythingOffline(cfg, { servers: values['keep-servers'] !== true, proxy: values['keep-proxy'] !== true }, log);
  process.stdout.write(`${said.join('\n')}\n`);
}

/** `ganymede reload`: SIGHUP to the hub whose pid file is in the data dir (src/hub/reload.ts does the rest). */
async function reloadCommand(values: Values): Promise<void> {
  const { config: cfg } = await config(values);
  const { hubPidFile, processMatches, readPid } = await import('../hub/shutdown.js');
  const pid = readPid(hubPidFile(path.resolve(cfg.data_dir)));
  if (pid === undefined || !processMatches(pid, 'ganymede')) fail(`reload: no hub runs on the data dir ${path.resolve(cfg.data_dir)} (no live pid in hub.pid)`);
  process.kill(pid, 'SIGHUP');
  process.stdout.write(`asked the hub (pid ${pid}) to reload its configuration; its log says what applied, what needs a restart, or why the file was refused\n`);
}

async function passwordReset(values: Values): Promise<void> {
  const { config: cfg } = await config(values);
  if (cfg.auth.kind !== 'shared-password') fail(`password reset: only for the shared-password login; auth.kind is ${JSON.stringify(cfg.auth.kind)}`);
  if (cfg.auth.shared_password !== undefined || process.env['GANYMEDE_SHARED_PASSWORD']) {
    fail('password reset: the password is set by auth.shared_password or GANYMEDE_SHARED_PASSWORD; change it there');
  }
  const { resetSharedPassword, sharedPasswordNotice } = await import('../auth/shared-password-reset.js');
  const database = await openDatabase(cfg.db.url, path.resolve(cfg.data_dir));
  try {
    await migrate(database);
    const password = await resetSharedPassword(database.db);
    process.stdout.write(`${sharedPasswordNotice(password, 'New shared login password (restart the hub to use it):')}\n`);
  } finally {
    await database.close();
  }
}

/** `ganymede token --service NAME`: a token for a service from the config (never a user). */
async function serviceToken(values: Values, name: string, extra: string | undefined): Promise<void> {
  if (extra !== undefined) fail(`token: give either a user name or --service, not both (got ${JSON.stringify(extra)} and --service ${JSON.stringify(name)})`);
  if (values.admin) fail('token: --admin is for users; give the service a role in the config (roles: [{name, scopes, services: [NAME]}])');
  const scopes = values.scopes ? values.scopes.split(',').map((s) => s.trim()).filter(Boolean) : ['inherit'];
  const bad = validateScopes(scopes);
  if (bad) fail(`token: ${bad}`);
  const { config: cfg } = await config(values);
  const spec = cfg.services.find((s) => s.name === name);
  if (!spec) fail(`token: no service named ${JSON.stringify(name)} in the configuration's services: add {name: ${name}} there first`);
  const database = await openDatabase(cfg.db.url, path.resolve(cfg.data_dir));
  try {
    await migrate(database);
    const service = await upsertService(database.db, { name, admin: spec.admin, url: spec.url ?? null, display: spec.display, oauthNoConfirm: spec.oauth_no_confirm, info: spec.info });
    const note = values.note ?? 'Generated by ganymede token --service';
    const { token: t } = await createServiceToken(database.db, service.id, { kind: 'api', scopes, note });
    await recordAudit(database.db, { actor: cliActor(), action: 'token.create', target: `service:${name}`, detail: { note, scopes, via: 'cli' } });
    process.stdout.write(`${t}\n`);
  } finally {
    await database.close();
  }
}

async function configCommand(values: Values, sub: string | undefined): Promise<void> {
  switch (sub) {
    case 'generate':
      process.stdout.write((await import('../config/template.js')).configTemplate());
      return;
    case 'check': {
      const { config: cfg, source } = await config(values);
      // what `serve` refuses when it builds the authenticator, short of the network
      const { checkAuthConfig } = await import('../auth/check-auth-config.js');
      const pino = (await import('pino')).default;
      checkAuthConfig(cfg, pino({ level: 'silent' }));
      // services: names once, token files readable and long enough, urls, inline scopes
      const { checkServices } = await import('../hub/services-loader.js');
      const { checkServiceRoles } = await import('../services/service-roles.js');
      checkServices(cfg.services, pino({ level: 'silent' }));
      checkServiceRoles(cfg.services);
      process.stdout.write(`configuration OK${source ? ` (${source})` : ' (defaults)'}\n`);
      return;
    }
    case 'show': {
      const { config: cfg } = await config(values);
      // every secret (passwords, tokens, client secrets, at any depth, e.g. services[].api_token) masked
      const { isSecretKey } = await import('../lib/log-sanitize.js');
      const shown = JSON.parse(JSON.stringify(cfg, (key, value: unknown) => (key && isSecretKey(key) && typeof value === 'string' && value ? '***' : value))) as Record<
        string,
        Record<string, unknown>
      >;
      if (typeof shown['db']?.['url'] === 'string') shown['db']['url'] = (shown['db']['url'] as string).replace(/:[^:@/]*@/, ':***@');
      process.stdout.write((await import('yaml')).default.stringify(shown));
      return;
    }
    default:
      fail(`unknown config command ${JSON.stringify(sub ?? '')}; expected check, show or generate`);
  }
}
