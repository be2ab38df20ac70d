/**
 * The `profile_list` of a Kubernetes back-end as the hub uses it: slugs filled,
 * defaults decided, regexes compiled (KubeSpawner's semantics), and the checks
 * made when the configuration is loaded, so a profile that would give an
 * unusable pod is refused at start, never at a spawn.
 */
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../../lib/errors.js';
import { deepMerge } from './deep-merge.js';
import { KubernetesSpawnerSchema, type KubernetesSpawnerConfig } from './kubernetes-config.js';

/** One listed choice of a profile option. */
export interface ResolvedChoice {
  key: string;
  display_name: string;
  override: Record<string, unknown>;
}

/** The free-text value of a profile option, when enabled. */
export interface ResolvedUnlisted {
  display_name: string;
  display_name_in_choices: string;
  /** The configured regex ('' for none); the whole value must match. */
  pattern: string;
  regex: RegExp | undefined;
  validation_message: string;
  /** `{value}` in its strings is replaced by the user's text. */
  override: Record<string, unknown>;
}

/** One option of a profile (a select on its card). */
export interface ResolvedOption {
  key: string;
  display_name: string;
  choices: ResolvedChoice[];
  /** The choice taken when the user names none (the one marked default, else the first); undefined when only a free text is offered. */
  defaultChoice: string | undefined;
  unlisted: ResolvedUnlisted | undefined;
}

/** A profile with its slug filled and its options resolved. */
export interface ResolvedProfile {
  slug: string;
  display_name: string;
  description: string;
  /** The profile taken when user_options name none. */
  default: boolean;
  override: Record<string, unknown>;
  options: ResolvedOption[];
  allowed_groups: string[];
  enabled: boolean;
  /** Its place in `profile_list` (for error messages). */
  index: number;
}

/** Options no profile may change: they belong to the back-end, not to one server (the shared watch, the credentials, the form). */
export const BACKEND_ONLY_OPTIONS: ReadonlySet<string> = new Set([
  'kind',
  'display_name',
  'description',
  'allowed_groups',
  'profile_list',
  'kube_config',
  'namespace',
  'enable_user_namespaces',
  'user_namespace_template',
  'delete_pvc',
  'request_timeout',
  'watch_resync_seconds',
]);

/** A slug made from a display name: lower-case letters and digits, other runs as `-`. */
export function slugFromName(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
}

function compile(pattern: string, where: string): RegExp | undefined {
  if (pattern === '') return undefined;
  try {
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch (err) {
    throw new ConfigError(`${where}.validation_regex: ${JSON.stringify(pattern)} is not a valid regular expression (${(err as Error).message})`);
  }
}

type ProfileConfig = KubernetesSpawnerConfig['profile_list'][number];
type OptionConfig = ProfileConfig['profile_options'][string];

function resolveOption(key: string, o: OptionConfig, where: string): ResolvedOption {
  if (key.includes('--')) throw new ConfigError(`${where}: an option name may not contain "--" (it separates the form's field names)`);
  const choices = Object.entries(o.choices).map(([k, c]) => ({ key: k, display_name: c.display_name, override: c.kubespawner_override }));
  const marked = Object.entries(o.choices).filter(([, c]) => c.default);
  if (marked.length > 1) throw new ConfigError(`${where}.choices: more than one choice is marked default (${marked.map(([k]) => JSON.stringify(k)).join(', ')})`);
  const u = o.unlisted_choice;
  const unlisted: ResolvedUnlisted | undefined =
    u && u.enabled
      ? {
          display_name: u.display_name,
          display_name_in_choices: u.display_name_in_choices,
          pattern: u.validation_regex,
          regex: compile(u.validation_regex, `${where}.unlisted_choice`),
          validation_message: u.validation_message,
          override: u.kubespawner_override,
        }
      : undefined;
  if (choices.length === 0 && !unlisted) throw new ConfigError(`${where}.choices: the option offers nothing to pick (no choices and no enabled unlisted_choice)`);
  return { key, display_name: o.display_name, choices, defaultChoice: marked[0]?.[0] ?? choices[0]?.key, unlisted };
}

/**
 * Every profile of the back-end (enabled or not) with its slug filled (from
 * the display name when missing, made unique with `-2`, `-3`...) and the
 * first profile the default when none is marked. `where` names the back-end
 * in errors (`spawners.<name>`). Throws ConfigError on duplicate slugs, two
 * defaults, a bad regex.
 */
export function resolveProfiles(config: KubernetesSpawnerConfig, where = 'spawner'): ResolvedProfile[] {
  const list = config.profile_list;
  const given = new Set(list.map((p) => p.slug).filter((s) => s !== ''));
  const taken = new Set<string>();
  const out = list.map((p, index): ResolvedProfile => {
    const at = `${where}.profile_list[${index}]`;
    let slug = p.slug;
    if (slug === '') {
      const base = slugFromName(p.display_name) || `profile-${index + 1}`;
      slug = base;
      for (let n = 2; taken.has(slug) || given.has(slug); n++) slug = `${base}-${n}`;
    } else if (taken.has(slug)) {
      throw new ConfigError(`${at}.slug: ${JSON.stringify(slug)} is used by another profile; slugs must be unique`);
    }
    taken.add(slug);
    const options = Object.entries(p.profile_options).map(([k, o]) => resolveOption(k, o, `${at}.profile_options.${k}`));
    return { slug, display_name: p.display_name, description: p.description, default: p.default, override: p.kubespawner_override, options, allowed_groups: p.allowed_groups, enabled: p.enabled, index };
  });
  const marked = out.filter((p) => p.default);
  if (marked.length > 1) throw new ConfigError(`${where}.profile_list: more than one profile is marked default (${marked.map((p) => JSON.stringify(p.slug)).join(', ')})`);
  if (marked.length === 0 && out[0]) out[0].default = true;
  return out;
}

/** The configuration with each override merged over it in order (KubeSpawner's precedence). */
export function mergeOverrides(config: KubernetesSpawnerConfig, overrides: readonly Record<string, unknown>[]): Record<string, unknown> {
  let merged = config as unknown as Record<string, unknown>;
  for (const o of overrides) merged = deepMerge(merged, o);
  return merged;
}

/** The first way `merged` breaks the back-end's schema, as `path: message`, or undefined when it is valid. */
export function schemaProblem(merged: unknown): string | undefined {
  if (Value.Check(KubernetesSpawnerSchema, merged)) return undefined;
  const first = Value.Errors(KubernetesSpawnerSchema, merged).First();
  if (!first) return 'does not match the options of this back-end';
  const path = first.path.replace(/^\//, '').split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~')).join('.');
  return `${path || '(top)'}: ${first.message}`;
}

function checkOverrideKeys(override: Record<string, unknown>, where: string): void {
  const known = KubernetesSpawnerSchema.properties as Record<string, unknown>;
  for (const key of Object.keys(override)) {
    if (!Object.hasOwn(known, key)) throw new ConfigError(`${where}.kubespawner_override.${key}: not an option of the kubernetes back-end`);
    if (BACKEND_ONLY_OPTIONS.has(key)) throw new ConfigError(`${where}.kubespawner_override.${key}: a setting of the whole back-end, which a profile cannot change`);
  }
}

function checkMerged(config: KubernetesSpawnerConfig, overrides: Record<string, unknown>[], where: string): void {
  const problem = schemaProblem(mergeOverrides(config, overrides));
  if (problem) throw new ConfigError(`${where}: its overrides give an invalid configuration: ${problem}`);
}

/**
 * The checks made when the configuration is loaded: every override names
 * only options of this back-end (and none of the back-end-wide ones), and the
 * configuration each profile gives (with its default choices, and with each
 * listed choice in turn) is valid. Throws ConfigError naming
 * `<where>.profile_list[i]...`.
 */
export function checkProfileList(config: KubernetesSpawnerConfig, where = 'spawner'): ResolvedProfile[] {
  const profiles = resolveProfiles(config, where);
  for (const p of profiles) {
    const at = `${where}.profile_list[${p.index}]`;
    checkOverrideKeys(p.override, at);
    for (const o of p.options) {
      for (const c of o.choices) checkOverrideKeys(c.override, `${at}.profile_options.${o.key}.choices.${c.key}`);
      if (o.unlisted) checkOverrideKeys(o.unlisted.override, `${at}.profile_options.${o.key}.unlisted_choice`);
    }
    // the option order is the order overrides apply in: each option's default choice, or `pick` for one option
    const chosen = (pick?: { option: string; choice: string }): Record<string, unknown>[] =>
      p.options.flatMap((o) => {
        const key = pick && pick.option === o.key ? pick.choice : o.defaultChoice;
        return o.choices.filter((c) => c.key === key).map((c) => c.override);
      });
    checkMerged(config, [p.override, ...chosen()], at);
    for (const o of p.options) {
      for (const c of o.choices) checkMerged(config, [p.override, ...chosen({ option: o.key, choice: c.key })], `${at}.profile_options.${o.key}.choices.${c.key}`);
    }
  }
  return profiles;
}
