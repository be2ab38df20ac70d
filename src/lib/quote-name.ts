/**
 * Quoting a name (or any short string from outside) inside a message that a
 * person reads: an API error, a page, a CLI error, a config error.
 *
 * A name from outside may be a megabyte long, hold newlines, terminal escape
 * codes or bidirectional-text overrides; echoed as is, it floods the answer or
 * rewrites what the reader sees. {@link quoteName} clips and escapes it.
 * (Log lines have their own escaping in lib/log.ts.)
 */

/** How many characters (code points) of a name a message shows at most. */
export const QUOTED_NAME_MAX = 64;

/**
 * Characters shown as `\u{…}` escapes: control characters (C0, DEL, C1),
 * format characters (bidirectional overrides, zero-width characters),
 * line and paragraph separators, and lone surrogates.
 */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]|\p{Cs}/u;

/**
 * A name in double quotes, safe to put in a message: at most
 * {@link QUOTED_NAME_MAX} code points (a longer one is cut, with `…` and its
 * full length after the closing quote), `"` and `\` escaped with `\`, and every
 * unprintable character shown as `\u{hex}`.
 *
 * @example quoteName('a\nb') === '"a\\u{a}b"'
 */
export function quoteName(name: string): string {
  let out = '';
  let count = 0;
  for (const ch of name) {
    if (count === QUOTED_NAME_MAX) {
      return `"${out}…" (${[...name].length} characters)`;
    }
    count++;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (UNPRINTABLE.test(ch)) out += `\\u{${ch.codePointAt(0)!.toString(16)}}`;
    else out += ch;
  }
  return `"${out}"`;
}
