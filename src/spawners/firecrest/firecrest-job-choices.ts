/**
 * What a FirecREST job is submitted with: the back-end's defaults (`req_*`)
 * overlaid with the user's checked choices (pure). The script template and
 * the job description read the result.
 */
import type { FirecrestUserInfo } from './firecrest-api.js';
import type { FirecrestSpawnerConfig } from './firecrest-config.js';
import { CUSTOM_ENVIRONMENT, defaultAccount, isImageReference } from './firecrest-form-rules.js';
import { hoursToRuntime } from './firecrest-runtime.js';

/**
 * Checked options, as saved in user_options (JSON); see `FirecrestForm.check`.
 * A type alias, not an interface, so that it is a `Record<string, unknown>`
 * (what `Spawner.checkOptions` returns) without a cast.
 */
export type FirecrestChoices = {
  account?: string;
  partition?: string;
  nnodes: number;
  /** Hours. */
  runtime: number;
  reservation?: string;
  environment?: string;
  custom_environment?: string;
};

/** The values of one job, as the script template and the job description get them. */
export interface FirecrestJobChoices {
  account?: string;
  partition?: string;
  reservation?: string;
  constraint?: string;
  nnodes: number;
  /** `HH:MM:SS`. */
  runtime: string;
  /** The configured environment's name, or `custom`. */
  environment?: string;
  /** `<image>:<mount>`. */
  uenv?: string;
  uenv_view?: string;
  container_image?: string;
}

/**
 * The job's values: config defaults, then the user's choices.
 * - `account`: the choice, else `req_account`, else the account userinfo
 *   marks default, else the user's primary group.
 * - `partition`, `reservation`: the choice, else `req_partition` /
 *   `req_reservation` (left out when empty); `constraint` is `req_constraint`.
 * - `nnodes`, `runtime`: the choice (hours as `HH:MM:SS`), else `req_nnodes` /
 *   `req_runtime` (options never checked by the form, e.g. `{}`, still give a
 *   valid job).
 * - `environment`: the choice, else the environment marked default, else the
 *   first configured one (none configured: no environment). A configured one
 *   gives `uenv` = `<uenv>:<mount>` and `uenv_view` when it has a uenv, and
 *   `container_image` when it has an image.
 * - `custom` (`custom_environment`): a container image (`container_image`)
 *   when its first `/`-separated part is a registry host (holds a `.` or a
 *   `:`, or is `localhost`: `docker.io/library/ubuntu:24.04`), else a uenv
 *   mounted at `form.custom_environment_mount` (`prgenv-gnu/24.11:v1` →
 *   `prgenv-gnu/24.11:v1:/user-environments`).
 */
export function jobChoices(config: FirecrestSpawnerConfig, choices: Partial<FirecrestChoices>, userinfo: FirecrestUserInfo): FirecrestJobChoices {
  const out: FirecrestJobChoices = {
    nnodes: choices.nnodes ?? config.req_nnodes,
    runtime: choices.runtime === undefined ? config.req_runtime : hoursToRuntime(choices.runtime),
  };
  const account = choices.account ?? defaultAccount(config, userinfo);
  if (account) out.account = account;
  const partition = choices.partition ?? config.req_partition;
  if (partition) out.partition = partition;
  const reservation = choices.reservation ?? config.req_reservation;
  if (reservation) out.reservation = reservation;
  if (config.req_constraint) out.constraint = config.req_constraint;

  const custom = choices.custom_environment;
  if (custom !== undefined && (choices.environment === undefined || choices.environment === CUSTOM_ENVIRONMENT)) {
    out.environment = CUSTOM_ENVIRONMENT;
    if (isImageReference(custom)) out.container_image = custom;
    else out.uenv = `${custom}:${config.form.custom_environment_mount}`;
    return out;
  }
  const envs = config.form.environments;
  const env = (choices.environment === undefined ? undefined : envs.find((x) => x.name === choices.environment)) ?? envs.find((x) => x.default) ?? envs[0];
  if (env) {
    out.environment = env.name;
    if (env.uenv) out.uenv = `${env.uenv}:${env.mount}`;
    if (env.uenv && env.view) out.uenv_view = env.view;
    if (env.image) out.container_image = env.image;
  }
  return out;
}
