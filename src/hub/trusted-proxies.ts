/**
 * Which peers the hub believes about `X-Forwarded-For/Proto/Host`
 * (`trusted_downstream_ips`, as JupyterHub names it).
 *
 * Passed to Fastify's `trustProxy`, which uses proxy-addr: the client address
 * (`req.ip`) is the rightmost `X-Forwarded-For` entry that is not a trusted
 * proxy, so whatever a client writes in front of the list itself is never
 * reached; `req.protocol` and `req.host` take the last `X-Forwarded-Proto` /
 * `X-Forwarded-Host` entry, and only when the immediate peer is trusted.
 * A peer not listed is the client, whatever headers it sends. The default
 * (src/config/schema.ts) is loopback: the proxy the hub starts on its machine.
 */
import net from 'node:net';
import { ConfigError } from '../lib/errors.js';

/**
 * Checks `entries` (IP addresses or CIDR ranges) and returns them for
 * Fastify's `trustProxy`. Throws `ConfigError` naming the first bad entry.
 */
export function trustedProxies(entries: readonly string[]): string[] {
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    const ip = slash === -1 ? entry : entry.slice(0, slash);
    const version = net.isIP(ip);
    const bits = slash === -1 ? undefined : entry.slice(slash + 1);
    const maxBits = version === 6 ? 128 : 32;
    if (version === 0 || (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > maxBits))) {
      throw new ConfigError(`config: trusted_downstream_ips: '${entry.slice(0, 64)}' is not an IP address or CIDR range (e.g. 10.0.0.5, 10.0.0.0/8, fd00::/8)`);
    }
  }
  return [...entries];
}
