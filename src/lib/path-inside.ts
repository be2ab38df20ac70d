/**
 * The containment check for every file-system path the hub builds from a name
 * (a server's working directory, later a batch job's script or a pod's volume):
 * resolve, then refuse anything that is not strictly inside the base directory.
 * Name rules (lib/names.ts) already refuse `..`, separators and `%`; this is the
 * second lock, in case a rule is loosened or a name comes from an old database.
 *
 * Symbolic links are not followed: the base and the directories the hub
 * creates under it must not be writable by users.
 */
import path from 'node:path';
import { HubError } from './errors.js';

/**
 * `base` joined with `parts` and resolved, when the result lies strictly inside
 * `base` (never `base` itself, never outside it, no NUL byte). Otherwise throws
 * a HubError (400) whose log message names both paths.
 *
 * @example pathInside('/data/servers', 'alice') === '/data/servers/alice'
 * @example pathInside('/data/servers', '..') // throws
 */
export function pathInside(base: string, ...parts: string[]): string {
  const root = path.resolve(base);
  const full = path.resolve(root, ...parts);
  const rel = path.relative(root, full);
  const outside = rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel) || parts.some((p) => p.includes('\0'));
  if (outside) {
    throw new HubError(400, 'Refusing a file path outside the directory it belongs in', { logMessage: `path ${JSON.stringify(parts)} resolves to ${full}, outside ${root}` });
  }
  return full;
}
