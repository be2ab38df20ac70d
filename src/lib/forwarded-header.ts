/**
 * The `proto` of the first (client-most) element of an RFC 7239 `Forwarded`
 * header (`Forwarded: for=192.0.2.1;proto=https, for=10.0.0.2;proto=http`),
 * lower-cased, or undefined when there is none or it is not `http`/`https`.
 * Several `Forwarded` headers count as one list, in order (node joins them
 * with `, `). Quoted values (`proto="https"`) are read; a comma or semicolon
 * inside quotes does not split.
 */
export function forwardedProto(header: string | string[] | undefined): string | undefined {
  const text = Array.isArray(header) ? header.join(', ') : header;
  if (!text) return undefined;
  for (const pair of splitOutsideQuotes(splitOutsideQuotes(text.slice(0, 4096), ',')[0] ?? '', ';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim().toLowerCase() !== 'proto') continue;
    const value = pair
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    return value === 'http' || value === 'https' ? value : undefined;
  }
  return undefined;
}

function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    else if (c === sep && !quoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}
