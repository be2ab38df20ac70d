/**
 * Headers on every answer of the hub (pages, API, error pages), as
 * JupyterHub's `tornado_settings.headers`: the defaults below, then the
 * `headers` option, where a name replaces the default (case-insensitively)
 * and an empty value removes it.
 */
export const DEFAULT_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  // no other site may frame hub pages (clickjacking); `frame-ancestors` has no <meta> equivalent
  'Content-Security-Policy': "frame-ancestors 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
};

/** The headers to send: the defaults merged with `configured` (the `headers` option). */
export function securityHeaders(configured: Readonly<Record<string, string>>): Record<string, string> {
  const out = new Map<string, [string, string]>();
  for (const [name, value] of [...Object.entries(DEFAULT_SECURITY_HEADERS), ...Object.entries(configured)]) {
    out.set(name.toLowerCase(), [name, value]);
  }
  return Object.fromEntries([...out.values()].filter(([, value]) => value !== ''));
}

/**
 * {@link securityHeaders} of the `headers` option as it is now (it may be
 * replaced by a live reload), computed again only when the option's object
 * changes.
 */
export function liveSecurityHeaders(current: () => Readonly<Record<string, string>>): () => Record<string, string> {
  let seen: Readonly<Record<string, string>> | undefined;
  let headers: Record<string, string> = {};
  return () => {
    const configured = current();
    if (configured !== seen) {
      seen = configured;
      headers = securityHeaders(configured);
    }
    return headers;
  };
}
