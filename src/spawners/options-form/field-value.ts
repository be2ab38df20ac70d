/**
 * The rules a value of a config-declared form field must follow, as pure
 * functions: the choices a user has for a `select` (static, or from their
 * auth state, limited by group), why a value is refused, and how a posted
 * form string becomes a value. src/spawners/options-form/options-form.ts
 * applies them to whole forms and `user_options`.
 */
import { quoteName } from '../../lib/quote-name.js';
import type { OptionsContext, SpawnUser } from '../spawner.js';
import { CONTROL_CHARS, compilePattern, onStep, type FormChoice, type FormField } from './form-config.js';

/** How many choices an error message lists before it says "…". */
const LISTED_CHOICES = 20;

/**
 * The choices of auth state keys: each key of the auth state, labelled with
 * its entry's `name` when that is a string (else the key itself). Keys holding
 * control characters are left out (they could never be accepted).
 */
export function authStateChoices(authState: Record<string, unknown> | null | undefined): FormChoice[] {
  if (!authState || typeof authState !== 'object') return [];
  const out: FormChoice[] = [];
  for (const [value, entry] of Object.entries(authState)) {
    if (value === '' || CONTROL_CHARS.test(value)) continue;
    const name = entry !== null && typeof entry === 'object' ? (entry as Record<string, unknown>)['name'] : undefined;
    out.push({ value, label: typeof name === 'string' && name !== '' ? name : value });
  }
  return out;
}

/** The choices of a `select` field before the group limits: static, or from the auth state. */
function allChoices(field: FormField, ctx: Pick<OptionsContext, 'authState'>): FormChoice[] {
  return field.choices_from === 'auth_state_keys' ? authStateChoices(ctx.authState) : (field.choices ?? []);
}

/**
 * True when `user` may pick `value` under `values_for_groups`: a value listed
 * under no group is open to all; a listed one to members of a group listing
 * it, and to admins.
 */
function groupAllows(field: FormField, value: string, user: SpawnUser): boolean {
  const limits = field.values_for_groups;
  if (!limits || user.admin) return true;
  let listed = false;
  for (const [group, values] of Object.entries(limits)) {
    if (!values.includes(value)) continue;
    listed = true;
    if (user.groups.includes(group)) return true;
  }
  return !listed;
}

/** The choices `ctx.user` has for a `select` field, in order: from config or auth state, limited by group. */
export function choicesFor(field: FormField, ctx: OptionsContext): FormChoice[] {
  return allChoices(field, ctx).filter((c) => groupAllows(field, c.value, ctx.user));
}

/** A short description of a value's JSON type for a message (`a string`, `a list`…). */
function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  const t = typeof v;
  return t === 'object' ? 'an object' : t === 'string' ? 'a string' : t === 'number' ? 'a number' : t === 'boolean' ? 'true or false' : t;
}

function listValues(choices: readonly FormChoice[]): string {
  const shown = choices.slice(0, LISTED_CHOICES).map((c) => c.value);
  return shown.join(', ') + (choices.length > LISTED_CHOICES ? ', …' : '');
}

/**
 * Why `value` (given, not empty) is not a valid value of `field` for this
 * user, or undefined when it is. The message names the rule, not the field
 * (the caller adds the field).
 */
export function valueProblem(field: FormField, value: unknown, ctx: OptionsContext): string | undefined {
  if (typeof value === 'string' && CONTROL_CHARS.test(value)) return 'must not hold control characters (newline, NUL, …)';
  switch (field.type) {
    case 'select': {
      if (typeof value !== 'string') return `must be a string, got ${typeOf(value)}`;
      const mine = choicesFor(field, ctx);
      if (mine.some((c) => c.value === value)) return undefined;
      if (allChoices(field, ctx).some((c) => c.value === value)) return `${quoteName(value)} is not open to your groups`;
      if (mine.length === 0) return `${quoteName(value)} is not a choice: you have none`;
      return `${quoteName(value)} is not one of the choices you have (${listValues(mine)})`;
    }
    case 'text': {
      if (typeof value !== 'string') return `must be a string, got ${typeOf(value)}`;
      if (value.length > field.max_length) return `is longer than ${field.max_length} characters`;
      if (field.pattern !== undefined && !compilePattern(field.pattern).test(value)) return `${quoteName(value)} does not match ${field.pattern}`;
      return undefined;
    }
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return `must be a number, got ${typeof value === 'number' ? String(value) : typeOf(value)}`;
      if (field.min !== undefined && value < field.min) return `${value} is below the minimum ${field.min}`;
      if (field.max !== undefined && value > field.max) return `${value} is above the maximum ${field.max}`;
      const step = field.step ?? 1;
      const base = field.min ?? 0;
      if (onStep(value, base, step)) return undefined;
      return step === 1 && Number.isInteger(base) ? `${value} is not a whole number` : `${value} is not ${base} plus a multiple of ${step}`;
    }
    case 'checkbox':
      if (typeof value !== 'boolean') return `must be true or false, got ${typeOf(value)}`;
      return field.required && !value ? 'must be ticked' : undefined;
  }
}

/** A number as a person types it: digits, an optional sign, decimal point and exponent. */
const NUMBER_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

const CHECKBOX_ON = new Set(['on', 'true', '1']);
const CHECKBOX_OFF = new Set(['off', 'false', '0', '']);

/**
 * A posted form string as the field's value: a number for `number` fields, a
 * boolean for checkboxes (absent = unticked), the text (without spaces at either end) otherwise;
 * undefined when not given (absent or empty). Returns `{problem}` for a
 * string that is no value of the field's type.
 */
export function parseFormValue(field: FormField, raw: string | undefined): { value: unknown } | { problem: string } {
  if (field.type === 'checkbox') {
    if (raw === undefined) return { value: false };
    const v = raw.trim().toLowerCase();
    if (CHECKBOX_ON.has(v)) return { value: true };
    if (CHECKBOX_OFF.has(v)) return { value: false };
    return { problem: `${quoteName(raw)} is not a checkbox value (on or off)` };
  }
  // spaces around a value are a slip of the keyboard; any other character (a newline) stays and is refused later
  const text = raw?.replace(/^ +| +$/g, '');
  if (text === undefined || text === '') return { value: undefined };
  if (field.type !== 'number') return { value: text };
  const n = Number(text);
  if (!NUMBER_TEXT.test(text) || !Number.isFinite(n)) return { problem: `${quoteName(raw!)} is not a number` };
  return { value: n };
}
