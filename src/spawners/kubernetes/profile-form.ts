/**
 * The profile cards of the spawn form and the way back from posted fields to
 * user_options, with KubeSpawner's field names: a radio `profile` per card,
 * a select `profile-option-<slug>--<option>` per option and, where a free
 * text is allowed, an input `profile-option-<slug>--<option>--unlisted-choice`.
 * No ids (the forms of several back-ends share one page); every text escaped.
 * Pure.
 */
import { escapeHtml as e } from '../../lib/html-escape.js';
import { patternAttr } from '../options-form/render-field.js';
import type { ResolvedOption, ResolvedProfile } from './profile-list.js';

/** The select's value for "Other..." (never a choice key: those start with a letter or digit). */
export const UNLISTED_SELECT_VALUE = '--unlisted-choice';
const SUFFIX = '--unlisted-choice';
const MAX_TEXT = 256;

function fieldName(slug: string, option: string): string {
  return `profile-option-${slug}--${option}`;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function optionHtml(p: ResolvedProfile, o: ResolvedOption, previous: Record<string, unknown> | undefined): string {
  const name = fieldName(p.slug, o.key);
  const text = previous ? str(previous[o.key + SUFFIX]) : undefined;
  const listed = previous ? str(previous[o.key]) : undefined;
  const listedOk = o.choices.some((c) => c.key === listed);
  // "Other..." when a text was given (an empty one beside a listed choice is not one), or when it is all there is
  const other = o.unlisted !== undefined && ((text !== undefined && (text !== '' || !listedOk)) || o.choices.length === 0);
  const picked = other ? undefined : listedOk ? listed : o.defaultChoice;
  const items = o.choices.map((c) => `<option value="${e(c.key)}"${c.key === picked ? ' selected' : ''}>${e(c.display_name)}</option>`);
  if (o.unlisted) items.push(`<option value="${UNLISTED_SELECT_VALUE}"${other ? ' selected' : ''}>${e(o.unlisted.display_name_in_choices)}</option>`);
  const parts = [`<label class="profile-option">${e(o.display_name)} <select name="${e(name)}">${items.join('')}</select></label>`];
  if (o.unlisted) {
    const u = o.unlisted;
    const help = u.validation_message ? `<span class="muted form-help">${e(u.validation_message)}</span>` : '';
    const value = text === undefined ? '' : ` value="${e(text)}"`;
    parts.push(
      `<label class="profile-option-unlisted">${e(u.display_name)} <span class="muted">(used when “${e(u.display_name_in_choices)}” is chosen)</span> ` +
        `<input type="text" name="${e(name + SUFFIX)}"${value} maxlength="${MAX_TEXT}"${patternAttr(u.pattern || undefined)} autocomplete="off">${help}</label>`,
    );
  }
  return parts.join('');
}

/**
 * The profile cards: the profile of `previous` (a server's last user_options)
 * checked with its choices preselected, else the default profile. Empty for
 * no profiles.
 */
export function profileFormHtml(profiles: ResolvedProfile[], previous: Record<string, unknown>): string {
  if (profiles.length === 0) return '';
  const prevSlug = str(previous['profile']);
  const checked = profiles.find((p) => p.slug === prevSlug) ?? profiles.find((p) => p.default) ?? profiles[0]!;
  const cards = profiles.map((p) => {
    const on = p === checked;
    const description = p.description ? ` <span class="muted profile-description">${e(p.description)}</span>` : '';
    const head = `<label class="profile-head"><input type="radio" name="profile" value="${e(p.slug)}"${on ? ' checked' : ''}> <strong>${e(p.display_name)}</strong>${description}</label>`;
    const opts = p.options.map((o) => optionHtml(p, o, on ? previous : undefined)).join('');
    return `<div class="card profile-card" data-profile="${e(p.slug)}">${head}${opts ? `<div class="profile-options">${opts}</div>` : ''}</div>`;
  });
  return `<fieldset class="profile-list"><legend>Profile</legend>${cards.join('\n')}</fieldset>`;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * user_options from the posted form: `profile`, and for the chosen profile
 * only, `<option>` (a listed choice) or `<option>--unlisted-choice` (the free
 * text, when "Other..." was chosen). Fields of other profiles are dropped;
 * the checks are those of `applyProfile` (profiles.ts).
 */
export function profileOptionsFromForm(posted: Record<string, string | string[]>): Record<string, unknown> {
  const slug = one(posted['profile']);
  if (slug === undefined || slug === '') return {};
  const out: Record<string, unknown> = { profile: slug };
  const prefix = `profile-option-${slug}--`;
  for (const [name, v] of Object.entries(posted)) {
    if (!name.startsWith(prefix)) continue;
    const option = name.slice(prefix.length);
    // another field of this option, or of a profile whose slug starts with this one's and "--"
    if (option === '' || option.includes('--')) continue;
    const value = one(v) ?? '';
    if (value === UNLISTED_SELECT_VALUE) out[option + SUFFIX] = one(posted[name + SUFFIX]) ?? '';
    else out[option] = value;
  }
  return out;
}
