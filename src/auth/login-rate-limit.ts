import type { LoginRateLimitOptions } from './login-rate-limit-config.js';
import { normalizeUsername } from '../lib/names.js';

/** What {@link LoginRateLimiter.check} says: go ahead, or wait `retryAfter` seconds. */
export type RateLimitVerdict = { ok: true } | { ok: false; retryAfter: number };

interface Window {
  failures: number;
  /** When this window ends (ms since the epoch). */
  resetAt: number;
}

/**
 * Counts failed logins per client address and per user name, each in a fixed
 * window that starts at its first failure (`auth.login_rate_limit` options). A key
 * with `attempts` failures in its window is refused until the window ends.
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

  /** Whether a login from `ip` as `name` may be tried now. Call before checking credentials. */
  check(ip: string, name: string): RateLimitVerdict {
    if (this.opts.attempts === 0) return { ok: true };
    const now = this.now();
    let until = 0;
    for (const w of [this.live(this.byIp, ip, now), this.live(this.byName, nameKey(name), now)]) {
      if (w && w.failures >= this.opts.attempts) until = Math.max(until, w.resetAt);
    }
    return until === 0 ? { ok: true } : { ok: false, retryAfter: Math.max(1, Math.ceil((until - now) / 1000)) };
  }

  /** Counts a failed login against the address and the name. */
  recordFailure(ip: string, name: string): void {
    if (this.opts.attempts === 0) return;
    const now = this.now();
    this.bump(this.byIp, ip, now);
    if (nameKey(name)) this.bump(this.byName, nameKey(name), now);
  }

  /**
   * A successful login clears the name's count. The address's count stays: one
   * account's password must not reset an address that is guessing others'.
   */
  recordSuccess(_ip: string, name: string): void {
    this.byName.delete(nameKey(name));
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

  private bump(table: Map<string, Window>, key: string, now: number): void {
    const w = this.live(table, key, now);
    if (w) {
      w.failures += 1;
      return;
    }
    if (table.size >= this.opts.max_tracked) {
      for (const [k, old] of table) if (old.resetAt <= now) table.delete(k);
      // still full: drop the oldest windows (a Map iterates in insertion order)
      for (const k of table.keys()) {
        if (table.size < this.opts.max_tracked) break;
        table.delete(k);
      }
    }
    table.set(key, { failures: 1, resetAt: now + this.opts.window_seconds * 1000 });
  }
}

/** Names count as the hub compares them: trimmed and lower-cased; clipped so a huge name costs no memory. */
function nameKey(name: string): string {
  return normalizeUsername(name.trim()).slice(0, 256);
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
