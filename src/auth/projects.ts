/**
 * The BriCS projects a user may run under, as both the JWT-header login
 * (src/auth/jwt-header/) and the dev mode keep them in the user's auth state.
 * Pure: no I/O, so the two logins produce exactly the same shape.
 *
 * The identity provider's `projects` claim maps a project id to its name and
 * the resources (platforms) it has, each with the unix account the project's
 * member uses there:
 *
 * ```json
 * {"project1.portal": {"name": "Project 1", "resources": [{"name": "brics.aip1.notebooks", "username": "test_user.project1"}]}}
 * ```
 *
 * The hub keeps only the projects with a resource on its own platform, as
 * `{"project1.portal": {"name": "Project 1", "username": "test_user.project1"}}`.
 */

/** One resource (platform) of a project in the `projects` claim. */
export interface ProjectResource {
  name: string;
  username: string;
}

/** One project of the `projects` claim. */
export interface ClaimProject {
  name: string;
  resources: ProjectResource[];
}

/** The `projects` claim as the identity provider sends it (or a JSON string holding it). */
export type ProjectsClaim = Record<string, ClaimProject>;

/** A project the user may run under on this platform: its name and the unix account used there. */
export interface PlatformProject {
  name: string;
  username: string;
}

/** The auth state of a BriCS user: project id → project on this platform. */
export type PlatformProjects = Record<string, PlatformProject>;

/** The `projects` claim is not what it should be; the message names what is wrong. */
export class ProjectsClaimError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProjectsClaimError';
  }
}

/**
 * Project ids and unix account names downstream become paths (`/home/<project>/<user>`)
 * and `sudo -u` arguments: letters, digits, `_`, `.` and `-`, not starting with `.` or `-`,
 * at most 128 characters.
 */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** True when `name` is safe as a project id or a project's unix account name (see SAFE_NAME). */
export function isSafeProjectName(name: string): boolean {
  return SAFE_NAME.test(name);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Short, printable rendering of a hostile value for an error message. */
function show(v: string): string {
  return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
}

/**
 * The projects of `claim` that have a resource named `platform`, as
 * `{project_id: {name, username}}` (the username is that resource's).
 * `claim` is the decoded claim: an object, or a JSON string holding one.
 * Projects on other platforms are left out whatever their shape; a project
 * on this platform must have a string `name`, and its resource a safe
 * `username` (isSafeProjectName), and its id must be safe too.
 *
 * Returns `{}` when no project has this platform (the caller refuses the login).
 * @throws ProjectsClaimError when the claim, or a project on this platform, is malformed.
 */
export function projectsForPlatform(claim: unknown, platform: string): PlatformProjects {
  let projects = claim;
  if (typeof projects === 'string') {
    try {
      projects = JSON.parse(projects) as unknown;
    } catch {
      throw new ProjectsClaimError('the projects claim is a string that is not JSON');
    }
  }
  if (!isPlainObject(projects)) throw new ProjectsClaimError('the projects claim is not an object of projects');
  const kept: Array<[string, PlatformProject]> = [];
  for (const [id, project] of Object.entries(projects)) {
    if (!isPlainObject(project)) throw new ProjectsClaimError(`project ${show(id)} in the projects claim is not an object`);
    const resources = project['resources'];
    if (!Array.isArray(resources)) throw new ProjectsClaimError(`project ${show(id)} in the projects claim has no list of resources`);
    const here = resources.filter((r): r is Record<string, unknown> => isPlainObject(r) && r['name'] === platform);
    if (here.length === 0) continue;
    if (here.length > 1) throw new ProjectsClaimError(`project ${show(id)} has more than one resource on platform ${show(platform)}`);
    const username = here[0]!['username'];
    const name = project['name'];
    if (!isSafeProjectName(id)) throw new ProjectsClaimError(`project id ${show(id)} is not allowed (letters, digits, _ . -)`);
    if (typeof name !== 'string') throw new ProjectsClaimError(`project ${show(id)} has no name`);
    if (typeof username !== 'string') throw new ProjectsClaimError(`project ${show(id)} has no username on platform ${show(platform)}`);
    if (!isSafeProjectName(username)) throw new ProjectsClaimError(`the username ${show(username)} of project ${show(id)} is not allowed (letters, digits, _ . -)`);
    kept.push([id, { name, username }]);
  }
  // fromEntries defines own properties, so an id such as "__proto__" stays a plain key
  return Object.fromEntries(kept);
}
