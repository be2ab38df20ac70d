/**
 * What a path may be: the path of a route the API is asked to add, and the
 * path of a request as it is matched against the routes.
 *
 * A browser resolves `.` and `..` segments (also written `%2e`) before it
 * sends a request, and keeps `%2F` inside its segment. The proxy matches the
 * same way: a request path is percent-decoded except for `%2F` and `%5C`
 * (so an encoded slash never moves a request to another route), and a path
 * that still holds a dot segment (sent raw, by a client that is not a
 * browser) is refused with 400 rather than matched by prefix and forwarded
 * for the target to resolve differently. Route paths with dot segments,
 * encoded slashes, backslashes, empty segments or control characters are
 * refused by the API.
 */

/** `%2F` / `%5C` (either case): an encoded `/` or `\`. */
const ENCODED_SEPARATOR = /%(2f|5c)/i;
const ENCODED_SEPARATOR_ALL = /%(2f|5c)/gi;
/** Control characters (C0 and DEL). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * The path routes are matched on: `pathname` (still encoded, without query)
 * percent-decoded, except `%2F` and `%5C`, which stay as they are. Invalid
 * percent-encoding leaves the path as sent.
 */
export function routingPath(pathname: string): string {
  if (!pathname.includes('%')) return pathname;
  try {
    return decodeURIComponent(ENCODED_SEPARATOR.test(pathname) ? pathname.replace(ENCODED_SEPARATOR_ALL, '%25$1') : pathname);
  } catch {
    return pathname;
  }
}

/** Why a request path with a dot segment is refused (400). */
export const DOT_SEGMENT_PROBLEM = "The request path has a '.' or '..' segment: send the path as a browser resolves it";

/** Whether a (decoded) path has a `.` or `..` segment. Scans only at `/.`, so ordinary paths cost one `indexOf`. */
export function hasDotSegment(path: string): boolean {
  for (let i = path.indexOf('/.'); i !== -1; i = path.indexOf('/.', i + 1)) {
    const next = path.charCodeAt(i + 2);
    if (Number.isNaN(next) || next === 47) return true; // "/." then the end or "/"
    if (next === 46) {
      const after = path.charCodeAt(i + 3);
      if (Number.isNaN(after) || after === 47) return true; // "/.." then the end or "/"
    }
  }
  return false;
}

/**
 * Why a route path given to the API (`raw`: as it came in the API URL, still
 * encoded; `decoded`: decoded once) is refused, or undefined when it is fine.
 */
export function routePathProblem(raw: string, decoded: string): string | undefined {
  if (CONTROL.test(decoded)) return 'Route path has a control character';
  if (ENCODED_SEPARATOR.test(raw)) return 'Route path has an encoded slash or backslash (%2F, %5C)';
  if (decoded.includes('\\')) return 'Route path has a backslash';
  const segments = decoded.replace(/^\/+|\/+$/g, '').split('/');
  for (const segment of segments) {
    if (segment === '' && segments.length > 1) return "Route path has an empty segment ('//')";
    // Decoded once more too: a segment `%2e` is a dot segment to anything that decodes twice.
    if (isDot(segment) || (segment.includes('%') && isDot(decodeOrSelf(segment)))) {
      return "Route path has a dot segment ('.' or '..', in any encoding), which browsers and servers resolve to another path";
    }
  }
  return undefined;
}

function isDot(segment: string): boolean {
  return segment === '.' || segment === '..';
}

function decodeOrSelf(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
