import type { Config } from '../config/schema.js';
import { HubError } from '../lib/errors.js';

/**
 * The server limits of one user: `server_limit_per_group` for a member of a
 * listed group (the largest when several; 0 means no limit, so it wins),
 * else `server_limit_per_user`. 0: no limit.
 */
export function userServerLimit(config: Config, groups: readonly string[]): { limit: number; group?: string } {
  let best: { limit: number; group: string } | undefined;
  for (const g of groups) {
    const limit = config.server_limit_per_group[g];
    if (limit === undefined) continue;
    if (!best || (best.limit !== 0 && (limit === 0 || limit > best.limit))) best = { limit, group: g };
  }
  return best ?? { limit: config.server_limit_per_user };
}

/**
 * JupyterHub's refusal of a spawn over `concurrent_spawn_limit`: 429, a
 * `Retry-After` (seconds) and the message naming it rounded up to tens.
 * `estimate` (seconds until the queue has room, when known) raises the
 * range from JupyterHub's 30-60 s.
 */
export function tooManySpawns(estimate: number | undefined): HubError {
  const low = Math.min(300, Math.max(30, Math.round(estimate ?? 0)));
  const retry = low + Math.floor(Math.random() * (low + 1));
  return new HubError(429, `Too many users trying to log in right now. Try again in ${Math.ceil(retry / 10) * 10} seconds.`, {
    headers: { 'Retry-After': String(retry) },
  });
}

/** The `Retry-After` header of a spawn given up in the queue, from the seconds its message names (default 60). */
export function retryAfterOf(message: string): Record<string, string> {
  const named = /Try again in (\d+) seconds/.exec(message);
  return { 'Retry-After': named ? named[1]! : '60' };
}

/** JupyterHub's refusal over `active_server_limit` (with a Retry-After, which JupyterHub leaves out). */
export function tooManyActive(): HubError {
  const retry = 120 + Math.floor(Math.random() * 61);
  return new HubError(429, 'Active user limit exceeded. Try again in a few minutes.', { headers: { 'Retry-After': String(retry) } });
}

/**
 * A user at their own server limit: 403, not 429, since waiting does not
 * help (only stopping one of their servers does), and a client that retries
 * on 429 would retry for nothing.
 */
export function overUserLimit(user: string, limit: number, group: string | undefined): HubError {
  const whose = group ? `the limit of group ${JSON.stringify(group)}` : 'the limit per user';
  return new HubError(403, `User ${user} already has ${limit} servers running or starting, ${whose}. Stop one before starting another.`);
}
