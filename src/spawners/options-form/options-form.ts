/**
 * A spawn form declared in config (`form_fields:`), shown, read and checked
 * on the hub: the piece a back-end's `optionsForm`, `optionsFromForm` and
 * `checkOptions` (src/spawners/spawner.ts) delegate to. The declaration's
 * shape is src/spawners/options-form/form-config.ts; docs/spawn-form.md
 * explains it with the BriCS example.
 */
import { Value } from '@sinclair/typebox/value';
import { ConfigError, HubError } from '../../lib/errors.js';
import { quoteName } from '../../lib/quote-name.js';
import type { OptionsContext } from '../spawner.js';
import { FormFieldsSchema, formFieldsProblems, type FormField } from './form-config.js';
import { choicesFor, parseFormValue, valueProblem } from './field-value.js';
import { renderField } from './render-field.js';

/** A field as written in config: `required` and `max_length` may be left to their defaults. */
export type FormFieldInput = Omit<FormField, 'required' | 'max_length'> & Partial<Pick<FormField, 'required' | 'max_length'>>;

/** What {@link OptionsForm.render} needs: who the form is for, and their last options (to preselect). */
export interface FormRenderContext extends OptionsContext {
  /** The options this user's server last started with (the server row's `user_options`); `{}` for none. */
  previous: Record<string, unknown>;
}

/** How {@link OptionsForm.check} treats keys that are not fields. */
export interface CheckOptionsOpts {
  /**
   * Keys the back-end accepts besides the form's fields (and checks itself):
   * they are passed through unchanged. Any other key is refused.
   */
  extraKeys?: readonly string[];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A form of config-declared fields. Stateless after construction: the user,
 * their auth state and their last options come with every call.
 */
export class OptionsForm {
  /** The fields, defaults filled, in the order shown. */
  readonly fields: readonly FormField[];
  private readonly byName: ReadonlyMap<string, FormField>;

  /**
   * @param fields the declaration (`form_fields:`); defaults are filled here.
   * @param at the option's dotted key for error messages (`spawners.cluster-a.form_fields`).
   * @throws ConfigError naming the key, when the declaration is not valid
   *   (see {@link formFieldsProblems}); the config loader reports the same.
   */
  constructor(fields: readonly FormFieldInput[], at = 'form_fields') {
    const filled = Value.Default(FormFieldsSchema, Value.Clone(fields)) as FormField[];
    const schemaErrors = [...Value.Errors(FormFieldsSchema, filled)].map((err) => ({ key: `${at}${err.path.replace(/\/(\d+)/g, '[$1]').replaceAll('/', '.')}`, message: err.message }));
    const problems = schemaErrors.length ? schemaErrors : formFieldsProblems(filled, at);
    if (problems.length) throw new ConfigError(`config: ${problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`);
    this.fields = filled;
    this.byName = new Map(filled.map((f) => [f.name, f]));
  }

  /** The `user_options` keys this form declares, in order. */
  get names(): string[] {
    return this.fields.map((f) => f.name);
  }

  /**
   * The form's HTML fragment (labels and controls, every text escaped), or
   * undefined when no field is declared. Each field shows the user's last
   * value when it is still valid for them, else the default, else nothing; a
   * select with no choice for the user says so ("No projects available").
   */
  render(ctx: FormRenderContext): string | undefined {
    if (this.fields.length === 0) return undefined;
    return this.fields
      .map((f) => {
        const valid = (v: unknown) => v !== undefined && v !== null && v !== '' && valueProblem(f, v, ctx) === undefined;
        const prev = Object.hasOwn(ctx.previous, f.name) ? ctx.previous[f.name] : undefined;
        const value = valid(prev) ? prev : valid(f.default) ? f.default : undefined;
        return renderField(f, f.type === 'select' ? choicesFor(f, ctx) : [], value);
      })
      .join('\n');
  }

  /**
   * The posted form as `user_options`: only the declared fields are read
   * (others, such as another back-end's, are ignored); numbers become numbers,
   * checkboxes booleans (absent = false); an empty field is left out.
   * {@link check} runs on the result afterwards, as on every start.
   * @throws HubError(400) naming the field for a field posted more than once
   *   or a value that is not of the field's type (`"lots"` for a number).
   */
  fromForm(form: Record<string, string | string[]>, _ctx?: OptionsContext): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const f of this.fields) {
      let raw = Object.hasOwn(form, f.name) ? form[f.name] : undefined;
      if (Array.isArray(raw)) {
        if (raw.length > 1) throw this.refuse(f, 'was sent more than once');
        raw = raw[0];
      }
      const parsed = parseFormValue(f, raw);
      if ('problem' in parsed) throw this.refuse(f, parsed.problem);
      if (parsed.value !== undefined) out[f.name] = parsed.value;
    }
    return out;
  }

  /**
   * Checks `user_options` strictly and returns them normalised: the fields
   * in declaration order (a missing one gets its default when that is valid
   * for this user), then the `extraKeys` that were given, unchanged.
   * @throws HubError(400) for a key that is neither a field nor an extra key
   *   (naming what is accepted), a missing required field, or a value of the
   *   wrong type, not among the user's choices (a project not theirs, a value
   *   not open to their groups), out of range, off the step, too long, not
   *   matching the pattern, or holding a control character (newline, NUL);
   *   the message names the field and the rule.
   */
  check(options: Record<string, unknown>, ctx: OptionsContext, opts: CheckOptionsOpts = {}): Record<string, unknown> {
    if (!isPlainObject(options)) throw new HubError(400, 'Server options must be a JSON object');
    const extra = new Set(opts.extraKeys ?? []);
    for (const key of Object.keys(options)) {
      if (this.byName.has(key) || extra.has(key)) continue;
      const accepted = [...this.names, ...extra];
      throw new HubError(400, `Unknown option ${quoteName(key)}; this back-end accepts: ${accepted.length ? accepted.join(', ') : 'no options'}`);
    }
    const out: Record<string, unknown> = {};
    for (const f of this.fields) {
      const given = Object.hasOwn(options, f.name) ? options[f.name] : undefined;
      if (given === undefined || given === null || given === '') {
        const fallback = f.default ?? (f.type === 'checkbox' ? false : undefined);
        if (fallback !== undefined && valueProblem(f, fallback, ctx) === undefined) out[f.name] = fallback;
        else if (f.required) throw this.refuse(f, f.type === 'select' && choicesFor(f, ctx).length === 0 ? `is required, and you have no choices for it` : 'is required');
        continue;
      }
      const problem = valueProblem(f, given, ctx);
      if (problem) throw this.refuse(f, problem);
      out[f.name] = given;
    }
    for (const key of extra) if (Object.hasOwn(options, key)) out[key] = options[key];
    return out;
  }

  /** A 400 naming the field: `Option "ngpus" (GPUs): 9 is above the maximum 4`. */
  private refuse(field: FormField, problem: string): HubError {
    return new HubError(400, `Option "${field.name}" (${field.label}): ${problem}`);
  }
}
