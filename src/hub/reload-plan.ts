import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/schema.js';
import { isPlainObject, validateConfig } from '../config/load.js';
import { hasNestedRules, reloadRule } from './reload-table.js';

/** What a reload changes: pure, from the running configuration and the one just read. */
export interface ReloadPlan {
  /** Live options whose value changed (dotted keys): applied. */
  live: string[];
  /** Restart-only options whose value changed: not applied, the running value is kept. */
  restart: string[];
  /**
   * The configuration to run with: the new one with every restart-only
   * change undone, so that nothing half-applies. Validated again (throws
   * ConfigError when the mix is refused).
   */
  applied: Config;
}

/**
 * The dotted keys whose values differ between `a` and `b`, descending into a
 * section only where the reload table classifies keys inside it
 * (`auth.allowed_groups`); elsewhere a section is one key.
 */
export function changedKeys(a: Record<string, unknown>, b: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const at = prefix ? `${prefix}.${key}` : key;
    const x = a[key];
    const y = b[key];
    if (hasNestedRules(at) && isPlainObject(x) && isPlainObject(y)) out.push(...changedKeys(x, y, at));
    else if (!isDeepStrictEqual(x, y)) out.push(at);
  }
  return out;
}

/** Sorts the changes of `next` over `current` into live and restart-only, and builds the configuration to apply. */
export function planReload(current: Config, next: Config): ReloadPlan {
  const live: string[] = [];
  const restart: string[] = [];
  const changed = changedKeys(current as unknown as Record<string, unknown>, next as unknown as Record<string, unknown>);
  for (const key of changed) (reloadRule(key).apply === 'live' ? live : restart).push(key);
  const applied = structuredClone(next) as unknown as Record<string, unknown>;
  for (const key of restart) setPath(applied, key, getPath(current as unknown as Record<string, unknown>, key));
  return { live, restart, applied: restart.length ? validateConfig(applied) : (applied as unknown as Config) };
}

function getPath(obj: Record<string, unknown>, key: string): unknown {
  let v: unknown = obj;
  for (const part of key.split('.')) v = isPlainObject(v) ? v[part] : undefined;
  return v;
}

/** Sets (or, for undefined, deletes) the value at a dotted key, whose parents exist (they are sections of both configs). */
function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let holder = obj;
  for (const part of parts.slice(0, -1)) {
    const next = holder[part];
    if (!isPlainObject(next)) return;
    holder = next;
  }
  const last = parts[parts.length - 1]!;
  if (value === undefined) delete holder[last];
  else holder[last] = structuredClone(value);
}
