import { Value } from '@sinclair/typebox/value';
import { Kind, type TObject, type TSchema } from '@sinclair/typebox';

/** One thing wrong in a config: the dotted key and what is wrong with it. */
export interface UnionProblem {
  key: string;
  message: string;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s && s.length > 60 ? `${s.slice(0, 57)}...` : String(s);
}

/**
 * The problems inside `kind`-discriminated unions (`auth: {kind: jwt-header, ...}`),
 * checked against the member the value's `kind` names, so that a missing or bad
 * option is named (`auth.platform: expected string, got nothing`) instead of
 * TypeBox's "expected union value" for the whole object. Values whose kind
 * names no member are left to the caller (it reports the unknown kind).
 */
export function unionMemberProblems(schema: TSchema, value: unknown, at = ''): UnionProblem[] {
  if (!isPlainObject(value)) return [];
  if (schema[Kind] === 'Union') {
    const members = (schema as unknown as { anyOf: TSchema[] }).anyOf;
    const member = members.find((m) => (m as TObject).properties?.['kind']?.['const'] === value['kind']);
    if (!member) return [];
    const out: UnionProblem[] = [];
    // TypeBox fills a union's defaults only once a member matches: fill the named member's here
    const filled = Value.Default(member, Value.Clone(value));
    for (const err of Value.Errors(member, filled)) {
      const key = `${at}${err.path.replaceAll('/', '.')}`;
      if (out.some((p) => p.key === key)) continue;
      const message = err.value === undefined ? 'required option missing' : `${err.message.charAt(0).toLowerCase()}${err.message.slice(1)}, got ${describe(err.value)}`;
      out.push({ key, message });
    }
    return out;
  }
  if (schema[Kind] !== 'Object') return [];
  const props = (schema as TObject).properties;
  return Object.entries(value).flatMap(([k, v]) => (props[k] ? unionMemberProblems(props[k], v, at ? `${at}.${k}` : k) : []));
}
