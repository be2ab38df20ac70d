/**
 * Escaping text for HTML, for modules outside src/web/ that build an HTML
 * fragment (a spawner's options form); pages use the `html` template of
 * src/web/layout.ts, which escapes with this function.
 */

/** Escapes text for HTML content and for a double- or single-quoted attribute value. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}
