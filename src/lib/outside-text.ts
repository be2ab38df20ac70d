/**
 * Text from outside (a remote service's answer, an identity provider's
 * error, a back-end's reason) made fit for a message to the user and a log
 * line: control, line-separator and bidi characters replaced by a space,
 * runs of blanks folded, clipped with an ellipsis. Pure.
 */

/** Longest piece of outside text kept in a message, by default. */
export const MAX_OUTSIDE_TEXT = 300;

// C0/C1 controls, DEL, line/paragraph separators and bidi controls.
const UNSAFE_SOURCE = '[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]';
const UNSAFE_RUNS = new RegExp(`${UNSAFE_SOURCE}+`, 'g');
const UNSAFE_CHAR = new RegExp(UNSAFE_SOURCE);

/** `text` with control characters removed, blanks folded and at most `max` characters (an ellipsis marks a cut). */
export function outsideText(text: string, max = MAX_OUTSIDE_TEXT): string {
  const flat = text.replace(UNSAFE_RUNS, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** Whether `text` holds a control character (a field that must be an identifier or a path is then refused). */
export function hasControl(text: string): boolean {
  return UNSAFE_CHAR.test(text);
}
