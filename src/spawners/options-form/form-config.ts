/**
 * The shape of a spawn form declared in config (`form_fields:` of a spawner
 * back-end, e.g. `kind: slurm`), with help text on every key, and the checks
 * of a declaration that a schema cannot express ({@link formFieldsProblems}).
 * src/spawners/options-form/options-form.ts renders and checks such a form.
 * docs/spawn-form.md explains it with the BriCS example.
 *
 * The BriCS form, as config, is in src/spawners/options-form/brics-form-fields.ts.
 */
import { Type, type Static } from '@sinclair/typebox';

/** Field names: what a `user_options` key may be (and a template variable, e.g. `{{ brics_project }}`). */
export const FIELD_NAME_PATTERN = '^[a-z][a-z0-9_]{0,63}$';

/**
 * Names a field may not take: `backend` is the `user_options` key that picks
 * a back-end when there are several (BACKEND_OPTION in src/spawners/backends.ts).
 */
export const RESERVED_FIELD_NAMES: readonly string[] = ['backend'];

/** The largest `max_length` a text field may declare. */
export const MAX_TEXT_LENGTH = 4096;

/** One choice of a `select` field. */
export const FormChoiceSchema = Type.Object(
  {
    value: Type.String({ minLength: 1, maxLength: MAX_TEXT_LENGTH, description: 'What `user_options` holds when this choice is picked.' }),
    label: Type.String({ minLength: 1, description: 'What the form shows for it.' }),
  },
  { additionalProperties: false, description: 'One choice of a `select` field.' },
);

/** One field of a spawn form declared in config. */
export const FormFieldSchema = Type.Object(
  {
    name: Type.String({
      pattern: FIELD_NAME_PATTERN,
      description: 'The `user_options` key the field sets (lower-case letters, digits and `_`, starting with a letter, at most 64), e.g. `partition`. Batch script templates see it by this name.',
    }),
    label: Type.String({ minLength: 1, description: 'What the form shows next to the field, and what error messages call it.' }),
    help: Type.Optional(Type.String({ description: 'One line of help the form shows under the label.' })),
    type: Type.Union([Type.Literal('select'), Type.Literal('text'), Type.Literal('number'), Type.Literal('checkbox')], {
      description:
        '`select`: one of `choices` (or of `choices_from`); `text`: a line of text (see `pattern`, `max_length`); `number`: a number (see `min`, `max`, `step`); `checkbox`: true or false.',
    }),
    choices: Type.Optional(Type.Array(FormChoiceSchema, { description: 'The choices of a `select` field, in the order shown. A select has either `choices` or `choices_from`.' })),
    choices_from: Type.Optional(
      Type.Literal('auth_state_keys', {
        description:
          "The choices of a `select` field taken from the user's auth state when the form is shown and when a value is checked: `auth_state_keys` offers each key of the auth state, labelled with that entry's `name` (the BriCS projects auth state `{\"proj1.portal\": {\"name\": \"Project 1\", \"username\": \"carol.proj1\"}}` gives one choice `proj1.portal` labelled `Project 1`). A value that is not a key of the user's own auth state is refused.",
      }),
    ),
    default: Type.Optional(
      Type.Union([Type.String(), Type.Number(), Type.Boolean()], {
        description: 'The value used when none is given, and preselected in the form when the user has no earlier choice. Must be a valid value of the field.',
      }),
    ),
    required: Type.Boolean({
      default: false,
      description: 'A value must be given (or a `default` applies). An optional field without a default is left out of `user_options` when not given.',
    }),
    min: Type.Optional(Type.Number({ description: 'The smallest value of a `number` field.' })),
    max: Type.Optional(Type.Number({ description: 'The largest value of a `number` field.' })),
    step: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        description: 'A `number` field accepts `min` (or 0) plus whole multiples of `step`. Default 1: whole numbers only, as a browser does.',
      }),
    ),
    pattern: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'A regular expression (JavaScript syntax) the whole value of a `text` field must match, e.g. `^[A-Za-z0-9_\\-]{1,64}$`; it is anchored at both ends whether written with `^…$` or not. Browsers check it too when they can compile it with the stricter `v` flag (write a `-` inside `[...]` as `\\-`). An empty text counts as not given (see `required`), so the pattern applies to non-empty values.',
      }),
    ),
    max_length: Type.Integer({
      minimum: 1,
      maximum: MAX_TEXT_LENGTH,
      default: 256,
      description: `The longest value of a \`text\` field, in characters (at most ${MAX_TEXT_LENGTH}).`,
    }),
    values_for_groups: Type.Optional(
      Type.Record(Type.String(), Type.Array(Type.String()), {
        description:
          'Limits choices of a `select` field to hub groups: `{group: [value, ...]}`. A value listed under one or more groups may be chosen only by members of one of them (and admins); a value listed under none stays open to everyone.',
      }),
    ),
  },
  { additionalProperties: false, description: 'One field of the spawn form.' },
);

/** One field of a spawn form declared in config, with its defaults filled. */
export type FormField = Static<typeof FormFieldSchema>;

/** One choice of a `select` field. */
export type FormChoice = Static<typeof FormChoiceSchema>;

/** The `form_fields:` option a back-end adds to its schema. */
export const FormFieldsSchema = Type.Array(FormFieldSchema, {
  default: [],
  description:
    'The spawn form of this back-end, checked on the hub for every start (form and REST API): a list of fields, each `{name, label, help, type: select|text|number|checkbox, choices: [{value, label}] or choices_from: auth_state_keys, default, required, min, max, step, pattern, max_length, values_for_groups}`. An option that is not a field is refused. See docs/spawn-form.md (the BriCS form is an example there). Empty: no form.',
});

/** One problem of a form declaration: the dotted key and what is wrong. */
export interface FormFieldProblem {
  key: string;
  message: string;
}

/** Control characters (C0 and DEL): never part of a value. */
// eslint-disable-next-line no-control-regex -- control characters are what it finds
export const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Compiles a field's `pattern` as the hub checks it: anchored at both ends,
 * with the `u` flag. Throws SyntaxError for a pattern that does not compile.
 */
export function compilePattern(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${pattern})$`, 'u');
    compiled.set(pattern, re);
  }
  return re;
}

/** Patterns compiled so far (from config only, so few). */
const compiled = new Map<string, RegExp>();

/**
 * Everything wrong with a form declaration that its schema cannot say:
 * duplicate or reserved names, a `select` without exactly one source of
 * choices, keys that do not belong to the field's type, `min` above `max`, a
 * pattern that does not compile, duplicate choices, a default that is not a
 * valid value, `values_for_groups` naming an unknown choice. Empty when the
 * declaration is fine. `at` is the option's dotted key (`spawner.form_fields`).
 * The fields must have passed {@link FormFieldsSchema}.
 */
export function formFieldsProblems(fields: readonly FormField[], at = 'form_fields'): FormFieldProblem[] {
  const out: FormFieldProblem[] = [];
  const seen = new Set<string>();
  fields.forEach((f, i) => {
    const key = `${at}[${i}]`;
    const bad = (sub: string, message: string) => out.push({ key: sub ? `${key}.${sub}` : key, message });
    if (seen.has(f.name)) bad('name', `"${f.name}" names two fields`);
    seen.add(f.name);
    if (RESERVED_FIELD_NAMES.includes(f.name)) bad('name', `"${f.name}" is reserved (it picks the back-end)`);
    const only = (keys: Array<keyof FormField>, types: string) => {
      for (const k of keys) if (f[k] !== undefined) bad(k, `only a ${types} field has it (this one is ${f.type})`);
    };
    if (f.type !== 'select') only(['choices', 'choices_from', 'values_for_groups'], 'select');
    if (f.type !== 'number') only(['min', 'max', 'step'], 'number');
    if (f.type !== 'text') only(['pattern'], 'text');
    if (f.type === 'select') {
      if ((f.choices === undefined) === (f.choices_from === undefined)) bad('', 'a select field needs exactly one of choices and choices_from');
      const values = new Set<string>();
      f.choices?.forEach((c, j) => {
        if (values.has(c.value)) bad(`choices[${j}].value`, `"${c.value}" is listed twice`);
        values.add(c.value);
        if (CONTROL_CHARS.test(c.value)) bad(`choices[${j}].value`, 'must not hold control characters (newline, NUL…)');
      });
      for (const [group, allowed] of Object.entries(f.values_for_groups ?? {})) {
        for (const v of allowed) if (f.choices && !values.has(v)) bad(`values_for_groups.${group}`, `"${v}" is not one of the choices`);
      }
    }
    if (f.min !== undefined && f.max !== undefined && f.min > f.max) bad('min', `${f.min} is above max (${f.max})`);
    if (f.pattern !== undefined) {
      try {
        compilePattern(f.pattern);
      } catch (err) {
        bad('pattern', `not a valid regular expression: ${(err as Error).message}`);
      }
    }
    if (f.default !== undefined) {
      const problem = defaultProblem(f);
      if (problem) bad('default', problem);
    }
  });
  return out;
}

/** Why a field's default is not one of its valid values, or undefined when it is. */
function defaultProblem(f: FormField): string | undefined {
  const d = f.default;
  switch (f.type) {
    case 'checkbox':
      return typeof d === 'boolean' ? undefined : 'a checkbox default is true or false';
    case 'number':
      if (typeof d !== 'number') return 'a number field needs a number default';
      if ((f.min !== undefined && d < f.min) || (f.max !== undefined && d > f.max)) return `${d} is outside min/max`;
      return onStep(d, f.min ?? 0, f.step ?? 1) ? undefined : `${d} is not min plus a whole number of steps`;
    case 'select':
      if (typeof d !== 'string') return 'a select default is one of its values (a string)';
      return f.choices && !f.choices.some((c) => c.value === d) ? `"${d}" is not one of the choices` : undefined;
    case 'text':
      if (typeof d !== 'string') return 'a text default is a string';
      if (d.length > f.max_length || CONTROL_CHARS.test(d)) return 'longer than max_length or holds control characters';
      if (f.pattern !== undefined && d !== '') {
        try {
          if (!compilePattern(f.pattern).test(d)) return `"${d}" does not match the pattern`;
        } catch {
          return undefined; // reported under pattern
        }
      }
      return undefined;
  }
}

/** True when `value` is `base` plus a whole number of `step`s (within rounding). */
export function onStep(value: number, base: number, step: number): boolean {
  const n = (value - base) / step;
  return Math.abs(n - Math.round(n)) < 1e-9;
}
