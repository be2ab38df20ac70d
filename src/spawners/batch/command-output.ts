/**
 * Quoting what a scheduler command printed inside an error message or a
 * status reason: the output comes from another machine and is hostile until
 * checked, so it is trimmed, clipped and has its control characters escaped.
 */
import { cleanLogString } from '../../lib/log-sanitize.js';

/** How many characters of a command's output a message shows at most. */
export const OUTPUT_QUOTE_MAX = 300;

/**
 * `text` trimmed, clipped to `max` characters (with a marker saying how much
 * was cut), newlines and other control characters escaped (`\n`, `\x1b`),
 * secrets in URL queries redacted. The empty string stays empty.
 */
export function describeOutput(text: string, max = OUTPUT_QUOTE_MAX): string {
  return cleanLogString(text.trim(), max);
}
