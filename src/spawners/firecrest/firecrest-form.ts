/**
 * The spawn form of a FirecREST system (`kind: firecrest`, options `form:`
 * and `req_*` in firecrest-config.ts): shown with the user's accounts and
 * the system's partitions from FirecREST, read from the posted form, and
 * checked on every start path (form and REST API) against the same rules.
 * The spawner binds {@link FirecrestFormSources} to the user's token; this
 * module makes no FirecREST call of its own.
 */
import { ConfigError, HubError } from '../../lib/errors.js';
import { quoteName } from '../../lib/quote-name.js';
import type { FirecrestPartition, FirecrestUserInfo } from './firecrest-api.js';
import type { FirecrestSpawnerConfig } from './firecrest-config.js';
import { renderFirecrestForm, renderFormUnavailable, type FormViewChoice } from './firecrest-form-render.js';
import {
  CUSTOM_ENVIRONMENT,
  FIRECREST_OPTION_KEYS,
  SAFE_WORD,
  customEnvironmentProblem,
  defaultAccount,
  listed,
  nameProblem,
  partitionChoices,
  userAccounts,
} from './firecrest-form-rules.js';
import type { FirecrestChoices } from './firecrest-job-choices.js';
import { runtimeToHours } from './firecrest-runtime.js';

export { jobChoices, type FirecrestChoices, type FirecrestJobChoices } from './firecrest-job-choices.js';

/**
 * The user's FirecREST answers the form needs, bound to the user's token by
 * the spawner. They throw HubError (401 "log in again", 503 FirecREST
 * unavailable, 502 bad answer) with a sentence for the user; the form lets
 * those errors through unchanged.
 */
export interface FirecrestFormSources {
  userinfo(): Promise<FirecrestUserInfo>;
  partitions(): Promise<FirecrestPartition[]>;
}

/** A number as a person types it: digits, an optional sign, decimal point and exponent. */
const NUMBER_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value's JSON type for a message. */
function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the string ${quoteName(v)}`;
  if (typeof v === 'number') return String(v);
  return typeof v === 'object' ? 'an object' : typeof v;
}

function refuse(message: string): HubError {
  return new HubError(400, message);
}

/**
 * The spawn form of one FirecREST back-end. Stateless after construction:
 * the user's FirecREST answers come with every call, through the sources.
 */
export class FirecrestForm {
  private readonly customPattern: RegExp;
  private readonly reqRuntimeHours: number;
  private readonly system: string;

  /**
   * @param config the back-end's options, defaults filled (as the config loader gives them).
   * @param backendName the back-end's name under `spawners:`, for error messages.
   * @throws ConfigError naming the key (`spawners.<name>.form.custom_environment_pattern`…) when
   *   the custom pattern does not compile, two environments share a name, an environment is
   *   named `custom` while `custom_environment` is on, `req_runtime` is no Slurm time limit,
   *   or a default (`req_nnodes`, `req_runtime`, `form.default_runtime_hours`) is above its limit.
   */
  constructor(
    private readonly config: FirecrestSpawnerConfig,
    private readonly backendName: string,
  ) {
    const at = `spawners.${backendName}`;
    const form = config.form;
    try {
      this.customPattern = new RegExp(`^(?:${form.custom_environment_pattern})$`, 'u');
    } catch (err) {
      throw new ConfigError(`config: ${at}.form.custom_environment_pattern: not a valid regular expression (${(err as Error).message})`);
    }
    const names = new Set<string>();
    form.environments.forEach((env, i) => {
      if (names.has(env.name)) throw new ConfigError(`config: ${at}.form.environments[${i}].name: "${env.name}" is used twice`);
      if (form.custom_environment && env.name === CUSTOM_ENVIRONMENT) {
        throw new ConfigError(`config: ${at}.form.environments[${i}].name: "${CUSTOM_ENVIRONMENT}" is the custom environment's choice while form.custom_environment is on; rename it`);
      }
      names.add(env.name);
    });
    const reqHours = runtimeToHours(config.req_runtime);
    if (reqHours === undefined) throw new ConfigError(`config: ${at}.req_runtime: "${config.req_runtime}" is not a time limit (HH:MM:SS, D-HH:MM:SS or minutes)`);
    if (reqHours > form.max_runtime_hours) throw new ConfigError(`config: ${at}.req_runtime: ${config.req_runtime} is above form.max_runtime_hours (${form.max_runtime_hours} hours)`);
    if (form.default_runtime_hours > form.max_runtime_hours) {
      throw new ConfigError(`config: ${at}.form.default_runtime_hours: ${form.default_runtime_hours} is above form.max_runtime_hours (${form.max_runtime_hours})`);
    }
    if (config.req_nnodes > form.max_nodes) throw new ConfigError(`config: ${at}.req_nnodes: ${config.req_nnodes} is above form.max_nodes (${form.max_nodes})`);
    this.reqRuntimeHours = reqHours;
    this.system = config.system;
  }

  /**
   * The form's HTML fragment (fields named account, partition, nnodes,
   * runtime, reservation, environment, custom_environment; no ids), every
   * text escaped. Fetches userinfo and partitions in parallel. Each field
   * shows the user's last value (`previous`) when it is still valid, else
   * the default: the account `req_account`, else the one userinfo marks
   * default, else the primary group; nodes `req_nnodes`; run time
   * `form.default_runtime_hours`; the environment marked default, else the
   * first. Accounts with unusable names and partitions that are DOWN, DRAIN
   * or INACTIVE are shown, disabled.
   * @throws what the sources throw (HubError), unchanged.
   */
  async render(sources: FirecrestFormSources, previous: Record<string, unknown>): Promise<string> {
    const [info, listedPartitions] = await Promise.all([sources.userinfo(), sources.partitions()]);
    const form = this.config.form;
    const prev = (key: string): unknown => (isPlainObject(previous) && Object.hasOwn(previous, key) ? previous[key] : undefined);

    const accounts: FormViewChoice[] = userAccounts(info).map((name) => withUnusable({ value: name, label: name }, nameProblem(name)));
    const usableAccount = (v: unknown): v is string => typeof v === 'string' && accounts.some((a) => a.value === v && a.unusable === undefined);
    const prevAccount = prev('account');
    const fallbackAccount = defaultAccount(this.config, info);
    const account = usableAccount(prevAccount) ? prevAccount : usableAccount(fallbackAccount) ? fallbackAccount : accounts.find((a) => a.unusable === undefined)?.value;

    const partitions: FormViewChoice[] = partitionChoices(this.config, listedPartitions).map((p) => withUnusable({ value: p.name, label: p.name }, p.unusable));
    const prevPartition = prev('partition');
    const partition = typeof prevPartition === 'string' && partitions.some((p) => p.value === prevPartition && p.unusable === undefined) ? prevPartition : undefined;

    const prevNodes = prev('nnodes');
    const nnodes = this.nodesProblem(prevNodes) === undefined ? (prevNodes as number) : this.config.req_nnodes;
    const prevRuntime = prev('runtime');
    const runtime = this.runtimeProblem(prevRuntime) === undefined ? (prevRuntime as number) : form.default_runtime_hours;
    const prevReservation = prev('reservation');
    const reservation = typeof prevReservation === 'string' && SAFE_WORD.test(prevReservation) ? prevReservation : undefined;

    const prevEnv = prev('environment');
    const prevCustom = prev('custom_environment');
    const customOk = form.custom_environment && typeof prevCustom === 'string' && this.customProblem(prevCustom) === undefined;
    const envKnown = typeof prevEnv === 'string' && (form.environments.some((x) => x.name === prevEnv) || (prevEnv === CUSTOM_ENVIRONMENT && customOk));
    const environment = envKnown ? prevEnv : customOk && prevEnv === undefined ? CUSTOM_ENVIRONMENT : (form.environments.find((x) => x.default) ?? form.environments[0])?.name;

    return renderFirecrestForm({
      system: this.system,
      accounts,
      account,
      partitions,
      partition,
      defaultPartition: this.config.req_partition,
      maxNodes: form.max_nodes,
      nnodes,
      maxRuntimeHours: form.max_runtime_hours,
      runtime,
      reservation,
      environments: form.environments.map((x) => ({ name: x.name, label: x.display_name || x.name, description: x.description })),
      environment,
      custom: form.custom_environment ? { pattern: form.custom_environment_pattern, mount: form.custom_environment_mount, value: customOk ? (prevCustom as string) : undefined } : undefined,
    });
  }

  /**
   * A fragment for when {@link render} failed (FirecREST unavailable, login
   * expired): the error's message, escaped, and no field. With several
   * back-ends on one spawn page, the spawner may show this for one system
   * rather than fail the whole page.
   */
  renderUnavailable(err: HubError): string {
    return renderFormUnavailable(this.system, err.message);
  }

  /**
   * The posted form as raw options: only the form's own fields are read
   * (others, such as another back-end's, are ignored); spaces at either end
   * are dropped; an empty field is left out; `nnodes` and `runtime` become
   * numbers; `custom_environment` is kept only when `environment` is
   * `custom` (the text field is always on the page). No FirecREST call;
   * {@link check} runs on the result afterwards, as on every start.
   * @throws HubError(400) naming the field, for a field posted more than
   *   once or a number field that is no number.
   */
  fromForm(posted: Record<string, string | string[]>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of FIRECREST_OPTION_KEYS) {
      let raw = Object.hasOwn(posted, key) ? posted[key] : undefined;
      if (Array.isArray(raw)) {
        if (raw.length > 1) throw refuse(`${key} was sent more than once`);
        raw = raw[0];
      }
      if (typeof raw !== 'string') continue;
      const text = raw.replace(/^ +| +$/g, '');
      if (text === '') continue;
      if (key === 'nnodes' || key === 'runtime') {
        const n = Number(text);
        if (!NUMBER_TEXT.test(text) || !Number.isFinite(n)) throw refuse(`${key} ${quoteName(raw)} is not a number`);
        out[key] = n;
      } else out[key] = text;
    }
    if (out['environment'] !== CUSTOM_ENVIRONMENT) delete out['custom_environment'];
    return out;
  }

  /**
   * Checks options strictly, on every start path (form and REST API), and
   * returns them as {@link FirecrestChoices}: `nnodes` defaults to
   * `req_nnodes` and `runtime` to `req_runtime` (in hours); other absent
   * options stay absent (see `jobChoices` for their defaults). `null` and
   * `''` count as absent. `custom_environment` alone means environment
   * `custom`. Asks FirecREST (through the sources, in parallel) only for what
   * was given: userinfo for `account`, partitions for `partition`.
   * @throws HubError(400) whose message starts with the field's name and
   *   gives the allowed values: an unknown key, a value of the wrong type, a
   *   node count or run time out of range, an account that is not the user's
   *   (`account "proj9" is not one of your accounts on daint: csstaff,
   *   proj1`), a partition not offered or not up, an environment not
   *   configured, a custom environment when none is offered, not matching the
   *   pattern or holding characters unsafe in a job script, a reservation that
   *   is not one word. What the sources throw passes unchanged.
   */
  async check(options: Record<string, unknown>, sources: FirecrestFormSources): Promise<FirecrestChoices> {
    if (!isPlainObject(options)) throw refuse('Server options must be a JSON object');
    const known: readonly string[] = FIRECREST_OPTION_KEYS;
    for (const key of Object.keys(options)) {
      if (!known.includes(key)) throw refuse(`Unknown option ${quoteName(key)}; the ${this.backendName} back-end accepts: ${known.join(', ')}`);
    }
    const given = (key: string): unknown => {
      const v = options[key];
      return v === null || v === '' ? undefined : v;
    };
    const nodes = given('nnodes');
    const nodesProblem = nodes === undefined ? undefined : this.nodesProblem(nodes);
    if (nodesProblem) throw refuse(nodesProblem);
    const hours = given('runtime');
    const runtimeProblem = hours === undefined ? undefined : this.runtimeProblem(hours);
    if (runtimeProblem) throw refuse(runtimeProblem);
    const out: FirecrestChoices = { nnodes: (nodes as number | undefined) ?? this.config.req_nnodes, runtime: (hours as number | undefined) ?? this.reqRuntimeHours };

    const reservation = this.stringOption(given, 'reservation');
    if (reservation !== undefined) {
      if (!SAFE_WORD.test(reservation)) throw refuse(`reservation ${quoteName(reservation)} must be one word of letters, digits, ., _ and - (at most 128 characters)`);
      out.reservation = reservation;
    }
    this.checkEnvironment(given, out);

    const account = this.stringOption(given, 'account');
    const partition = this.stringOption(given, 'partition');
    const [info, listedPartitions] = await Promise.all([account === undefined ? undefined : sources.userinfo(), partition === undefined ? undefined : sources.partitions()]);
    if (account !== undefined && info) {
      const mine = userAccounts(info).filter((a) => nameProblem(a) === undefined);
      if (!mine.includes(account)) throw refuse(`account ${quoteName(account)} is not one of your accounts on ${this.system}: ${listed(mine)}`);
      out.account = account;
    }
    if (partition !== undefined && listedPartitions) {
      const choices = partitionChoices(this.config, listedPartitions);
      const usable = choices.filter((p) => p.unusable === undefined).map((p) => p.name);
      const found = choices.find((p) => p.name === partition);
      if (found?.unusable !== undefined) throw refuse(`partition ${quoteName(partition)} cannot be used on ${this.system} now (${found.unusable}); usable: ${listed(usable)}`);
      if (!found) throw refuse(`partition ${quoteName(partition)} is not offered on ${this.system}; usable: ${listed(usable)}`);
      out.partition = partition;
    }
    return out;
  }

  /** `environment` and `custom_environment` into `out`, or a refusal naming the field. */
  private checkEnvironment(given: (key: string) => unknown, out: FirecrestChoices): void {
    const form = this.config.form;
    const environment = this.stringOption(given, 'environment');
    const custom = this.stringOption(given, 'custom_environment');
    const names = form.environments.map((x) => x.name);
    if (form.custom_environment) names.push(CUSTOM_ENVIRONMENT);
    if (environment !== undefined && !names.includes(environment)) {
      throw refuse(`environment ${quoteName(environment)} is not offered on ${this.system}; choices: ${listed(names)}`);
    }
    if (custom !== undefined) {
      if (!form.custom_environment) throw refuse(`custom_environment is not offered on ${this.system}; pick an environment: ${listed(names)}`);
      if (environment !== undefined && environment !== CUSTOM_ENVIRONMENT) {
        throw refuse(`custom_environment goes only with environment "${CUSTOM_ENVIRONMENT}", not ${quoteName(environment)}`);
      }
      const problem = this.customProblem(custom);
      if (problem) throw refuse(`custom_environment ${quoteName(custom)} ${problem}`);
      out.environment = CUSTOM_ENVIRONMENT;
      out.custom_environment = custom;
      return;
    }
    if (environment === CUSTOM_ENVIRONMENT) throw refuse(`custom_environment is required when environment is "${CUSTOM_ENVIRONMENT}" (a uenv or an image matching ${form.custom_environment_pattern})`);
    if (environment !== undefined) out.environment = environment;
  }

  /** A string option, or a refusal naming it when it is of another type. */
  private stringOption(given: (key: string) => unknown, key: string): string | undefined {
    const v = given(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw refuse(`${key} must be a string, got ${typeOf(v)}`);
    return v;
  }

  private nodesProblem(v: unknown): string | undefined {
    const max = this.config.form.max_nodes;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max) return undefined;
    return `nnodes must be a whole number from 1 to ${max}, got ${typeOf(v)}`;
  }

  private runtimeProblem(v: unknown): string | undefined {
    const max = this.config.form.max_runtime_hours;
    if (typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= max) return undefined;
    return `runtime must be a number of hours above 0 and at most ${max}, got ${typeOf(v)}`;
  }

  private customProblem(v: string): string | undefined {
    const unsafe = customEnvironmentProblem(v);
    if (unsafe) return unsafe;
    return this.customPattern.test(v) ? undefined : `does not match ${this.config.form.custom_environment_pattern}`;
  }
}

function withUnusable(choice: FormViewChoice, unusable: string | undefined): FormViewChoice {
  return unusable === undefined ? choice : { ...choice, unusable };
}
