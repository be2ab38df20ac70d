/**
 * Rendering the batch spawner's templates: the batch script, the user name
 * jobs run as, and the command lines (`exec_prefix`, `batch_submit_cmd`,
 * `batch_query_cmd`, `batch_cancel_cmd`).
 *
 * Two syntaxes, chosen as batchspawner chooses them, so a site's existing
 * templates work unchanged:
 * - a template holding `{{` or `{%` is Jinja, rendered by nunjucks (a fresh
 *   environment per call, no autoescaping, an undefined variable renders as
 *   nothing, and no loader: `{% include %}`, `{% import %}` and
 *   `{% extends %}` cannot read files);
 * - any other template uses Python's `str.format` style: `{name}`, also
 *   `{name.key}` and `{name[key]}`, with `}}` standing for `}` (a template
 *   holding `{{` is Jinja, as in batchspawner, so that escape never applies);
 *   an unknown name is an error (not an empty string), and conversions
 *   (`{x!r}`), format specs (`{x:>5}`) and positional fields (`{}`, `{0}`) are
 *   refused.
 */
import nunjucks from 'nunjucks';
import { quoteName } from '../../lib/quote-name.js';
import { shellQuote } from './shell-quote.js';

/** A template that cannot be rendered; the message names the template and says why (with nunjucks's line and column when it gives them). */
export class TemplateError extends Error {
  constructor(
    /** Which template, e.g. `batch_script` or `exec_prefix`. */
    readonly what: string,
    /** Why, without the template's name. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`the ${what} template does not render: ${detail}`, options);
    this.name = 'TemplateError';
  }
}

/** Whether a template is Jinja (holds `{{` or `{%`) rather than `str.format` style. */
export function isJinjaTemplate(template: string): boolean {
  return template.includes('{{') || template.includes('{%');
}

/**
 * The template rendered with `vars` (see the module comment for the two
 * syntaxes). Values are put in as they are: use {@link renderCommand} for a
 * shell command line.
 *
 * @param what names the template in error messages, e.g. `batch_script`.
 * @throws TemplateError when the template has a syntax error, uses an
 *   unknown variable (`str.format` style), or fails while rendering (e.g.
 *   calling a method on an undefined value).
 */
export function renderTemplate(template: string, vars: Record<string, unknown>, what: string): string {
  if (isJinjaTemplate(template)) return renderJinja(template, vars, what);
  return renderFormat(template, vars, what, (s) => s);
}

/**
 * Like {@link renderTemplate}, for a shell command line: every value put in
 * is single-quoted as one shell word ({@link shellQuote}), so a value from
 * outside can never add shell syntax, e.g. `sudo -E -u {username}` with
 * `carol.proj1` gives `sudo -E -u 'carol.proj1'`.
 *
 * In `str.format` style the value a field resolves to is quoted (so
 * `{auth_state[p][username]}` works). A Jinja command template sees every
 * variable already quoted: strings, numbers and booleans are quoted before
 * rendering (the empty string becomes `''`, which is true in a `{% if %}`),
 * null and undefined stay undefined, and a variable holding an array or an
 * object is refused. Use the values as they are (`{{ job_id }}`): methods
 * and filters would work on the quoted text.
 *
 * @throws TemplateError as renderTemplate, and when a value holds NUL or is
 *   not a string, number or boolean.
 */
export function renderCommand(template: string, vars: Record<string, unknown>, what: string): string {
  if (!isJinjaTemplate(template)) {
    return renderFormat(template, vars, what, (s) => quoteOrThrow(s, what));
  }
  const quoted: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(vars)) {
    if (value === null || value === undefined) continue;
    if (typeof value === 'object' || typeof value === 'function' || typeof value === 'symbol') {
      throw new TemplateError(
        what,
        `the variable ${quoteName(key)} is ${Array.isArray(value) ? 'a list' : 'not text'}; a command template takes only strings and numbers`,
      );
    }
    quoted[key] = quoteOrThrow(String(value), what);
  }
  return renderJinja(template, quoted, what);
}

function quoteOrThrow(value: string, what: string): string {
  try {
    return shellQuote(value);
  } catch (err) {
    throw new TemplateError(what, (err as Error).message);
  }
}

function renderJinja(template: string, vars: Record<string, unknown>, what: string): string {
  // An empty loader list: nunjucks would otherwise load templates from ./views.
  const env = new nunjucks.Environment([], { autoescape: false, throwOnUndefined: false });
  try {
    return env.renderString(template, vars);
  } catch (err) {
    throw new TemplateError(what, cleanNunjucksMessage(err), { cause: err });
  }
}

/** nunjucks's message without its "(unknown path)" and "Template render error:" noise, on one line. */
function cleanNunjucksMessage(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  const text = raw
    .replaceAll('(unknown path)', '')
    .replaceAll('Template render error:', '')
    .replace(/\bError: /g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return text === '' ? 'nunjucks gave no reason' : text;
}

/** `{name}`, `{name.key}`, `{name[key]}` and chains of them. */
const FIELD = /^([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*|\[[^\][]+\])*)$/;
const ACCESSOR = /\.([A-Za-z_][A-Za-z0-9_]*)|\[([^\][]+)\]/g;

function renderFormat(
  template: string,
  vars: Record<string, unknown>,
  what: string,
  put: (value: string) => string,
): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const ch = template[i]!;
    const next = template[i + 1];
    if (ch === '{' && next === '{') {
      out += '{';
      i += 2;
    } else if (ch === '}' && next === '}') {
      out += '}';
      i += 2;
    } else if (ch === '}') {
      throw new TemplateError(what, `${where(template, i)} a single "}" (write "}}" for a literal brace)`);
    } else if (ch === '{') {
      const end = template.indexOf('}', i + 1);
      const open = template.indexOf('{', i + 1);
      if (end < 0 || (open >= 0 && open < end)) {
        throw new TemplateError(what, `${where(template, i)} a "{" that is not closed (write "{{" for a literal brace)`);
      }
      out += put(fieldValue(template.slice(i + 1, end), vars, what, where(template, i)));
      i = end + 1;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

function fieldValue(field: string, vars: Record<string, unknown>, what: string, at: string): string {
  const m = FIELD.exec(field);
  if (!m) {
    const why = /[!:]/.test(field)
      ? 'conversions and format specs are not supported'
      : field === '' || /^\d/.test(field)
        ? 'positional fields are not supported, name the variable'
        : 'it is not a variable name';
    throw new TemplateError(what, `${at} the field {${quoteName(field).slice(1, -1)}}: ${why}`);
  }
  const name = m[1]!;
  if (!Object.hasOwn(vars, name)) {
    const known = Object.keys(vars).sort().join(', ');
    throw new TemplateError(what, `${at} unknown variable ${quoteName(name)} (known: ${known || 'none'})`);
  }
  let value = vars[name];
  let path = name;
  for (const acc of (m[2] ?? '').matchAll(ACCESSOR)) {
    const key = acc[1] ?? acc[2]!;
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) {
      throw new TemplateError(what, `${at} ${quoteName(path)} has no ${quoteName(key)}`);
    }
    value = (value as Record<string, unknown>)[key];
    path += acc[0];
  }
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  throw new TemplateError(what, `${at} ${quoteName(path)} is ${Array.isArray(value) ? 'a list' : 'not text'}`);
}

/** `[Line L, Column C]` of offset `i`, as nunjucks writes it (both 1-based). */
function where(template: string, i: number): string {
  const before = template.slice(0, i);
  const line = before.split('\n').length;
  const column = i - before.lastIndexOf('\n');
  return `[Line ${line}, Column ${column}]`;
}
