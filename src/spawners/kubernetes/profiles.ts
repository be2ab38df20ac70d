/**
 * Profiles of the Kubernetes back-end as KubeSpawner has them: which ones a
 * user may pick now (enabled, environment toggles, groups), and the
 * configuration a start gets from user_options `{profile, <option>,
 * <option>--unlisted-choice}` (config, then the profile's override, then each
 * option's choice in order). Every refusal is a HubError 400 naming the field
 * and the allowed values. Pure.
 */
import { HubError } from '../../lib/errors.js';
import { hasControl } from '../../lib/outside-text.js';
import { substituteValue } from './deep-merge.js';
import type { KubernetesSpawnerConfig } from './kubernetes-config.js';
import { mergeOverrides, resolveProfiles, schemaProblem, type ResolvedOption, type ResolvedProfile } from './profile-list.js';

export type { ResolvedChoice, ResolvedOption, ResolvedProfile, ResolvedUnlisted } from './profile-list.js';
export { checkProfileList, resolveProfiles } from './profile-list.js';
export { profileFormHtml, profileOptionsFromForm, UNLISTED_SELECT_VALUE } from './profile-form.js';

/** What a start picked: the profile's slug, the listed choice of each option, the free text of options given one. */
export interface ProfileChoice {
  profile: string;
  options: Record<string, string>;
  unlisted: Record<string, string>;
}

/** The suffix of the user option holding an option's free text (KubeSpawner's name). */
export const UNLISTED_SUFFIX = '--unlisted-choice';
/** The longest free text accepted for an option. */
export const UNLISTED_MAX_LENGTH = 256;
/** User options the hub itself adds next to the back-end's (the back-end choice, `BACKEND_OPTION` of backends.ts). */
const HUB_OPTION_KEYS: ReadonlySet<string> = new Set(['backend']);

/** The environment variable switching a profile on or off: `JUPYTER_PROFILE_<SLUG>_ENABLED`, `-` and `.` as `_`. */
export function profileToggleName(slug: string): string {
  return `JUPYTER_PROFILE_${slug.toUpperCase().replace(/[-.]/g, '_')}_ENABLED`;
}

const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no']);

/** Whether a profile is offered: its `enabled`, unless its environment toggle says true/false, 1/0 or yes/no (anything else: ignored, `warn` told). */
export function profileEnabled(p: ResolvedProfile, env: NodeJS.ProcessEnv, warn?: (message: string) => void): boolean {
  const name = profileToggleName(p.slug);
  const raw = env[name];
  if (raw === undefined) return p.enabled;
  const v = raw.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  warn?.(`${name}=${JSON.stringify(raw.slice(0, 32))} is not true/false, 1/0 or yes/no; profile ${JSON.stringify(p.slug)} keeps enabled: ${p.enabled}`);
  return p.enabled;
}

function mayUse(p: ResolvedProfile, user: { groups: string[]; admin: boolean }): boolean {
  return user.admin || p.allowed_groups.length === 0 || p.allowed_groups.some((g) => user.groups.includes(g));
}

/**
 * The profiles this user may use now, in their configured order: enabled
 * (environment toggles included), allowed by their groups (admins: all), slugs
 * filled. The default is the one marked default when it is among them, else
 * the first.
 */
export function availableProfiles(
  config: KubernetesSpawnerConfig,
  user: { groups: string[]; admin: boolean },
  env: NodeJS.ProcessEnv,
  warn?: (message: string) => void,
): ResolvedProfile[] {
  const marked = config.profile_list.some((p) => p.default);
  const all = resolveProfiles(config);
  const usable = all.filter((p) => profileEnabled(p, env, warn) && mayUse(p, user)).map((p) => ({ ...p, default: marked && p.default }));
  if (usable.length > 0 && !usable.some((p) => p.default)) usable[0] = { ...usable[0]!, default: true };
  return usable;
}

/** A value from user_options shown in a message: quoted, cut short. */
function shown(value: unknown): string {
  const s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

function listOf(values: readonly string[]): string {
  return values.length === 0 ? '(none)' : values.map((v) => JSON.stringify(v)).join(', ');
}

function bad(message: string): HubError {
  return new HubError(400, message);
}

function pickProfile(config: KubernetesSpawnerConfig, raw: unknown, profiles: ResolvedProfile[]): ResolvedProfile {
  const allowed = listOf(profiles.map((p) => p.slug));
  if (raw === undefined || raw === null || raw === '') {
    const d = profiles.find((p) => p.default) ?? profiles[0];
    if (!d) throw bad('user option "profile": no profile of this back-end is available to you');
    return d;
  }
  if (typeof raw !== 'string') throw bad(`user option "profile" must be a string; one of: ${allowed}`);
  const found = profiles.find((p) => p.slug === raw);
  if (found) return found;
  const exists = resolveProfiles(config).some((p) => p.slug === raw);
  throw bad(`user option "profile": ${shown(raw)} is ${exists ? 'not available to you' : 'not a profile of this back-end'}; one of: ${allowed}`);
}

function checkUnlisted(o: ResolvedOption, field: string, text: unknown): string {
  if (!o.unlisted) throw bad(`user option "${field}": option "${o.key}" takes no free text; one of: ${listOf(o.choices.map((c) => c.key))}`);
  if (typeof text !== 'string') throw bad(`user option "${field}" must be a string`);
  if (text === '') throw bad(`user option "${field}": give a value for ${JSON.stringify(o.unlisted.display_name)}`);
  if (text.length > UNLISTED_MAX_LENGTH) throw bad(`user option "${field}": at most ${UNLISTED_MAX_LENGTH} characters`);
  if (hasControl(text)) throw bad(`user option "${field}": control characters are not allowed`);
  if (o.unlisted.regex && !o.unlisted.regex.test(text)) {
    const why = o.unlisted.validation_message || `it must match ${o.unlisted.pattern}`;
    throw bad(`user option "${field}": ${shown(text)} is refused: ${why}`);
  }
  return text;
}

/**
 * Checks user_options against the profiles the user may use (`profiles`,
 * from {@link availableProfiles}) and returns the configuration with the
 * profile's and each option's choice's overrides applied, with the choice
 * made. With no `profile_list`, the config comes back unchanged (and a
 * `profile` option is refused). HubError 400 names the bad field.
 */
export function applyProfile(
  config: KubernetesSpawnerConfig,
  userOptions: Record<string, unknown>,
  profiles: ResolvedProfile[],
): { config: KubernetesSpawnerConfig; choice: ProfileChoice | undefined } {
  if (config.profile_list.length === 0) {
    if (userOptions['profile'] !== undefined) throw bad('user option "profile": this back-end has no profiles');
    return { config, choice: undefined };
  }
  const p = pickProfile(config, userOptions['profile'], profiles);
  const known = new Set(['profile', ...HUB_OPTION_KEYS, ...p.options.flatMap((o) => [o.key, o.key + UNLISTED_SUFFIX])]);
  for (const key of Object.keys(userOptions)) {
    if (!known.has(key)) {
      const names = p.options.map((o) => o.key);
      throw bad(`user option ${shown(key)} is not an option of profile "${p.slug}"; its options: ${listOf(names)}`);
    }
  }
  const choice: ProfileChoice = { profile: p.slug, options: {}, unlisted: {} };
  const overrides: Record<string, unknown>[] = [p.override];
  for (const o of p.options) {
    const field = o.key + UNLISTED_SUFFIX;
    const raw = userOptions[o.key];
    const given = userOptions[field];
    // an empty text next to a listed choice is a form that posted both fields: the choice counts
    const text = given === '' && typeof raw === 'string' && raw !== '' ? undefined : given;
    const allowed = listOf(o.choices.map((c) => c.key));
    if (text !== undefined && text !== null) {
      if (raw !== undefined && raw !== null && raw !== '') throw bad(`user options "${o.key}" and "${field}": give a listed choice or a free text, not both`);
      const value = checkUnlisted(o, field, text);
      choice.unlisted[o.key] = value;
      overrides.push(substituteValue(o.unlisted!.override, value));
      continue;
    }
    if (raw !== undefined && raw !== null && typeof raw !== 'string') throw bad(`user option "${o.key}" must be a string; one of: ${allowed}`);
    const key = raw === undefined || raw === null || raw === '' ? o.defaultChoice : raw;
    if (key === undefined) throw bad(`user option "${field}": option "${o.key}" has no listed choices; give a value`);
    const c = o.choices.find((x) => x.key === key);
    if (!c) throw bad(`user option "${o.key}": ${shown(key)} is not a choice of profile "${p.slug}"; one of: ${allowed}${o.unlisted ? ` (or a free text in "${field}")` : ''}`);
    choice.options[o.key] = c.key;
    overrides.push(c.override);
  }
  const merged = mergeOverrides(config, overrides);
  const problem = schemaProblem(merged);
  if (problem) {
    const texts = Object.keys(choice.unlisted).map((k) => k + UNLISTED_SUFFIX);
    // the configured overrides were checked at load: a free text is what made it invalid
    throw bad(texts.length > 0 ? `user option ${listOf(texts)}: the value gives an invalid configuration (${problem})` : `profile "${p.slug}" with these choices gives an invalid configuration (${problem})`);
  }
  return { config: merged as KubernetesSpawnerConfig, choice };
}
