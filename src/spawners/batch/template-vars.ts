/**
 * The variables a batch script template sees (pure). The names follow
 * batchspawner's, so a site's existing scripts work unchanged.
 */
import { HubError } from '../../lib/errors.js';
import { quoteName } from '../../lib/quote-name.js';
import { USER_REQ_OPTIONS } from './batch-config.js';
import { MULTI_WORD_OPTION } from './batch-options.js';
import { renderTemplate, TemplateError } from './script-template.js';
import { shellQuote } from './shell-quote.js';

/** Every `req_*` option, by its short name (`partition` is `req_partition`). */
export const REQ_NAMES = [
  'partition',
  'account',
  'qos',
  'runtime',
  'nprocs',
  'memory',
  'ngpus',
  'gres',
  'reservation',
  'options',
  'srun',
  'prologue',
  'epilogue',
  'homedir',
  'keepvars_extra',
] as const;

/** A `req_*` option's short name. */
export type ReqName = (typeof REQ_NAMES)[number];

/** The home used when `req_homedir` is not given. */
export const DEFAULT_HOMEDIR = '/home/{{username}}';

/** What {@link batchTemplateVars} builds the variables from. */
export interface BatchTemplateInput {
  /** The configured `req_*` values by short name; a missing one is `''` (`homedir`: {@link DEFAULT_HOMEDIR}). */
  req: Partial<Record<ReqName, string | number>>;
  /** The system account the job runs as (already rendered from `system_user_name` and checked). */
  username: string;
  /** The hub user's name. */
  hubUsername: string;
  /** The server's name (`''` for the default server). */
  serverName: string;
  /** The job's environment: only its names are used (for `keepvars`); the values travel as exports in the script. */
  env: Record<string, string>;
  /** The command the job runs, one argument per item (launcher, then the single-user server and its arguments). */
  cmd: readonly string[];
  /** The spawn's user_options, already checked against the back-end's declared names. */
  userOptions: Record<string, unknown>;
  /** The user's auth state (BriCS: projects and their unix users); absent is `{}`. */
  authState?: Record<string, unknown> | null;
  /** The names of the back-end's form fields: these user options are also variables of their own name. */
  formFields?: readonly string[];
}

/**
 * The variables of a batch script (and of `req_homedir`):
 *
 * | variable | value |
 * |---|---|
 * | `partition`, `account`, `qos`, `runtime`, `nprocs`, `memory`, `ngpus`, `gres`, `reservation`, `options` | the `req_*` value, replaced by the user option of the same name when it is given |
 * | `srun`, `prologue`, `epilogue` | the `req_*` value (shell code: the operator's alone, never a user option) |
 * | `homedir` | `req_homedir` rendered as a template with the other variables (not `keepvars`, `cmd`); it must be an absolute path without spaces or control characters |
 * | `keepvars` | the names of `env`, then those of `req_keepvars_extra` (comma-separated), comma-joined, without repeats |
 * | `cmd` | `cmd`, each argument shell-quoted, joined by spaces |
 * | `username` | the system account; `hub_username` the hub user; `server_name` the server's name |
 * | `user_options`, `auth_state` | the objects themselves (`{{ auth_state[user_options.project].username }}`) |
 * | each form field | the user option of that name, unless the name is one of the variables above (which a user never replaces) |
 *
 * A user option's value put into a variable must be a string without
 * control characters (it may land in an `#SBATCH` line, where a line break
 * would add directives) or a finite number. It must hold no white space
 * either, except `options` (extra `#SBATCH` options by definition): sbatch
 * reads every word of a directive line as an option, so
 * `#SBATCH --partition=debug --hold` would hold the job (and `--gpus=8`
 * would pass a form's GPU limit). `user_options` keeps the raw values.
 *
 * @throws HubError(400) naming a user option whose value is not such a
 *   string or number; TemplateError when `req_homedir` does not render or
 *   gives no usable path.
 */
export function batchTemplateVars(input: BatchTemplateInput): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  const fixed = new Set<string>([...REQ_NAMES, 'keepvars', 'cmd', 'username', 'hub_username', 'server_name', 'user_options', 'auth_state']);
  for (const field of input.formFields ?? []) {
    if (!fixed.has(field) && Object.hasOwn(input.userOptions, field)) {
      const value = userValue(field, input.userOptions[field]);
      if (value !== undefined) vars[field] = value;
    }
  }
  for (const name of REQ_NAMES) {
    if (name !== 'homedir' && name !== 'keepvars_extra') vars[name] = input.req[name] ?? '';
  }
  for (const name of USER_REQ_OPTIONS) {
    if (!Object.hasOwn(input.userOptions, name)) continue;
    const value = userValue(name, input.userOptions[name]);
    if (value !== undefined) vars[name] = value;
  }
  vars['username'] = input.username;
  vars['hub_username'] = input.hubUsername;
  vars['server_name'] = input.serverName;
  vars['user_options'] = input.userOptions;
  vars['auth_state'] = input.authState ?? {};
  vars['homedir'] = homedirOf(String(input.req.homedir ?? DEFAULT_HOMEDIR), vars);
  vars['keepvars'] = keepvarsOf(Object.keys(input.env), String(input.req.keepvars_extra ?? ''));
  vars['cmd'] = input.cmd.map(shellQuote).join(' ');
  return vars;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** A user option's value as a variable: a string without control characters or a finite number; undefined for null/undefined. */
function userValue(name: string, value: unknown): string | number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    if (CONTROL.test(value)) throw new HubError(400, `Option ${quoteName(name)} holds a line break or another control character`);
    if (name !== MULTI_WORD_OPTION && /\s/.test(value)) {
      throw new HubError(400, `Option ${quoteName(name)} holds a space: its value goes into the batch script as one word (an #SBATCH line would read the rest as more options)`);
    }
    return value;
  }
  throw new HubError(400, `Option ${quoteName(name)} must be a string or a finite number`);
}

function homedirOf(template: string, vars: Record<string, unknown>): string {
  const home = renderTemplate(template, vars, 'req_homedir').trim();
  if (!home.startsWith('/') || /\s/.test(home) || CONTROL.test(home)) {
    throw new TemplateError('req_homedir', `it gave ${quoteName(home)}, which is not an absolute path without spaces`);
  }
  return home;
}

function keepvarsOf(envNames: string[], extra: string): string {
  const names = [...envNames, ...extra.split(',').map((s) => s.trim())].filter((s) => s !== '');
  return [...new Set(names)].join(',');
}

/** The variables holding hub names, which may hold spaces and shell characters (the hub allows them in names). */
const HUB_NAME_VARS = ['hub_username', 'server_name'] as const;

/**
 * Refuses a hub user or server name holding white space when `template`
 * (a batch script) uses it: such a name in an `#SBATCH` line would add
 * options (`--job-name=jupyter-{{ server_name }}` with the server `x --hold`).
 * Names without white space pass, and so does any name the template never
 * mentions (the default script mentions neither).
 *
 * @throws HubError(400) naming the variable and the value.
 */
export function checkHubNamesFor(template: string, vars: Record<string, unknown>): void {
  for (const name of HUB_NAME_VARS) {
    const value = vars[name];
    if (typeof value !== 'string' || !/\s/.test(value) || !new RegExp(`\\b${name}\\b`).test(template)) continue;
    const what = name === 'server_name' ? 'server name' : 'user name';
    throw new HubError(400, `The ${what} ${quoteName(value)} holds a space, and this back-end's batch script uses ${name}, where a space would add options to an #SBATCH line: pick a ${what} without spaces`);
  }
}
