/**
 * Name rules, as JupyterHub applies them: user names are lower-cased, non-empty,
 * contain no `/` and no leading or trailing white space; server names contain no `/`.
 */
export function normalizeUsername(name: string): string {
  return name.toLowerCase();
}

/** Returns why a user name is invalid, or null when it is fine. */
export function usernameProblem(name: string): string | null {
  if (!name) return 'user name must not be empty';
  if (name.length > 255) return 'user name must be at most 255 characters';
  if (name.includes('/')) return `invalid user name ${JSON.stringify(name)}: "/" is not allowed`;
  if (name !== name.trim()) return `invalid user name ${JSON.stringify(name)}: leading or trailing white space`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return `invalid user name ${JSON.stringify(name)}: control characters are not allowed`;
  return null;
}

/** Returns why a named server's name is invalid, or null. The default server's name is ''. */
export function serverNameProblem(name: string): string | null {
  if (name.length > 255) return 'server name must be at most 255 characters';
  if (name.includes('/')) return `invalid server name ${JSON.stringify(name)}: "/" is not allowed`;
  if (name !== name.trim()) return `invalid server name ${JSON.stringify(name)}: leading or trailing white space`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return `invalid server name ${JSON.stringify(name)}: control characters are not allowed`;
  return null;
}

/** Group names follow the user-name rules. */
export function groupNameProblem(name: string): string | null {
  const p = usernameProblem(name);
  return p ? p.replace('user name', 'group name') : null;
}

/** URL path segment for a name (JupyterHub quotes with safe characters `@~`). */
export function quotePath(segment: string): string {
  return encodeURIComponent(segment).replace(/%40/g, '@').replace(/%7E/gi, '~');
}

/** Joins URL path parts with single slashes. */
export function urlJoin(...parts: string[]): string {
  let out = '';
  for (const part of parts) {
    if (!part) continue;
    if (!out) out = part;
    else out = `${out.replace(/\/+$/, '')}/${part.replace(/^\/+/, '')}`;
  }
  return out;
}
