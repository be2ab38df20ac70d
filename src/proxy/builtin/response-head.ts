/**
 * The head of an HTTP/1.1 response (RFC 9112), parsed strictly: status line,
 * header lines, and from them how the body is framed and whether the
 * connection may be reused. `response-parser.ts` finds the head in the bytes
 * and frames the body; this is the pure part.
 */
import { CONNECTION_PROTECTED } from './connection-header.js';

/** How the end of a response body is found (RFC 9112 §6.3). */
export type Framing = 'none' | 'length' | 'chunked' | 'close';

export interface ResponseHead {
  readonly statusCode: number;
  readonly statusText: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly httpMinor: number;
  /** End-to-end headers, flat `[name, value, ...]`, names as the target spelled them. */
  readonly headers: string[];
  readonly framing: Framing;
  /** The body length when `framing` is `length`. */
  readonly contentLength: number;
  /** The target lets the connection carry another request after this response. */
  readonly keepAlive: boolean;
  /** The target's `Keep-Alive: timeout=<s>` hint, in ms. */
  readonly keepAliveTimeoutMs: number | undefined;
}

/** A response the proxy cannot forward safely; `message` names the problem. */
export class ResponseParseError extends Error {
  override readonly name = 'ResponseParseError';
  readonly code = 'ERR_INVALID_RESPONSE';
}

export function fail(message: string): never {
  throw new ResponseParseError(message);
}

/** Largest Content-Length: exact in a double. */
const MAX_LENGTH_DIGITS = 15;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Control characters other than HTAB (CR and LF included): never in a status line or field value. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;
/** A control character other than HTAB anywhere in a head, CR and LF allowed only as CRLF pairs. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const HEAD_CTL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([^]*))?$/;
const DIGITS = /^\d+$/;

/**
 * Parses a response head (`text`: the status line and header lines, without
 * the final CRLF CRLF) to the response to a request (`headRequest`: a HEAD
 * request, whose answer has no body). Returns undefined for an interim (1xx)
 * answer, after which the final one follows. Throws `ResponseParseError`.
 */
export function parseResponseHead(text: string, headRequest: boolean): ResponseHead | undefined {
  const lines = text.split('\r\n');
  const statusLine = lines[0] as string;
  const m = STATUS_LINE.exec(statusLine);
  // One scan of the whole head; the line-by-line checks below only run to name the culprit.
  const suspect = HEAD_CTL.test(text);
  if (m === null || (suspect && CTL.test(statusLine))) fail(`invalid status line '${statusLine.slice(0, 64)}'`);
  const httpMinor = Number(m[1]);
  const statusCode = Number(m[2]);
  let headers: string[] = [];
  let lengths: string[] | undefined;
  let codings: string[] | undefined;
  let connection: string[] | undefined;
  let keepAliveTimeoutMs: number | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const c = line.charCodeAt(0);
    // Folded whether or not the continuation holds a colon.
    if (c === 32 || c === 9) fail('obsolete line folding in a response header');
    const colon = line.indexOf(':');
    if (colon <= 0) fail(`malformed response header line '${line.slice(0, 64)}'`);
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) fail(`invalid response header name '${name.slice(0, 64)}'`);
    const value = trimOws(line.slice(colon + 1));
    if (suspect && CTL.test(value)) fail(`invalid character in response header '${name}'`);
    // Only names of these lengths can be framing or hop-by-hop headers.
    const len = name.length;
    if (len === 7 && name.toLowerCase() === 'trailer') continue; // trailers are not forwarded
    if (len === 10 || len === 14 || len === 16 || len === 17) {
      const lower = name.toLowerCase();
      if (lower === 'content-length') {
        if (value.includes(',')) (lengths ??= []).push(...value.split(',').map(trimOws));
        else (lengths ??= []).push(value);
      } else if (lower === 'transfer-encoding') {
        (codings ??= []).push(...listMembers(value));
        continue;
      } else if (lower === 'connection') {
        const lv = value.toLowerCase();
        if (lv === 'keep-alive' || lv === 'close') (connection ??= []).push(lv);
        else (connection ??= []).push(...listMembers(value));
        continue;
      } else if (lower === 'keep-alive') {
        const t = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i.exec(value);
        if (t !== null) keepAliveTimeoutMs = Number(t[1]) * 1000;
        continue;
      } else if (lower === 'proxy-connection') {
        continue;
      }
    }
    headers.push(name, value);
  }

  if (statusCode < 200) {
    if (statusCode === 101) fail('101 Switching Protocols answer to a request that asked for no upgrade');
    // Interim answer (100 Continue, 103 Early Hints): the final one follows.
    return undefined;
  }

  // `close` wins over `keep-alive`, in HTTP/1.0 too.
  let keepAlive = connection?.includes('close') !== true && (httpMinor === 1 || connection?.includes('keep-alive') === true);
  let framing: Framing;
  let contentLength = 0;
  if (headRequest || statusCode === 204 || statusCode === 304) {
    framing = 'none';
  } else if (codings !== undefined) {
    const chunkedAt = codings.indexOf('chunked');
    if (chunkedAt !== -1 && chunkedAt !== codings.length - 1) fail('Transfer-Encoding with chunked not applied last');
    framing = chunkedAt === -1 ? 'close' : 'chunked';
    // Transfer-Encoding in an HTTP/1.0 response: faulty framing, close after it (RFC 9112 §6.1).
    if (framing === 'close' || httpMinor === 0) keepAlive = false;
    if (lengths !== undefined) {
      // Both: Transfer-Encoding wins, and the connection is not trusted afterwards (RFC 9112 §6.3).
      keepAlive = false;
      headers = withoutName(headers, 'content-length');
    }
  } else if (lengths !== undefined) {
    const first = lengths[0] as string;
    if (!lengths.every((l) => l === first) || !DIGITS.test(first)) fail(`invalid Content-Length '${lengths.join(', ').slice(0, 64)}'`);
    if (first.length > MAX_LENGTH_DIGITS) fail('Content-Length too large');
    contentLength = Number(first);
    framing = 'length';
    // Repeated identical values: forward one, where the first was.
    if (lengths.length > 1) headers = withOneLength(headers, first);
  } else {
    framing = 'close';
    keepAlive = false;
  }
  if (connection !== undefined) {
    // Never the framing headers: the Content-Length kept is the one the body was framed by.
    const named = connection.filter((t) => t !== 'close' && t !== 'keep-alive' && !CONNECTION_PROTECTED.has(t));
    for (const t of named) headers = withoutName(headers, t);
  }
  return { statusCode, statusText: m[3] ?? '', httpMinor, headers, framing, contentLength, keepAlive, keepAliveTimeoutMs };
}

/** `value` without leading and trailing spaces and tabs (OWS). */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 32 || value.charCodeAt(start) === 9)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 32 || value.charCodeAt(end - 1) === 9)) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** Lower-case, trimmed, non-empty members of a comma-separated list. */
function listMembers(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = trimOws(part).toLowerCase();
    if (t !== '') out.push(t);
  }
  return out;
}

/** Whether `line` is `name: value`, as a header line must be (no obs-fold, which starts with a space). */
export function isField(line: string): boolean {
  const colon = line.indexOf(':');
  return colon > 0 && TOKEN.test(line.slice(0, colon)) && !CTL.test(line);
}

/** Flat header pairs with only the first `Content-Length`, set to `value`, its name as spelled. */
function withOneLength(headers: string[], value: string): string[] {
  const out: string[] = [];
  let seen = false;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.toLowerCase() !== 'content-length') {
      out.push(name, headers[i + 1] as string);
    } else if (!seen) {
      seen = true;
      out.push(name, value);
    }
  }
  return out;
}

/** Flat header pairs without those named `lowerName` (case-insensitive). */
function withoutName(headers: string[], lowerName: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() !== lowerName) out.push(headers[i] as string, headers[i + 1] as string);
  }
  return out;
}
