import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from '../lib/log.js';
import { HubError } from '../lib/errors.js';
import { cullOnce, type CullOptions } from '../services/culler/culler.js';

/** `ganymede cull --help`. */
export const CULL_USAGE = `Usage: ganymede cull [--url URL] [--token-file FILE] [--timeout S] [--every S] [options]

Stops idle single-user servers of a hub through its REST API only, so it works
against any JupyterHub (3.0 and later) as against Ganymede; the options are
jupyterhub-idle-culler's. A Ganymede hub can run the same culler itself
(cull.enabled in its config): this command is for other hubs, or for running it
apart. It runs until stopped (Ctrl-C, SIGTERM), one round every --every seconds.

  --url URL                  the hub's API (default: JUPYTERHUB_API_URL, else http://127.0.0.1:8081/hub/api)
  --token-file FILE          a file holding the API token (default: JUPYTERHUB_API_TOKEN)
  --timeout S                stop servers idle this many seconds (default 600)
  --every S, --cull-every S  seconds between rounds (default: half the timeout, at most 300)
  --max-age S                stop servers older than this, active or not; 0: never (default 0)
  --cull-users               also delete users idle --timeout seconds with no server running
  --remove-named-servers     delete culled named servers instead of only stopping them
  --cull-admin-users=BOOL    cull admins' servers (and users) too (default true; false exempts admins)
  --concurrency N            most requests in flight (default 10)
  --once                     one round, print what it did as JSON, exit (1 if a request failed)
  --log-level LEVEL          trace, debug, info (default), warn, error

The token needs the scopes list:users, read:users:activity, read:servers,
delete:servers, and with --cull-users delete:users (or admin:users). In
JupyterHub: a service with a role holding them (its api_token in a file).
`;

const OPTIONS = {
  url: { type: 'string' },
  'token-file': { type: 'string' },
  timeout: { type: 'string' },
  every: { type: 'string' },
  'cull-every': { type: 'string' },
  'max-age': { type: 'string' },
  'cull-users': { type: 'boolean' },
  'remove-named-servers': { type: 'boolean' },
  'cull-admin-users': { type: 'string' },
  concurrency: { type: 'string' },
  once: { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function seconds(flag: string, value: string | undefined, def: number, min = 0): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n < min) throw new HubError(400, `--${flag}: expected a number of seconds${min ? ` of at least ${min}` : ''}, got ${JSON.stringify(value)}`);
  return n;
}

function bool(flag: string, value: string | undefined, def: boolean): boolean {
  if (value === undefined) return def;
  const v = value.toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  throw new HubError(400, `--${flag}: expected true or false, got ${JSON.stringify(value)}`);
}

/** The token: the file's first line (trimmed), else JUPYTERHUB_API_TOKEN. */
function readToken(file: string | undefined): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new HubError(400, `--token-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const token = text.split('\n')[0]!.trim();
    if (!token) throw new HubError(400, `--token-file: ${file} is empty`);
    return token;
  }
  const env = process.env['JUPYTERHUB_API_TOKEN'];
  if (!env) throw new HubError(400, 'no token: give --token-file FILE or set JUPYTERHUB_API_TOKEN');
  return env;
}

/** `ganymede cull ...`: parses its own flags (jupyterhub-idle-culler's), then culls until stopped. */
export async function runCullCli(argv: string[]): Promise<void> {
  let values;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new HubError(400, `${(err as Error).message}\n\n${CULL_USAGE}`);
  }
  if (values.help) {
    process.stdout.write(CULL_USAGE);
    return;
  }
  const timeout = seconds('timeout', values.timeout, 600, 1);
  const every = seconds('every', values.every ?? values['cull-every'], Math.min(300, Math.max(1, timeout / 2)), 1);
  const opts: CullOptions = {
    timeout,
    max_age: seconds('max-age', values['max-age'], 0),
    users: values['cull-users'] === true,
    remove_named_servers: values['remove-named-servers'] === true,
    admin_users: bool('cull-admin-users', values['cull-admin-users'], true),
    concurrency: seconds('concurrency', values.concurrency, 10, 1),
  };
  if (!Number.isInteger(opts.concurrency)) throw new HubError(400, `--concurrency: expected a whole number, got ${values.concurrency}`);
  const url = values.url ?? process.env['JUPYTERHUB_API_URL'] ?? 'http://127.0.0.1:8081/hub/api';
  try {
    new URL(url);
  } catch {
    throw new HubError(400, `--url: not a URL: ${JSON.stringify(url)}`);
  }
  const token = readToken(values['token-file']);
  const log = createLogger(values['log-level'] ?? 'info', { destination: process.stderr });
  const client = { apiUrl: url, token, log };
  if (values.once) {
    const report = await cullOnce(client, opts);
    process.stdout.write(`${JSON.stringify(report)}\n`);
    if (report.errors) process.exitCode = 1;
    return;
  }
  log.info({ url, ...opts, every }, 'culling idle servers');
  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopped = true;
    wake?.();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  while (!stopped) {
    try {
      const r = await cullOnce(client, opts);
      log.info({ users: r.users, stopped: r.stopped.length, deleted: r.deleted.length, errors: r.errors }, 'culling round done');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'culling round failed; will retry');
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, every * 1000).unref();
    });
  }
}
