/**
 * FirecREST's text rules on top of src/lib/outside-text.ts: secrets kept out
 * of messages, bearer tokens checked, URLs shown without credentials. Pure.
 */
import { outsideText } from '../../lib/outside-text.js';

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
