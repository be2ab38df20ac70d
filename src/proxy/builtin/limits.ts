/**
 * Connection limits of the public port: a cap on concurrent connections per
 * client address, and the answers to malformed, oversized or slow requests.
 */
import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';

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

/** The public server's `clientError` listener: a bare error answer, then close. */
export function onClientError(log: Logger): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, socket) => {
    const code = clientErrorStatus(err.code);
    log.debug({ err: err.code ?? err.message, status: code }, 'client error on public port');
    const reason = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }[code] ?? 'Bad Request';
    if (socket.writable) {
      socket.end(`HTTP/1.1 ${code} ${reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, () => socket.destroy());
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
