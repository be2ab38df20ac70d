/**
 * The HTML of one config-declared form field: a label around its control
 * (no ids, so the forms of several back-ends can share one page), with the
 * browser-side attributes (`required`, `min`, `max`, `step`, `maxlength`,
 * `pattern`) that mirror the hub's own checks. Every text is escaped.
 */
import { escapeHtml as e } from '../../lib/html-escape.js';
import type { FormChoice, FormField } from './form-config.js';

/** What a select shows when the user has no choice at all. */
export function emptyChoicesText(field: FormField): string {
  return field.choices_from === 'auth_state_keys' ? 'No projects available' : 'No choices available to you';
}

/**
 * The `pattern` attribute, when browsers can use it: they compile it with the
 * `v` flag, stricter than the hub's `u` (`[a-z_-]` must be written `[a-z_\-]`);
 * a pattern they would reject is left out (the hub still checks it).
 */
export function patternAttr(pattern: string | undefined): string {
  if (pattern === undefined) return '';
  try {
    new RegExp(`^(?:${pattern})$`, 'v');
  } catch {
    return '';
  }
  return ` pattern="${e(pattern)}"`;
}

function helpHtml(field: FormField): string {
  return field.help ? `<span class="muted form-help" style="display:block;font-weight:normal">${e(field.help)}</span>` : '';
}

function selectHtml(field: FormField, choices: readonly FormChoice[], value: unknown): string {
  const req = field.required ? ' required' : '';
  if (choices.length === 0) {
    return `<select name="${e(field.name)}" disabled${req}><option value="">${e(emptyChoicesText(field))}</option></select>`;
  }
  const picked = typeof value === 'string' && choices.some((c) => c.value === value) ? value : undefined;
  // no value yet: an empty placeholder (a required select refuses to submit it); an optional select
  // without a default can be left empty on purpose (one with a default falls back to it)
  const optional = !field.required && field.default === undefined;
  const empty = optional ? `<option value=""${picked === undefined ? ' selected' : ''}>(none)</option>` : picked === undefined ? '<option value="">Choose…</option>' : '';
  const options = choices.map((c) => `<option value="${e(c.value)}"${c.value === picked ? ' selected' : ''}>${e(c.label)}</option>`).join('');
  return `<select name="${e(field.name)}"${req}>${empty}${options}</select>`;
}

function inputHtml(field: FormField, value: unknown): string {
  const req = field.required ? ' required' : '';
  const val = value === undefined ? '' : ` value="${e(value)}"`;
  if (field.type === 'number') {
    const min = field.min === undefined ? '' : ` min="${field.min}"`;
    const max = field.max === undefined ? '' : ` max="${field.max}"`;
    return `<input type="number" name="${e(field.name)}"${val}${min}${max} step="${field.step ?? 1}"${req}>`;
  }
  return `<input type="text" name="${e(field.name)}"${val} maxlength="${field.max_length}"${patternAttr(field.pattern)}${req} autocomplete="off">`;
}

/**
 * One field's HTML, showing `value` (the remembered or default value, already
 * checked by the caller; undefined for none). `choices` are the user's
 * choices of a `select` field (ignored for the other types).
 */
export function renderField(field: FormField, choices: readonly FormChoice[], value: unknown): string {
  const data = ` class="form-field" data-field="${e(field.name)}"`;
  if (field.type === 'checkbox') {
    const checked = value === true ? ' checked' : '';
    return `<div${data}><label><input type="checkbox" name="${e(field.name)}" value="on"${checked}${field.required ? ' required' : ''}> ${e(field.label)}${helpHtml(field)}</label></div>`;
  }
  const control = field.type === 'select' ? selectHtml(field, choices, value) : inputHtml(field, value);
  return `<div${data}><label>${e(field.label)}${helpHtml(field)}${control}</label></div>`;
}
