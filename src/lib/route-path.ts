/**
 * The containment check for URL paths the hub builds from names (proxy routes
 * such as `/user/<name>/<server>/`): a path whose segments a URL parser or a
 * server would resolve as `.` or `..` does not stay where it was built.
 * The WHATWG URL parser (browsers, node's fetch and `URL`) resolves `.`, `..`
 * and their `%2e` forms, reads `\` as `/`, and deletes tabs and newlines
 * before it does; some servers decode a path twice. Name rules (lib/names.ts)
 * keep such names out; this is the second lock where a route is sent.
 */

/** How many rounds of percent-decoding are tried (`%25252e` needs three). */
const DECODE_ROUNDS = 4;

function decodeOnce(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    // a malformed escape: decode the %2e and %5c / %2f escapes alone
    return s.replace(/%2e/gi, '.').replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
  }
}

/**
 * The first segment of `urlPath` that is, or decodes to, a dot segment (or that
 * hides a separator: `%2f`, `%5c` and their double-encoded forms), or
 * undefined when there is none.
 *
 * @example dotSegmentIn('/user/alice/') === undefined
 * @example dotSegmentIn('/user/%2E%2e/') === '%2E%2e'
 */
export function dotSegmentIn(urlPath: string): string | undefined {
  for (const segment of urlPath.replace(/[\t\n\r]/g, '').split(/[/\\]/)) {
    let s = segment;
    for (let round = 0; round <= DECODE_ROUNDS; round++) {
      if (s === '.' || s === '..' || (round > 0 && /[/\\]/.test(s))) return segment;
      if (!s.includes('%')) break;
      s = decodeOnce(s).replace(/[\t\n\r]/g, '');
    }
  }
  return undefined;
}
