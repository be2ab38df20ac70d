import { isIPv6 } from 'node:net';
import type { FastifyReply } from 'fastify';
import { AuthError } from './auth-error.js';
import type { LoginRateLimitOptions } from './login-rate-limit-config.js';
import { normalizeUsername } from '../lib/names.js';

/** What {@link LoginRateLimiter.check} says: go ahead, or wait `retryAfter` seconds. */
export type RateLimitVerdict = { ok: true } | { ok: false; retryAfter: number };

interface Window {
  failures: number;
  /** Logins let through by `check` whose outcome is not recorded yet. */
  inFlight: number;
  /** When this window ends (ms since the epoch). */
  resetAt: number;
}

/**
 * Counts failed logins per client address and per user name, each in a fixed
 * window that starts at its first counted attempt (`auth.login_rate_limit`
 * options). A key with `attempts` failures in its window is refused until the
 * window ends.
 *
 * Logins let through by {@link check} but not finished yet count as failures
 * until {@link recordFailure} or {@link recordSuccess} says how they ended, so
 * many logins sent at once get no more tries than the same logins one by one
 * (a login that ends with neither call stays counted until the window ends).
 *
 * Addresses: an IPv6 address counts by its /64 (one host usually holds a whole
 * /64), an IPv4-mapped IPv6 address as its IPv4 address.
 *
 * State is in this process's memory only (a restart forgets it; hub processes
 * behind one load balancer count apart). Memory is bounded: each table keeps at
 * most `max_tracked` keys; when full, expired windows are dropped, then the
 * oldest. Addresses and names are separate tables, so spraying user names does
 * not push an address's count out.
 */
export class LoginRateLimiter {
  private readonly byIp = new Map<string, Window>();
  private readonly byName = new Map<string, Window>();

  constructor(
    private readonly opts: LoginRateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether a login from `ip` as `name` may be tried now. Call before checking
   * credentials, then call recordFailure or recordSuccess with its outcome.
   */
  check(ip: string, name: string): RateLimitVerdict {
    const verdict = this.peek(ip, name);
    if (!verdict.ok || this.opts.attempts === 0) return verdict;
    const now = this.now();
    this.window(this.byIp, addressKey(ip), now).inFlight += 1;
    if (nameKey(name)) this.window(this.byName, nameKey(name), now).inFlight += 1;
    return { ok: true };
  }

  /**
   * Whether `ip` (and `name`, when not empty) is blocked now, without counting
   * a login in flight: for logins whose credentials cannot be guessed (a signed
   * token, a provider's callback), which then call recordFailure when refused.
   */
  peek(ip: string, name: string): RateLimitVerdict {
    if (this.opts.attempts === 0) return { ok: true };
    const now = this.now();
    let until = 0;
    for (const w of [this.live(this.byIp, addressKey(ip), now), this.live(this.byName, nameKey(name), now)]) {
      if (w && w.failures + w.inFlight >= this.opts.attempts) until = Math.max(until, w.resetAt);
    }
    return until === 0 ? { ok: true } : { ok: false, retryAfter: Math.max(1, Math.ceil((until - now) / 1000)) };
  }

  /** Counts a failed login against the address and the name (also for logins with no check before). */
  recordFailure(ip: string, name: string): void {
    if (this.opts.attempts === 0) return;
    const now = this.now();
    for (const w of [this.window(this.byIp, addressKey(ip), now), nameKey(name) ? this.window(this.byName, nameKey(name), now) : undefined]) {
      if (!w) continue;
      w.failures += 1;
      if (w.inFlight > 0) w.inFlight -= 1;
    }
  }

  /**
   * A successful login clears the name's count. The address keeps its failures:
   * one account's password must not reset an address that is guessing others'.
   */
  recordSuccess(ip: string, name: string): void {
    if (this.opts.attempts === 0) return;
    this.byName.delete(nameKey(name));
    const w = this.live(this.byIp, addressKey(ip), this.now());
    if (w && w.inFlight > 0) w.inFlight -= 1;
  }

  /** Keys tracked now (tests check the bound). */
  get size(): { ips: number; names: number } {
    return { ips: this.byIp.size, names: this.byName.size };
  }

  private live(table: Map<string, Window>, key: string, now: number): Window | undefined {
    if (!key) return undefined;
    const w = table.get(key);
    if (w && w.resetAt <= now) {
      table.delete(key);
      return undefined;
    }
    return w;
  }

  /** The key's current window, a new one if it has none (making room first). */
  private window(table: Map<string, Window>, key: string, now: number): Window {
    const w = this.live(table, key, now);
    if (w) return w;
    if (table.size >= this.opts.max_tracked) {
      for (const [k, old] of table) if (old.resetAt <= now) table.delete(k);
      // still full: drop the oldest windows (a Map iterates in insertion order)
      for (const k of table.keys()) {
        if (table.size < this.opts.max_tracked) break;
        table.delete(k);
      }
    }
    const fresh: Window = { failures: 0, inFlight: 0, resetAt: now + this.opts.window_seconds * 1000 };
    table.set(key, fresh);
    return fresh;
  }
}

/** Names count as the hub compares them: trimmed and lower-cased; clipped so a huge name costs no memory. */
function nameKey(name: string): string {
  return normalizeUsername(name.trim()).slice(0, 256);
}

/**
 * IPv4 as is; an IPv4-mapped IPv6 address (`::ffff:192.0.2.7`, or in hex
 * `::ffff:c000:207`) as its IPv4 address; other IPv6 by its /64 prefix.
 */
export function addressKey(ip: string): string {
  if (!isIPv6(ip)) return ip.slice(0, 64);
  const groups = ipv6Groups(ip.split('%')[0]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, an IPv4 tail as two groups). */
function ipv6Groups(ip: string): number[] {
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  let text = ip;
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${ip.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::') as [string?, string?];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const all = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return all.map((g) => parseInt(g, 16));
}

const limiters = new WeakMap<object, LoginRateLimiter>();

/**
 * The limiter of one hub (created on first use from its config), shared by
 * every login route of that hub: the form POST, header and redirect logins.
 */
export function loginRateLimiter(hub: { config: { auth: { login_rate_limit: LoginRateLimitOptions } } }): LoginRateLimiter {
  let l = limiters.get(hub);
  if (!l) {
    l = new LoginRateLimiter(hub.config.auth.login_rate_limit);
    limiters.set(hub, l);
  }
  return l;
}

type HubWithLimit = Parameters<typeof loginRateLimiter>[0];

/**
 * For the header and redirect logins (no name typed): throws AuthError(429)
 * with `Retry-After` set on `reply` when the client's address is blocked.
 */
export function refuseIfLoginRateLimited(hub: HubWithLimit, req: { ip: string }, reply: FastifyReply): void {
  const verdict = loginRateLimiter(hub).peek(req.ip, '');
  if (verdict.ok) return;
  reply.header('Retry-After', String(verdict.retryAfter));
  throw new AuthError(429, `Too many failed logins from your address. Try again in ${verdict.retryAfter} s.`);
}

/** Counts a refused header or redirect login against the client's address. */
export function recordFailedLogin(hub: HubWithLimit, req: { ip: string }): void {
  loginRateLimiter(hub).recordFailure(req.ip, '');
}
