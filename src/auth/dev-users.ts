/**
 * The dev mode that mimics the BriCS JWT login (`auth.dev_users` of the
 * shared-password login): entries `<user>.<project>` name the people who may
 * log in and the projects each has, and the auth state is built in the shape
 * the JWT-header login gives, so the spawn form and the job submission see
 * what production sees.
 */
import { normalizeUsername, usernameProblem } from '../lib/names.js';
import { isSafeProjectName, type PlatformProjects } from './projects.js';

/** The projects auth state: the JWT-header login's own type (src/auth/projects.ts), so both give one shape. */
export type DevProjects = PlatformProjects;

/** One `dev_users` entry split: the hub user (normalised) and the project. */
export interface DevUser {
  user: string;
  project: string;
  /** The whole entry, the project account's user name (`alice.proj1`). */
  entry: string;
}

/**
 * Splits an entry at its first dot: `alice.proj1` → user `alice`, project
 * `proj1`; `alice.proj1.portal` → project `proj1.portal`. Returns why it is
 * not a valid entry instead when the user part is not a valid hub name or the
 * project is empty.
 */
export function parseDevUser(entry: string): DevUser | { problem: string } {
  const dot = entry.indexOf('.');
  if (dot < 0) return { problem: `expected <user>.<project>, got "${entry}" (no dot)` };
  const user = normalizeUsername(entry.slice(0, dot));
  const project = entry.slice(dot + 1);
  const bad = usernameProblem(user);
  if (bad) return { problem: `the user part "${entry.slice(0, dot)}" is not a valid user name: ${bad}` };
  if (project.trim() === '') return { problem: `the project after the first dot is empty in "${entry}"` };
  // both become paths and `sudo -u` arguments downstream, as the JWT login's do
  if (!isSafeProjectName(project)) return { problem: `the project "${project}" must be letters, digits, "_", "." and "-", not starting with "." or "-" (at most 128)` };
  if (!isSafeProjectName(entry)) return { problem: `"${entry}" is used as a unix account name: letters, digits, "_", "." and "-" only (at most 128)` };
  return { user, project, entry };
}

/** Every bad entry with its index (`auth.dev_users[2]`), for the config loader; empty when all are fine. */
export function devUsersProblems(entries: readonly string[], option = 'auth.dev_users'): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  entries.forEach((entry, i) => {
    const parsed = parseDevUser(entry);
    if ('problem' in parsed) out.push({ key: `${option}[${i}]`, message: parsed.problem });
  });
  return out;
}

/**
 * The projects auth state of `name` (compared normalised) from the `dev_users`
 * entries: `{proj1: {name: 'proj1', username: 'alice.proj1'}, ...}`, or null
 * when `name` is none of the dev users. Entries must have passed
 * {@link devUsersProblems} (bad ones are skipped).
 */
export function devUserProjects(entries: readonly string[], name: string): DevProjects | null {
  const wanted = normalizeUsername(name);
  const kept: Array<[string, DevProjects[string]]> = [];
  for (const entry of entries) {
    const parsed = parseDevUser(entry);
    if ('problem' in parsed || parsed.user !== wanted) continue;
    kept.push([parsed.project, { name: parsed.project, username: parsed.entry }]);
  }
  // fromEntries defines own properties (as the JWT login's filter does): a project "__proto__" stays a key
  return kept.length ? Object.fromEntries(kept) : null;
}
