/**
 * The FirecREST spawner's job script and job description (pure): the
 * built-in script template, the template variables, the job's name and log
 * file. Account, partition, reservation and constraints travel in the job
 * description (FirecREST passes them to Slurm), not as directives.
 */
import { quoteName } from '../../lib/quote-name.js';
import { shellQuote } from '../batch/shell-quote.js';

/**
 * The built-in `batch_script` (nunjucks): nodes and time limit, a uenv
 * (CSCS's `--uenv`/`--view` Slurm plugin options) or a container image
 * (pyxis's `--container-image`) only when one is chosen, the prologue, the
 * command (after `srun` when `req_srun` is set), the epilogue. The
 * server's environment is added after the header by the spawner.
 */
export const DEFAULT_FIRECREST_SCRIPT = `#!/bin/bash
#SBATCH --nodes={{ nnodes }}
#SBATCH --time={{ runtime }}
{% if uenv %}#SBATCH --uenv={{ uenv }}
{% endif %}{% if uenv_view %}#SBATCH --view={{ uenv_view }}
{% endif %}{% if container_image %}#SBATCH --container-image={{ container_image }}
{% endif %}
{{ prologue }}
{% if srun %}{{ srun }} {% endif %}{{ cmd }}
{{ epilogue }}
`;

/** Characters a template value may not hold: a newline would add a directive or a command. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Throws an Error naming the first variable whose string value holds a
 * control character (newline, carriage return, NUL...): values from the
 * form or from FirecREST (`username`) must stay on their line of the
 * script. `allowLines` names the variables that are script lines by
 * design (`prologue`, `epilogue`, from the operator's config).
 */
export function checkOneLineValues(vars: Record<string, unknown>, allowLines: readonly string[]): void {
  for (const [name, value] of Object.entries(vars)) {
    if (allowLines.includes(name) || typeof value !== 'string') continue;
    if (CONTROL.test(value)) throw new Error(`the value of ${quoteName(name)} holds a control character (e.g. a newline)`);
  }
}

/** The command line of `cmd`: each word single-quoted. */
export function commandLine(cmd: readonly string[]): string {
  return cmd.map((word) => shellQuote(word)).join(' ');
}

/** A job name from the hub user and server name: `jupyterhub-<user>[-<server>]`, other characters than `[A-Za-z0-9._-]` as `_`, at most 64 characters. */
export function jobName(hubUser: string, serverName: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
  return `jupyterhub-${safe(hubUser)}${serverName ? `-${safe(serverName)}` : ''}`.slice(0, 64);
}

/** The job's log file pattern in `workdir` (Slurm replaces `%j` with the job id). */
export function jobLogPattern(workdir: string): string {
  return `${workdir.replace(/\/+$/, '')}/jupyterhub-firecrest-%j.log`;
}

/** Why `path` cannot be the job's working directory (rendered `workdir`), or undefined when it can: absolute, no `..`, no control characters, at most 4096. */
export function workdirProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return `${quoteName(path)} is not an absolute path`;
  if (path.length > 4096 || CONTROL.test(path)) return `${quoteName(path)} is too long or holds a control character`;
  if (path.split('/').includes('..')) return `${quoteName(path)} holds a ".." segment`;
  return undefined;
}
