/** STUB (part "profiles" replaces it at merge). */
import { HubError } from '../../lib/errors.js';
import type { KubernetesSpawnerConfig } from './kubernetes-config.js';

/** A profile this user may use. */
export type ResolvedProfile = KubernetesSpawnerConfig['profile_list'][number];

/** What the user chose. */
export interface ProfileChoice {
  profile: string;
  options: Record<string, string>;
  unlisted: Record<string, string>;
}

/** Profiles this user may use now. */
export function availableProfiles(config: KubernetesSpawnerConfig, _user: { groups: string[]; admin: boolean }, _env: NodeJS.ProcessEnv): ResolvedProfile[] {
  return config.profile_list.filter((p) => p.enabled);
}

/** Checks user_options and applies the profile's overrides. */
export function applyProfile(config: KubernetesSpawnerConfig, userOptions: Record<string, unknown>, profiles: ResolvedProfile[]): { config: KubernetesSpawnerConfig; choice: ProfileChoice | undefined } {
  if (profiles.length === 0) return { config, choice: undefined };
  const slug = userOptions['profile'] ?? profiles.find((p) => p.default)?.slug ?? profiles[0]?.slug;
  const p = profiles.find((x) => x.slug === slug);
  if (!p) throw new HubError(400, `profile: no profile ${JSON.stringify(slug)}`);
  return { config: { ...config, ...(p.kubespawner_override as Partial<KubernetesSpawnerConfig>) }, choice: { profile: p.slug, options: {}, unlisted: {} } };
}

/** The form's cards. */
export function profileFormHtml(profiles: ResolvedProfile[], _previous: Record<string, unknown>): string {
  return profiles.map((p) => `<input type="radio" name="profile" value="${p.slug}">`).join('');
}

/** user_options from the posted form. */
export function profileOptionsFromForm(posted: Record<string, string | string[]>): Record<string, unknown> {
  const p = posted['profile'];
  return typeof p === 'string' ? { profile: p } : {};
}
