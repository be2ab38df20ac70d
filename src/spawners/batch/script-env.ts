/**
 * Putting the single-user server's environment into the batch script.
 *
 * SSH does not pass the hub's environment on, and values on a command line
 * are visible in `ps` on the login host, so the variables (the API token
 * among them) travel inside the script, which goes to `sbatch` on standard
 * input, as `export NAME='value'` lines.
 */
import { quoteName } from '../../lib/quote-name.js';
import { shellQuote } from './shell-quote.js';

/** A portable environment variable name. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A line of a script's leading header: blank, or a comment (the shebang and `#SBATCH` directives are comments). */
const HEADER_LINE = /^[ \t]*(?:#.*)?\r?$/;

/**
 * The script with one `export NAME='value'` line per variable (in `env`'s
 * order), each value single-quoted ({@link shellQuote}: quotes, `$`,
 * backticks and newlines reach the job unchanged and are never run).
 *
 * Where: right after the last comment line of the script's leading header
 * (the shebang, comments, `#SBATCH` directives, blank lines between them).
 * Slurm reads directives only up to the first line that is neither blank nor
 * a comment, so every directive is still read, and the exports run before
 * the script's first command. A multi-line value cannot add a directive:
 * its later lines come after the first `export`, where Slurm has stopped
 * reading.
 *
 * A script without a shebang does not get one: the interpreter is the
 * site's choice, and `sbatch` refuses such a script with its own message
 * (reported by the scheduler's job-id parser); other schedulers accept it.
 * With an empty `env` the script is returned unchanged.
 *
 * @throws Error naming the variable when a name is not `[A-Za-z_][A-Za-z0-9_]*`
 *   or a value holds NUL.
 */
export function withEnvExports(script: string, env: Record<string, string>): string {
  const exports: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) {
      throw new Error(`cannot export ${quoteName(name)} in the batch script: not a valid environment variable name`);
    }
    if (value.includes('\0')) {
      throw new Error(`cannot export ${quoteName(name)} in the batch script: its value holds a NUL character`);
    }
    exports.push(`export ${name}=${shellQuote(value)}`);
  }
  return afterScriptHeader(script, exports);
}

/**
 * `script` with `added` inserted right after the last comment line of its
 * leading header (shebang, `#SBATCH` directives), so the scheduler still
 * reads every directive and the lines run before the first command.
 * Unchanged when `added` is empty.
 */
export function afterScriptHeader(script: string, added: readonly string[]): string {
  if (added.length === 0) return script;
  const lines = script.split('\n');
  let at = 0;
  for (let i = 0; i < lines.length && HEADER_LINE.test(lines[i]!); i++) {
    if (lines[i]!.trim() !== '') at = i + 1;
  }
  lines.splice(at, 0, ...added);
  return lines.join('\n');
}
