/**
 * The merge a profile's overrides use (KubeSpawner's `kubespawner_override`):
 * plain objects are merged key by key at every depth, `null` removes the key,
 * any other value (arrays included) replaces what was there. Pure; neither
 * input is changed.
 */

/** True for `{...}` values (not arrays, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keys that would reach an object's prototype if merged; never copied. */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** A deep copy of JSON-like data (objects and arrays copied, other values kept). */
export function cloneJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => cloneJson(v)) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!UNSAFE_KEYS.has(k)) out[k] = cloneJson(v);
    return out as T;
  }
  return value;
}

/** `override` merged over `base`: objects recursively, `null` deletes, arrays and scalars replace. */
export function deepMerge(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const out = cloneJson(base);
  for (const [key, value] of Object.entries(override)) {
    if (UNSAFE_KEYS.has(key)) continue;
    if (value === null || value === undefined) {
      delete out[key];
    } else if (isPlainObject(value) && isPlainObject(out[key])) {
      out[key] = deepMerge(out[key], value);
    } else {
      // a null inside a new object still means "no such key"
      out[key] = isPlainObject(value) ? deepMerge({}, value) : cloneJson(value);
    }
  }
  return out;
}

/** Replaces `{value}` with `text` in every string of `data` (keys are left alone). */
export function substituteValue<T>(data: T, text: string): T {
  if (typeof data === 'string') return data.replaceAll('{value}', () => text) as T; // a function: `$&` in the text stays literal
  if (Array.isArray(data)) return data.map((v: unknown) => substituteValue(v, text)) as T;
  if (isPlainObject(data)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(data)) if (!UNSAFE_KEYS.has(k)) out[k] = substituteValue(v, text);
    return out as T;
  }
  return data;
}
