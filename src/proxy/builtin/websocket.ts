/**
 * Websocket (and any other HTTP/1.1 `Upgrade`) forwarding: a raw TCP (or TLS)
 * connection to the target, the request head written by hand, then bytes
 * relayed both ways. Either side closing or failing tears down both.
 */
import net from 'node:net';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { logUrl, requestPath, routeFor, upstreamHead } from './forward.js';
import type { ProxyContext } from './forward.js';
import { connectTo } from './upstream-connection.js';
import type { ParsedTarget } from './upstreams.js';

/** Writes a bodyless HTTP error answer on a raw socket and closes it. */
function rejectUpgrade(socket: Duplex, code: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status = `${code} ${http.STATUS_CODES[code] ?? ''}`;
  socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, () => socket.destroy());
}

function requestHead(req: IncomingMessage, target: ParsedTarget, ctx: ProxyContext): string {
  let head = `${req.method ?? 'GET'} ${target.basePath}${requestPath(req.url).pathAndQuery} HTTP/1.1\r\n`;
  const { headers } = upstreamHead(req, ctx.xForward, true, ctx.secure, ctx.customHeaders);
  for (let i = 0; i + 1 < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return head + '\r\n';
}

/**
 * Handles one `upgrade` event of the public server. `open` holds every live
 * client socket so that shutdown can close them.
 */
export function handleUpgrade(
  ctx: ProxyContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  open: Set<Duplex>,
): void {
  socket.on('error', () => socket.destroy());
  const route = routeFor(ctx.table, req, ctx.hostRouting);
  if (route === undefined) {
    ctx.log.debug({ url: logUrl(req.url) }, 'no route for websocket');
    rejectUpgrade(socket, 404);
    return;
  }
  let target: ParsedTarget;
  try {
    target = ctx.upstreams.resolve(route.data.target);
  } catch (err) {
    ctx.log.error({ route: route.key, target: route.data.target, err: String(err) }, 'bad route target');
    rejectUpgrade(socket, 500);
    return;
  }

  const upstream = connectTo(target);
  open.add(socket);
  let connected = false;
  let closed = false;
  const teardown = (): void => {
    if (closed) return;
    closed = true;
    open.delete(socket);
    upstream.destroy();
    socket.destroy();
  };
  // Bytes one way, with backpressure; every chunk counts as activity of the route.
  const relay = (from: Duplex, to: Duplex): void => {
    from.on('data', (chunk: Buffer) => {
      route.lastActivity = Date.now();
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.on('end', () => to.end());
  };

  upstream.once(target.secure ? 'secureConnect' : 'connect', () => {
    connected = true;
    upstream.setNoDelay(true);
    upstream.setKeepAlive(true, 30_000);
    upstream.write(requestHead(req, target, ctx));
    if (head.length > 0) upstream.write(head);
    // Only now: a 'data' listener starts the flow.
    relay(socket, upstream);
    relay(upstream, socket);
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    ctx.metrics?.upstreamError();
    if (!connected && !closed) {
      ctx.log.warn({ url: logUrl(req.url), route: route.key, err: err.code ?? err.message }, 'websocket target unreachable');
      closed = true;
      open.delete(socket);
      upstream.destroy();
      rejectUpgrade(socket, 503);
      return;
    }
    teardown();
  });
  upstream.on('close', teardown);
  socket.on('close', teardown);
  if (socket instanceof net.Socket) {
    socket.setNoDelay(true);
    socket.setTimeout(0);
  }
}
