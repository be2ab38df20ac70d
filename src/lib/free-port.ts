/**
 * A port for a process the hub starts (a local server): free when picked,
 * and still free when that process binds it a moment later.
 *
 * The usual way (bind port 0, read the port, close) has two races that a
 * spawn storm hits. Seen in the spawn-storm bench: two servers were handed the
 * same port, the second died with EADDRINUSE, and the hub found "its" server
 * ready because the first one answered there.
 *  - The kernel may give a port just closed to the next bind to port 0, so
 *    two spawns picking at nearly the same time can get the same port.
 *  - A port in the ephemeral range may become the source port of any
 *    outgoing connection on the machine (the hub's own polls, the proxy's
 *    requests) before the server binds it.
 * So a port is picked at random below the ephemeral range, where no
 * outgoing connection takes its source port, is checked by binding it, and
 * is not handed out again by this process for HOLD_MS. Where the range
 * leaves no room below it, the kernel's pick (port 0) is used, still never
 * repeating a port held.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** How long a port handed out is not handed out again (a server binds within its start, usually seconds). */
export const HOLD_MS = 120_000;
/** Lowest port picked: above the well-known and most registered services' ports. */
const LOWEST = 10_000;
/** Random tries before falling back to the kernel's pick. */
const TRIES = 40;

const held = new Map<number, number>();
/** The kernel's range, read once (it is a boot-time setting). */
let kernelRange: [number, number] | undefined;

/** The kernel's ephemeral port range (`net.ipv4.ip_local_port_range`), or Linux's default when unreadable. */
export function ephemeralRange(file = '/proc/sys/net/ipv4/ip_local_port_range'): [number, number] {
  try {
    const [lo, hi] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi) && lo! > 0 && hi! >= lo!) return [lo!, hi!];
  } catch {
    // not Linux, or no /proc: the default below
  }
  return [32768, 60999];
}

/** Binds `port` on `ip` (0: any) and closes it; resolves the port bound, or undefined when it is in use. */
function tryBind(ip: string, port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(undefined) : reject(err)));
    srv.listen(port, ip, () => {
      const bound = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(bound));
    });
  });
}

function isHeld(port: number, now: number): boolean {
  const at = held.get(port);
  if (at === undefined) return false;
  if (now - at < HOLD_MS) return true;
  held.delete(port);
  return false;
}

function hold(port: number, now: number): number {
  held.set(port, now);
  // forget expired ones now and then, so the map stays the size of the recent spawns
  if (held.size > 1000) for (const [p, at] of held) if (now - at >= HOLD_MS) held.delete(p);
  return port;
}

export interface FreePortOptions {
  /** The ephemeral range to stay below (default: the kernel's). */
  ephemeral?: [number, number];
  /** Random number in [0, 1) (tests). */
  random?: () => number;
  now?: () => number;
}

/** A port free on `ip` now, not handed out by this process within HOLD_MS, below the ephemeral range where there is room. */
export async function freePort(ip: string, opts: FreePortOptions = {}): Promise<number> {
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const [ephemeralLow] = opts.ephemeral ?? (kernelRange ??= ephemeralRange());
  const span = ephemeralLow - LOWEST;
  if (span > 1000) {
    for (let i = 0; i < TRIES; i++) {
      const port = LOWEST + Math.floor(random() * span);
      if (isHeld(port, now())) continue;
      if ((await tryBind(ip, port)) !== undefined && !isHeld(port, now())) return hold(port, now());
    }
  }
  for (let i = 0; i < TRIES; i++) {
    const port = await tryBind(ip, 0);
    if (port !== undefined && !isHeld(port, now())) return hold(port, now());
  }
  throw new Error(`no free port on ${ip}: ${TRIES} tries gave only ports in use or handed out in the last ${HOLD_MS / 1000} s`);
}

/** Forgets every port held (tests). */
export function releaseHeldPorts(): void {
  held.clear();
}
