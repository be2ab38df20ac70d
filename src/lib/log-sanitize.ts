/**
 * What every log line goes through before it is written (src/lib/log.ts wires
 * it into pino's formatters and log-method hook, so no call site can forget):
 * strings from outside are clipped and their control characters escaped, and
 * secrets are replaced by `[redacted]`.
 */

/** Longest string field kept whole in a log line; longer ones are clipped with a marker. */
export const LOG_STRING_MAX = 1024;
/** Longest error stack kept (stacks are long but come from our own code). */
export const LOG_STACK_MAX = 8192;
/** Most array items and object keys kept per level, and how deep objects are followed. */
const MAX_ITEMS = 100;
const MAX_DEPTH = 8;

export const REDACTED = '[redacted]';

/** A character UNSAFE escapes, or the `=` every SECRET_QUERY match has: a string without any is kept as it is. */
// eslint-disable-next-line no-control-regex
const NEEDS_CLEANING = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069=]/;

/**
 * Keys whose values are secrets, whatever object they sit in: tokens, passwords,
 * secrets, cookies, `authorization` headers, auth state, API keys, in any case
 * and with any prefix (`proxy_token`, `authToken`, `set-cookie`, `JUPYTERHUB_API_TOKEN`).
 */
const SECRET_KEY = /(token|password|passwd|secret|cookie|authorization|auth_?state|api_?key|xsrf)s?$/i;

/** Query parameters that carry secrets in URLs (Jupyter passes `?token=` in URLs). */
const SECRET_QUERY = /([?&](?:[a-z_]*token|_xsrf|code|state|password)=)[^&#\s]*/gi;

/**
 * C0 and C1 control characters, DEL, and the Unicode characters that can
 * reorder or break a terminal line (line/paragraph separators, bidi controls).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Whether a key names a secret (its value is never logged). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * A string made safe for a log line: secrets in URL queries redacted, control
 * characters escaped as `\n`, `\xNN` or `\uNNNN`, and anything beyond `max`
 * characters clipped with `…[clipped N chars]`.
 */
export function cleanLogString(s: string, max = LOG_STRING_MAX, keepNewlines = false): string {
  // most strings (a request id, a user name) need nothing: one scan, no copy
  if (s.length <= max && !NEEDS_CLEANING.test(s)) return s;
  let out = s.length > max ? s.slice(0, max) : s;
  out = out.replace(SECRET_QUERY, `$1${REDACTED}`).replace(UNSAFE, (c) => (keepNewlines && c === '\n' ? c : escapeChar(c)));
  return s.length > max ? `${out}…[clipped ${s.length - max} chars]` : out;
}

function escapeChar(c: string): string {
  switch (c) {
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
  }
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * A log line's fields made safe: every string cleaned (see cleanLogString),
 * secret keys redacted, errors turned into `{type, message, stack, code}`,
 * large arrays and objects and deep nesting cut. Objects that are neither
 * plain nor errors are passed on for pino's serializers.
 */
export function sanitizeLogFields(fields: Record<string, unknown>): Record<string, unknown> {
  return sanitizeObject(fields, 0);
}

function sanitizeObject(obj: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [key, value] of Object.entries(obj)) {
    if (n++ >= MAX_ITEMS) {
      out['…'] = `[${Object.keys(obj).length - MAX_ITEMS} more keys]`;
      break;
    }
    const safeKey = cleanLogString(key, 128);
    out[safeKey] = isSecretKey(key) && value !== undefined && value !== null && value !== '' ? REDACTED : sanitizeValue(value, depth + 1, key);
  }
  return out;
}

function sanitizeValue(value: unknown, depth: number, key: string): unknown {
  if (typeof value === 'string') return key === 'stack' ? cleanLogString(value, LOG_STACK_MAX, true) : cleanLogString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return '[nested too deep]';
  if (value instanceof Error) return sanitizeError(value, depth);
  if (Array.isArray(value)) {
    const kept = value.slice(0, MAX_ITEMS).map((v) => sanitizeValue(v, depth + 1, ''));
    if (value.length > MAX_ITEMS) kept.push(`[${value.length - MAX_ITEMS} more items]`);
    return kept;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  return sanitizeObject(value as Record<string, unknown>, depth);
}

function sanitizeError(err: Error, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.name, message: cleanLogString(err.message) };
  if (err.stack) {
    // the first line of a stack repeats the message, which may come from outside: escape it whole there too
    const head = `${err.name}: ${err.message}`;
    const stack = err.stack.startsWith(head) ? `${cleanLogString(head)}${err.stack.slice(head.length)}` : err.stack;
    out['stack'] = cleanLogString(stack, LOG_STACK_MAX, true);
  }
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out['code'] = sanitizeValue(code, depth + 1, 'code');
  if (err.cause !== undefined && depth < MAX_DEPTH) out['cause'] = sanitizeValue(err.cause, depth + 1, 'cause');
  return out;
}
