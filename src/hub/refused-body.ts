/**
 * Reading the rest of a request body the hub refused (413, body over
 * `max_body_size`) instead of closing the connection on it.
 *
 * Fastify answers a too-large body at once with `Connection: close`, and the
 * socket is closed with the body's bytes unread, which makes the kernel reset
 * the connection. A client (or the proxy) still writing that body then gets
 * EPIPE/ECONNRESET on its next write, often before it has read the 413: the
 * proxy can only answer 503, and a browser shows a network error. Reading and
 * dropping the rest of the body lets the writer finish and read the answer.
 * The reading is bounded: past {@link MAX_DRAINED_BYTES} the connection is
 * closed as before.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Most bytes of a refused body read (and dropped) before the connection is closed anyway. */
export const MAX_DRAINED_BYTES = 64 * 1024 * 1024;

/**
 * Called where a 413 answer is made (the error handler): the connection is
 * kept and the unread rest of the body is read and dropped, up to `maxBytes`
 * (declared by Content-Length, or counted for a chunked body). A body
 * declared larger than that is not read, and the connection closes.
 */
export function drainRefusedBody(req: FastifyRequest, reply: FastifyReply, maxBytes = MAX_DRAINED_BYTES): void {
  const raw = req.raw;
  if (raw.complete || raw.destroyed) return;
  const declared = Number(raw.headers['content-length'] ?? 0);
  if (!(declared <= maxBytes)) return; // too much to read: the connection closes
  // Said explicitly: removing Fastify's `close` would still close (node then keeps its own decision).
  reply.header('connection', 'keep-alive');
  let seen = 0;
  raw.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > maxBytes) raw.socket.destroy();
  });
  raw.on('error', () => undefined);
  raw.resume();
}
