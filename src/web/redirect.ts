import type { FastifyReply, FastifyRequest } from 'fastify';

/** An origin no request can have: a target that resolves elsewhere leaves the hub. */
const PROBE_ORIGIN = 'http://hub.invalid';

/**
 * Characters a browser strips or rewrites before it resolves a URL (C0 and C1
 * controls, DEL, every Unicode space and line separator, the byte-order mark)
 * and the backslash, which browsers read as `/` (so `/\e.com` is `//e.com`).
 * A target containing any of them is refused rather than repaired.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARS = /[\u0000-\u0020\u007f-\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff\\]/u;

/**
 * A redirect target that stays on the hub's origin, as a browser will read it,
 * or undefined. The target must be a path (`/…`, not `//host` or `scheme:`),
 * free of control characters, white space and backslashes; it is resolved with
 * the WHATWG URL parser (what browsers use) against a probe origin, must stay
 * on that origin, and comes back as the parser writes it: path, query and
 * fragment, dot segments resolved, everything else percent-encoded, so it is
 * a valid `Location` header. A result that would start with `//` (from
 * `/.//e.com` or `/a/..//e.com`) is refused too.
 */
export function localRedirectTarget(target: unknown): string | undefined {
  if (typeof target !== 'string' || target.length === 0 || target.length > 8192) return undefined;
  if (!target.startsWith('/') || target.startsWith('//') || UNSAFE_CHARS.test(target)) return undefined;
  let url: URL;
  try {
    url = new URL(target, PROBE_ORIGIN);
  } catch {
    return undefined;
  }
  if (url.origin !== PROBE_ORIGIN) return undefined;
  const out = `${url.pathname}${url.search}${url.hash}`;
  if (!out.startsWith('/') || out.startsWith('//') || !/^[\x21-\x7e]+$/.test(out)) return undefined;
  return out;
}

/**
 * Sends a redirect (302 unless told) to `target` when it is a safe local target (see
 * {@link localRedirectTarget}), else to `fallback`. Every redirect the hub
 * builds from a request goes through here, so none can leave the hub or carry
 * a character Fastify refuses in a header (which would be a 500).
 */
export function redirectLocal(reply: FastifyReply, target: unknown, fallback: string, status: 302 | 303 | 307 = 302): FastifyReply {
  const location = localRedirectTarget(target) ?? localRedirectTarget(fallback) ?? '/';
  return reply.redirect(location, status);
}

/**
 * The raw rest of a request's URL after `prefix` (path and query, as the
 * client sent them), for redirects that keep the rest of the path. When the
 * raw URL does not start with `prefix` (the router matched a percent-encoded
 * form of it), the decoded wildcard parameter is re-encoded segment by segment.
 */
export function urlAfterPrefix(req: FastifyRequest, prefix: string): string {
  if (req.url.startsWith(prefix)) return req.url.slice(prefix.length);
  const rest = String((req.params as Record<string, unknown>)['*'] ?? '');
  const q = req.url.indexOf('?');
  return rest.split('/').map(encodeURIComponent).join('/') + (q === -1 ? '' : req.url.slice(q));
}
