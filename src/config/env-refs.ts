/**
 * Environment references in YAML (and JSON) config files, so that one image
 * serves every environment: a deployment feeds its values in as environment
 * variables (BriCS's `DEPLOY_CONFIG_*`) and the config file names them.
 *
 * Rules (docs/getting-started.md, "Values from the environment"):
 * - `${NAME}` in any string value is replaced by the variable's value; a variable
 *   that is not set is a config error naming the variable and the key. Set but
 *   empty gives the empty string.
 * - `${NAME:-default}` gives `default` when the variable is unset or empty.
 * - `$${` is a literal `${` (nothing is expanded); any other `$` is kept as is.
 * - A list item that is exactly one reference (`- ${DEV_USERS}`) becomes as many
 *   items as the value has words separated by white space (none when empty).
 * - A value that is exactly one reference where the option wants a number or a
 *   boolean (`port: ${PORT}`) is converted to it.
 * - Only values are expanded, never keys. A JS/TS config module is not expanded
 *   (it reads `process.env` itself), nor are command-line overrides.
 */

/** One reference that could not be expanded: the dotted key and why. */
export interface EnvRefProblem {
  key: string;
  message: string;
}

/** The expanded document, the keys whose values were wholly one reference, and what went wrong. */
export interface EnvExpansion {
  value: unknown;
  /** Paths (as key lists) of scalars that were wholly one reference: candidates for type conversion. */
  wholeRefs: Array<Array<string | number>>;
  problems: EnvRefProblem[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const WHOLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/;

/** Expands every `${...}` reference in the string values of `doc` from `env`. Never throws: problems are returned. */
export function expandEnvRefs(doc: unknown, env: NodeJS.ProcessEnv = process.env): EnvExpansion {
  const problems: EnvRefProblem[] = [];
  const wholeRefs: Array<Array<string | number>> = [];
  const walk = (v: unknown, at: Array<string | number>): unknown => {
    if (typeof v === 'string') {
      if (WHOLE.test(v)) wholeRefs.push(at);
      return expandString(v, env, keyOf(at), problems);
    }
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      v.forEach((item, i) => {
        if (typeof item === 'string' && WHOLE.test(item)) {
          const words = expandString(item, env, keyOf([...at, i]), problems).split(/\s+/u).filter((w) => w !== '');
          out.push(...words);
        } else out.push(walk(item, [...at, i]));
      });
      return out;
    }
    if (typeof v === 'object' && v !== null) {
      // fromEntries defines own keys: a key "__proto__" stays a key (and is refused as unknown), never a prototype
      return Object.fromEntries(Object.entries(v).map(([k, sub]) => [k, walk(sub, [...at, k])]));
    }
    return v;
  };
  const value = walk(doc, []);
  return { value, wholeRefs, problems };
}

/** `auth.dev_users[0]` from `['auth', 'dev_users', 0]`. */
export function keyOf(at: ReadonlyArray<string | number>): string {
  return at.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(top level)';
}

function expandString(s: string, env: NodeJS.ProcessEnv, key: string, problems: EnvRefProblem[]): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    if (s.startsWith('$${', i)) {
      out += '${';
      i += 3;
      continue;
    }
    if (!s.startsWith('${', i)) {
      out += s[i];
      i += 1;
      continue;
    }
    const end = s.indexOf('}', i + 2);
    if (end < 0) {
      problems.push({ key, message: 'an unclosed "${" (write "$${" for a literal "${")' });
      return out + s.slice(i);
    }
    const body = s.slice(i + 2, end);
    const sep = body.indexOf(':-');
    const name = sep < 0 ? body : body.slice(0, sep);
    if (!NAME.test(name)) {
      problems.push({
        key,
        message: `"\${${body}}" is not a reference: write \${NAME} or \${NAME:-default} with NAME made of letters, digits and "_" (or "$\${" for a literal "\${")`,
      });
    } else {
      const value = env[name];
      if (sep >= 0) out += value === undefined || value === '' ? body.slice(sep + 2) : value;
      else if (value === undefined) problems.push({ key, message: `environment variable ${name} is not set (write \${${name}:-default} to give a default)` });
      else out += value;
    }
    i = end + 1;
  }
  return out;
}
