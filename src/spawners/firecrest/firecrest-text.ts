/**
 * Text that FirecREST (or an identity provider) sent, made fit for a message
 * to the user and a log line: control characters replaced by a space, runs
 * of blanks folded, clipped. Pure.
 */

/** Longest piece of outside text kept in a message. */
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

/** `message` with every occurrence of `secret` replaced (a last guard: no path is known to put one there). */
export function withoutSecret(message: string, secret: string | undefined): string {
  return secret && secret.length >= 4 ? message.split(secret).join('[redacted]') : message;
}

/** Whether `token` can be sent as a bearer token: visible ASCII only (RFC 6750 §2.1 b64token and the like), at most 16 KiB. */
export function plausibleBearerToken(token: string): boolean {
  return token.length > 0 && token.length <= 16384 && /^[\x21-\x7e]+$/.test(token);
}

/** The parts of a URL fit for a message: origin and path, without credentials, query or fragment. */
export function urlForMessage(url: string): string {
  try {
    const u = new URL(url);
    return outsideText(`${u.origin}${u.pathname}`);
  } catch {
    return outsideText(url, 100);
  }
}
