/**
 * Where the hub may send an OAuth authorization code: exactly the redirect URI
 * registered for the client (JupyterHub compares the strings, RFC 6749 §3.1.2
 * and §4.1.3), never a URI that merely shares its path. A registered URI that
 * is a path (`/user/alice/oauth_callback`, what single-user servers register)
 * may also be given as an absolute URL on the hub's own origin, as clients
 * that resolve it against the page they were on send it.
 */

/**
 * Whether `uri` is a plain absolute path: one leading `/` (not `//`, which a
 * browser reads as another host), no backslash (read as `/`), no control or
 * whitespace characters (stripped or folded by browsers), no `#`.
 */
export function isLocalPath(uri: string): boolean {
  if (!uri.startsWith('/') || uri.startsWith('//')) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\\#\s\u0000-\u001f\u007f]/.test(uri)) return false;
  // percent-encoded slashes, backslashes or dots at the start are read differently by some servers
  return !/^\/(%2f|%5c)/i.test(uri);
}

/** Whether `uri` is an absolute http(s) URL without userinfo, written as the URL parser would write it. */
function isPlainAbsoluteUrl(uri: string): boolean {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  if (u.username !== '' || u.password !== '' || u.hash !== '') return false;
  // what the browser will follow must be what was registered, byte for byte
  return u.href === uri;
}

/**
 * Whether the redirect URI a client `given` matches the `registered` one.
 *
 * @param origin the hub's own origin as the browser sees it, `proto://host[:port]`
 *   (from the request: its Host, or the X-Forwarded-* of a trusted proxy).
 */
export function redirectUriMatches(given: string, registered: string, origin: string): boolean {
  if (isLocalPath(registered)) return given === registered || given === `${origin}${registered}`;
  return given === registered && isPlainAbsoluteUrl(registered);
}

/** `uri` with `params` added to its query (`uri` is a matched redirect URI). */
export function withQuery(uri: string, params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, v);
  const s = q.toString();
  if (!s) return uri;
  return `${uri}${uri.includes('?') ? '&' : '?'}${s}`;
}
