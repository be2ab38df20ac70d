/**
 * The server's environment on its way into a FirecREST job (pure).
 *
 * FirecREST takes a job's environment as `env` in the submit body, but it
 * refuses some values (quotes: `JUPYTERHUB_OAUTH_SCOPES` holds JSON), and
 * whatever is in `env` may end up in FirecREST's and Slurm's records. So the
 * environment is split: plain values go in `env`; secrets and every value
 * with a character outside a small safe set travel inside the script,
 * base64-encoded (only `[A-Za-z0-9+/=]` in the script) and decoded there by
 * the job's shell.
 */
import { quoteName } from '../../lib/quote-name.js';
import { isSecretEnvName } from '../../lib/secret-env-name.js';
import { afterScriptHeader } from '../batch/script-env.js';

/** A portable environment variable name (what a shell can export). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Values that may go in FirecREST's `env` as they are: no quotes, spaces, shell or control characters. */
const PLAIN_VALUE = /^[A-Za-z0-9_.,:/=+@%~-]*$/;

/** Where a job's environment goes. */
export interface JobEnvSplit {
  /** FirecREST's `env` of the submit body. */
  plain: Record<string, string>;
  /** Written into the script, encoded ({@link encodedEnvLines}). */
  encoded: Record<string, string>;
}

/** Whether variable `name` holds a secret ({@link isSecretEnvName}). */
export const isSecretName = isSecretEnvName;

/**
 * `env` split into what FirecREST's `env` may carry and what goes into the
 * script (secrets, and values outside `[A-Za-z0-9_.,:/=+@%~-]`).
 *
 * @throws Error naming the variable when a name is not a shell name or a value holds NUL.
 */
export function splitJobEnv(env: Record<string, string>): JobEnvSplit {
  const plain: Record<string, string> = {};
  const encoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) throw new Error(`the job's environment variable ${quoteName(name)} is not a valid shell name`);
    if (value.includes('\0')) throw new Error(`the job's environment variable ${quoteName(name)} holds a NUL character`);
    if (isSecretName(name) || !PLAIN_VALUE.test(value)) encoded[name] = value;
    else plain[name] = value;
  }
  return { plain, encoded };
}

/**
 * Shell lines that set and export each variable of `encoded` to its exact
 * bytes (UTF-8): the value base64-encoded in the script, decoded by
 * `base64 -d`; a sentinel `.` keeps trailing newlines that `$(...)` would
 * drop. shellcheck-clean; no value's bytes appear in the script as they are.
 *
 * @throws Error as {@link splitJobEnv} for a bad name or a NUL.
 */
export function encodedEnvLines(encoded: Record<string, string>): string[] {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(encoded)) {
    if (!ENV_NAME.test(name)) throw new Error(`the job's environment variable ${quoteName(name)} is not a valid shell name`);
    if (value.includes('\0')) throw new Error(`the job's environment variable ${quoteName(name)} holds a NUL character`);
    const b64 = Buffer.from(value, 'utf8').toString('base64');
    lines.push(`${name}="$(printf '%s' '${b64}' | base64 -d; printf .)"; export ${name}="\${${name}%.}"`);
  }
  return lines;
}

/**
 * `script` with the lines of {@link encodedEnvLines} right after the last
 * comment line of its leading header (shebang, `#SBATCH` directives), so
 * Slurm still reads every directive and the variables are set before the
 * first command. Unchanged when `encoded` is empty.
 */
export function withEncodedEnv(script: string, encoded: Record<string, string>): string {
  return afterScriptHeader(script, encodedEnvLines(encoded));
}
