/**
 * Type conversion of config values that were wholly one `${VAR}` reference
 * (src/config/env-refs.ts): an environment variable is a string, so where the
 * option wants a number or a boolean (`port: ${PORT}`) the value is converted,
 * strictly. The option's type is found by walking the config schema along the
 * value's path, choosing a union's member by the object's `kind` (so options
 * inside `auth:` or `spawner:` convert too).
 *
 * - Number: decimal notation only, surrounding white space ignored
 *   (`8000`, `-1`, `0.5`, `1e3`). `0x10`, `8_000` or `80abc` are left as they
 *   are, so validation names the value (never a silent `parseInt`).
 * - Boolean: `true`/`false`/`1`/`0`, any case, surrounding white space ignored.
 */
import type { TSchema } from '@sinclair/typebox';

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The value converted to `want`'s type, or the string unchanged when it is not one strictly. */
function convert(value: string, want: 'number' | 'boolean'): unknown {
  const s = value.trim();
  if (want === 'number') return DECIMAL.test(s) ? Number(s) : value;
  const lower = s.toLowerCase();
  if (lower === 'true' || lower === '1') return true;
  if (lower === 'false' || lower === '0') return false;
  return value;
}

type Schema = TSchema & {
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  patternProperties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  const?: unknown;
};

/** The members of a union (flattened), or the schema itself. */
function members(s: Schema): Schema[] {
  return s.anyOf ? s.anyOf.flatMap(members) : [s];
}

/** The schema of `step` inside `s` for the raw value `raw` (a union's member chosen by `raw.kind`). */
function child(s: Schema, raw: unknown, step: string | number): Schema[] {
  const out: Schema[] = [];
  let candidates = members(s);
  const kind = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>)['kind'] : undefined;
  if (kind !== undefined) {
    const byKind = candidates.filter((m) => m.properties?.['kind']?.const === kind);
    if (byKind.length) candidates = byKind;
  }
  for (const m of candidates) {
    if (typeof step === 'number') {
      if (m.items) out.push(m.items);
      continue;
    }
    const p = m.properties?.[step];
    if (p) out.push(p);
    else if (m.patternProperties) out.push(...Object.values(m.patternProperties));
    else if (m.additionalProperties && typeof m.additionalProperties === 'object') out.push(m.additionalProperties);
  }
  return out;
}

/** 'number' or 'boolean' when every schema reached wants that type (and not a string), else undefined. */
function wanted(schemas: Schema[]): 'number' | 'boolean' | undefined {
  const types = new Set<string>();
  for (const m of schemas.flatMap(members)) {
    for (const t of Array.isArray(m.type) ? m.type : m.type ? [m.type] : []) types.add(t === 'integer' ? 'number' : t);
    if (m.const !== undefined) types.add(typeof m.const);
  }
  if (types.has('string')) return undefined;
  if (types.has('number')) return 'number';
  if (types.has('boolean')) return 'boolean';
  return undefined;
}

/**
 * Converts, in a copy of `raw`, the values at `paths` (each wholly one
 * reference) to the number or boolean `schema` wants there; everything else
 * is left for validation.
 */
export function convertWholeRefs(schema: TSchema, raw: Record<string, unknown>, paths: ReadonlyArray<ReadonlyArray<string | number>>): Record<string, unknown> {
  if (paths.length === 0) return raw;
  const out = structuredClone(raw);
  for (const at of paths) {
    let schemas: Schema[] = [schema as Schema];
    let parent: unknown = out;
    for (const step of at.slice(0, -1)) {
      schemas = schemas.flatMap((s) => child(s, parent, step));
      parent = (parent as Record<string | number, unknown> | undefined)?.[step];
      if (parent === null || typeof parent !== 'object') break;
    }
    const last = at[at.length - 1];
    if (last === undefined || parent === null || typeof parent !== 'object') continue;
    const holder = parent as Record<string | number, unknown>;
    const value = holder[last];
    const want = wanted(schemas.flatMap((s) => child(s, parent, last)));
    if (typeof value === 'string' && want) holder[last] = convert(value, want);
  }
  return out;
}
