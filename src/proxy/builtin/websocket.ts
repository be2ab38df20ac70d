/**
 * Websocket forwarding: a raw TCP (or TLS) connection to the target, the
 * request head written by hand; once the target answers `101`, bytes relayed
 * both ways. Either side closing or failing tears down both. Only `GET` with
 * `Upgrade: websocket` is forwarded (as CHP); a non-101 answer is relayed as a
 * plain answer and the client socket closed (`upgrade-refusal.ts`).
 */
import net from 'node:net';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { logUrl, requestPath, routeFor, upstreamHead } from './forward.js';
import type { ProxyContext } from './forward.js';
import { DOT_SEGMENT_PROBLEM, hasDotSegment, routingPath } from './route-path.js';
import { connectTo } from './upstream-connection.js';
import { rawErrorAnswer, wantsJson } from './own-answer.js';
import { classifyUpgradeAnswer, relayRefusal, type Refusal } from './upgrade-refusal.js';
import type { ParsedTarget } from './upstreams.js';

/** Writes an HTTP error answer on a raw socket (its reason as the body, JSON for an API client) and closes it. */
function rejectUpgrade(socket: Duplex, req: IncomingMessage, code: number, reason = ''): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(rawErrorAnswer(code, reason || (http.STATUS_CODES[code] ?? 'Error'), wantsJson(req.url, req.headers.accept)), () => socket.destroy());
}

/**
 * Why an upgrade request is not forwarded, or undefined when it is. As CHP
 * (node-http-proxy) does, only a `GET` with `Upgrade: websocket` goes through;
 * CHP drops the others without a word, this answers 400 naming the problem.
 * A websocket handshake has no body: one with a body is refused too (its
 * bytes would otherwise reach the target before it agreed to the upgrade).
 */
export function upgradeProblem(req: IncomingMessage): string | undefined {
  if (req.method !== 'GET') return `only GET requests can be upgraded (to websocket), not ${String(req.method).slice(0, 16)}`;
  const upgrade = req.headers.upgrade?.trim().toLowerCase();
  if (upgrade !== 'websocket') return 'only websocket upgrades are forwarded (Upgrade: websocket)';
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')) return 'a websocket upgrade request has no body';
  return undefined;
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
  const path = requestPath(req.url);
  if (hasDotSegment(routingPath(path.pathname))) {
    rejectUpgrade(socket, req, 400, DOT_SEGMENT_PROBLEM);
    return;
  }
  const route = routeFor(ctx.table, req, ctx.hostRouting, path);
  if (route === undefined) {
    ctx.log.debug({ url: logUrl(req.url) }, 'no route for websocket');
    rejectUpgrade(socket, req, 404);
    return;
  }
  let target: ParsedTarget;
  try {
    target = ctx.upstreams.resolve(route.data.target);
  } catch (err) {
    ctx.log.error({ route: route.key, target: route.data.target, err: String(err) }, 'bad route target');
    rejectUpgrade(socket, req, 500);
    return;
  }

  const problem = upgradeProblem(req);
  if (problem !== undefined) {
    ctx.log.debug({ method: req.method, url: logUrl(req.url), problem }, 'upgrade refused');
    rejectUpgrade(socket, req, 400, problem);
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

  // Until the target has answered, nothing of the client's is read: only the
  // request head went out. A 101 opens the tunnel; any other answer is relayed
  // and the client socket closed, so the target never sees a byte more.
  let answer: Buffer | undefined;
  let refusal: Refusal | undefined;
  const onAnswer = (chunk: Buffer): void => {
    try {
      if (refusal !== undefined) {
        refusal.push(chunk);
        return;
      }
      answer = answer === undefined ? chunk : Buffer.concat([answer, chunk]);
      const seen = classifyUpgradeAnswer(answer);
      if (seen.kind === 'more') return;
      upstream.off('data', onAnswer);
      answer = undefined;
      if (seen.kind === 'switch') {
        socket.write(seen.bytes);
        if (head.length > 0) upstream.write(head);
        relay(socket, upstream);
        relay(upstream, socket);
        return;
      }
      ctx.log.debug({ url: logUrl(req.url), route: route.key }, 'the target refused the upgrade');
      refusal = relayRefusal(socket, teardown);
      upstream.on('data', onAnswer);
      upstream.once('end', onAnswerEnd);
      refusal.push(seen.bytes);
    } catch (err) {
      onBadAnswer(err as Error);
    }
  };
  const onAnswerEnd = (): void => {
    try {
      refusal?.end();
    } catch (err) {
      onBadAnswer(err as Error);
    }
  };
  const onBadAnswer = (err: Error): void => {
    ctx.metrics?.upstreamError();
    ctx.log.warn({ url: logUrl(req.url), route: route.key, err: err.message }, 'invalid answer to a websocket upgrade');
    upstream.destroy();
    if (closed) return;
    closed = true;
    open.delete(socket);
    // Nothing of the answer went to the client yet: it gets a 502.
    if (refusal?.headSent !== true) rejectUpgrade(socket, req, 502);
    else socket.destroy();
  };

  upstream.once(target.secure ? 'secureConnect' : 'connect', () => {
    connected = true;
    upstream.setNoDelay(true);
    upstream.setKeepAlive(true, 30_000);
    upstream.write(requestHead(req, target, ctx));
    upstream.on('data', onAnswer);
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    ctx.metrics?.upstreamError();
    if (!connected && !closed) {
      ctx.log.warn({ url: logUrl(req.url), route: route.key, err: err.code ?? err.message }, 'websocket target unreachable');
      closed = true;
      open.delete(socket);
      upstream.destroy();
      rejectUpgrade(socket, req, 503);
      return;
    }
    teardown();
  });
  // Once a refusal is relayed whole, the client socket is ended gently (its last bytes may still be queued).
  upstream.on('close', () => (refusal?.ended === true ? upstream.destroy() : teardown()));
  socket.on('close', teardown);
  if (socket instanceof net.Socket) {
    socket.setNoDelay(true);
    socket.setTimeout(0);
  }
}
