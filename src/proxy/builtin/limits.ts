/**
 * Connection limits of the public port: a cap on concurrent connections per
 * client address, and the answers to malformed, oversized or slow requests.
 */
import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { peekRequest, rawErrorAnswer, wantsJson } from './own-answer.js';

/** Default `--max-header-size`, in bytes (node's own default). */
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;

/**
 * Refuses (destroys) a new TCP connection when its remote address already has
 * `max` open ones. `max` 0 disables the limit. Counts drop as sockets close.
 */
export function limitConnectionsPerClient(server: Server, max: number, log: Logger): void {
  if (max <= 0) return;
  const counts = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const addr = socket.remoteAddress ?? '';
    const current = counts.get(addr) ?? 0;
    if (current >= max) {
      log.warn({ client: addr, max }, 'too many connections from one client; refusing');
      socket.destroy();
      return;
    }
    counts.set(addr, current + 1);
    socket.once('close', () => {
      const n = (counts.get(addr) ?? 1) - 1;
      if (n <= 0) counts.delete(addr);
      else counts.set(addr, n);
    });
  });
}

/** The status node's parser errors map to; anything else is a 400. */
export function clientErrorStatus(code: string | undefined): number {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    default:
      return 400;
  }
}

/** A request target longer than this in a head too large for node's parser makes the answer 414, not 431 (as the hub). */
const LONG_URL = 8192;

/** What the answer to a parser error says: node's own reason when it is plain text, else a general one. */
function clientErrorMessage(status: number, err: NodeJS.ErrnoException & { reason?: unknown }): string {
  if (status === 414) return 'URL too long';
  if (status === 431) return 'request headers or URL too large';
  if (status === 408) return 'the request was not received in time';
  const reason = typeof err.reason === 'string' && /^[\x20-\x7e]{1,200}$/.test(err.reason) ? `: ${err.reason}` : '';
  return `malformed HTTP request${reason}`;
}

/**
 * The public server's `clientError` listener: an error answer naming the
 * problem (JSON for an API client, see own-answer.ts) with the proxy's
 * security headers, then close.
 */
export function onClientError(log: Logger): (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) => void {
  return (err, socket) => {
    const { target, accept } = peekRequest(err.rawPacket);
    // a head too large because of its URL is a 414, as the hub answers it
    const code = err.code === 'HPE_HEADER_OVERFLOW' && (target?.length ?? 0) > LONG_URL ? 414 : clientErrorStatus(err.code);
    log.debug({ err: err.code ?? err.message, status: code }, 'client error on public port');
    if (socket.writable) {
      socket.end(rawErrorAnswer(code, clientErrorMessage(code, err), wantsJson(target, accept)), () => socket.destroy());
      return;
    }
    socket.destroy();
  };
}

/**
 * Node http server options for the limits and timeouts. `requestTimeoutMs`
 * bounds reading a whole request (headers and body); node checks it every
 * `connectionsCheckingInterval`, which is shortened for short timeouts.
 */
export function serverLimitOptions(opts: {
  maxHeaderSize?: number | undefined;
  requestTimeoutMs?: number | undefined;
  keepAliveTimeoutMs?: number | undefined;
}): { maxHeaderSize: number; keepAliveTimeout: number; requestTimeout?: number; headersTimeout?: number; connectionsCheckingInterval?: number } {
  const out: ReturnType<typeof serverLimitOptions> = {
    maxHeaderSize: opts.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5000,
  };
  const rt = opts.requestTimeoutMs;
  if (rt !== undefined) {
    out.requestTimeout = rt;
    if (rt > 0) {
      out.headersTimeout = Math.min(60_000, rt);
      out.connectionsCheckingInterval = Math.max(50, Math.min(30_000, Math.floor(rt / 4)));
    }
  }
  return out;
}
