/**
 * The proxy's own answers on the public port (an error page, a refused
 * request, a malformed one): what they carry whatever the path.
 *
 * - Security headers, as on the hub's pages: the page may not be framed by
 *   another site, its type is not sniffed, and it loads nothing (`default-src
 *   'none'`: the built-in pages have no script, style or image).
 * - A JSON body `{"status", "message"}` for a client that asked for JSON (an
 *   `api` path segment, as `/hub/api/…` or a single-user `/api/…`, or an Accept
 *   header preferring JSON; the hub decides the same way), an HTML page for
 *   everyone else.
 */
import http from 'node:http';

/** Headers of every answer the proxy writes itself (pages made by the error target keep their own CSP). */
export const OWN_ANSWER_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** Headers added to an error target's page relayed to the client: no `default-src`, the page is the hub's. */
export const RELAYED_ERROR_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "frame-ancestors 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
};

/** Whether the client of `target` (a request target, path and query) with this Accept header wants JSON. */
export function wantsJson(target: string | undefined, accept: string | undefined): boolean {
  const path = (target ?? '/').split('?', 1)[0] ?? '';
  if (path.split('/').includes('api')) return true;
  const a = (accept ?? '').toLowerCase();
  const json = a.indexOf('application/json');
  const html = a.indexOf('text/html');
  return json !== -1 && (html === -1 || json < html);
}

/** A JSON error body `{"status", "message"}`. */
export function jsonErrorBody(status: number, message: string): string {
  return `${JSON.stringify({ status, message })}\n`;
}

/**
 * A whole HTTP/1.1 error answer as bytes to write on a raw socket (a request
 * node's parser refused, a refused upgrade), closing the connection: status
 * line, the headers above, and a JSON or plain-text body naming the problem.
 */
export function rawErrorAnswer(status: number, message: string, json: boolean): string {
  const body = json ? jsonErrorBody(status, message) : `${status} ${http.STATUS_CODES[status] ?? 'Error'}: ${message}\n`;
  const type = json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8';
  const headers = Object.entries(OWN_ANSWER_HEADERS)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return (
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `${headers}Connection: close\r\n\r\n${body}`
  );
}

/**
 * The request target and Accept header of a request node's parser refused, read
 * from the bytes it had (`err.rawPacket`), as far as they are readable.
 */
export function peekRequest(raw: Buffer | undefined): { target: string | undefined; accept: string | undefined } {
  if (!raw) return { target: undefined, accept: undefined };
  const text = raw.subarray(0, 16 * 1024).toString('latin1');
  const target = /^[A-Z]+ (\S+)/.exec(text)?.[1];
  const accept = /\r?\naccept:[ \t]*([^\r\n]*)/i.exec(text)?.[1];
  return { target, accept };
}
