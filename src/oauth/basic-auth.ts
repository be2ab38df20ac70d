/**
 * Client credentials in `Authorization: Basic` at the token endpoint
 * (RFC 6749 §2.3.1: client id and secret form-urlencoded, joined by `:`,
 * base64-encoded as in RFC 7617). Malformed input is named, never thrown.
 */

/** The outcome of `parseBasicAuth`. */
export type BasicAuth = { ok: true; id: string; secret: string } | { ok: false; problem: string } | null;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function formDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * Reads `Authorization: Basic ...`. Returns null when the header is absent or
 * another scheme, the credentials when well formed, else the problem.
 */
export function parseBasicAuth(header: string | undefined): BasicAuth {
  if (header === undefined) return null;
  const m = /^basic(?:\s+(.*))?$/is.exec(header.trim());
  if (!m) return null;
  const b64 = (m[1] ?? '').trim();
  if (!b64) return { ok: false, problem: 'Authorization: Basic has no credentials' };
  const unpadded = b64.replace(/=+$/, '');
  const badPadding = unpadded.length % 4 === 1 || (unpadded !== b64 && b64.length % 4 !== 0);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || badPadding) {
    return { ok: false, problem: 'Authorization: Basic credentials are not valid base64' };
  }
  let text: string;
  try {
    text = UTF8.decode(Buffer.from(b64, 'base64'));
  } catch {
    return { ok: false, problem: 'Authorization: Basic credentials are not UTF-8' };
  }
  const colon = text.indexOf(':');
  if (colon === -1) return { ok: false, problem: 'Authorization: Basic credentials have no ":" between client id and secret' };
  const id = formDecode(text.slice(0, colon));
  const secret = formDecode(text.slice(colon + 1));
  if (id === undefined || secret === undefined) {
    return { ok: false, problem: 'Authorization: Basic client id or secret has bad percent-encoding' };
  }
  return { ok: true, id, secret };
}
