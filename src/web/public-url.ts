import type { FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { clientProtocol } from '../hub/cookies.js';
import { HubError } from '../lib/errors.js';

/** A Host header value: a DNS name, IPv4 or bracketed IPv6, optional port. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;

/**
 * The public URL of the hub's prefix as the browser sees it, e.g.
 * `https://hub.example.org/hub/`, from the request's protocol and host
 * (forwarded ones only from trusted proxies). A host that is not a plain
 * host name (and port) is refused (400), so it never reaches a backend's
 * redirect URL.
 */
export function publicHubUrl(hub: Hub, req: FastifyRequest): string {
  const host = req.host;
  if (typeof host !== 'string' || !HOST.test(host)) throw new HubError(400, 'The request has no valid Host header');
  return `${clientProtocol(req)}://${host}${hub.urls.hub}`;
}
