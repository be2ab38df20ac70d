/**
 * Name rules for users, servers and groups: what the hub accepts at every
 * entry point (login, REST API, spawn page, config, `ganymede token`).
 *
 * A name ends up as a URL path segment (`/user/<name>/<server>/`, a proxy route,
 * `/hub/api/users/<name>`), in a directory name and in scope filters. Every
 * layer on the way (a browser, node's WHATWG URL parser, our proxy's route
 * table, fetch in the proxy client, Tornado and jupyter-server, a file system)
 * may decode, normalise or split it. So a name is refused when it is, or
 * contains, something one of them treats as path syntax:
 *
 * - **Dot segments.** A name made only of dots: `.` and `..` are removed or
 *   climb one level when a URL or a file path is resolved (user `..` would get
 *   the route `/user/../` = `/`, the whole hub, and the hub's data dir as its
 *   working directory). `...` and longer are refused too: some servers and
 *   file systems strip trailing dots, and nobody needs such a name.
 * - **Separators.** `/` and `\` (browsers and the WHATWG URL parser read `\`
 *   as `/` in http(s) URLs; Windows and some servers do too).
 * - **Percent signs.** `%` in any position: every percent-encoded form of a dot
 *   or a separator (`%2e%2e`, `.%2E`, `%2f`, `%5c`, double-encoded `%252e`...)
 *   contains one, and a layer that decodes once more than another would turn
 *   the name into a different path. (JupyterHub allows `%`; we do not.)
 * - **Compatibility forms.** The rules above are applied to the name's NFKC
 *   form as well, so fullwidth `．．`, `／`, `＼`, `％`, the one- and two-dot
 *   leaders `․` `‥` and `℀` (a/c) are refused like their ASCII forms.
 * - **Characters a URL parser drops or a log splits on.** Control characters
 *   (C0 including tab and newline, which the WHATWG parser deletes from URLs,
 *   DEL, C1), line and paragraph separators, invisible format characters
 *   (Unicode Cf: bidirectional-text controls, zero-width space and joiners,
 *   soft hyphen, word joiner, BOM: `admin` with one of them looks like
 *   `admin`), and lone surrogates (they have no UTF-8 form, so no URL form either).
 * - **Leading or trailing white space**, and an empty user or group name.
 * - **More than 255 characters.**
 * - **User names with compatibility characters** (a name that differs from
 *   its NFKC form): the Kelvin sign `K`, fullwidth `ｋ`, mathematical `𝐤`,
 *   ligatures `ﬁ`. They look like (and the Kelvin and Angstrom signs even
 *   lower-case to) another name, so a person named so at an identity provider
 *   could pass for another hub user. The login policy checks the name as the
 *   authenticator gave it, before lower-casing.
 * - **User names mixing Latin, Cyrillic and Greek letters** (`kаte` with a
 *   Cyrillic `а`): one of these scripts per name. Other scripts mix freely
 *   (Japanese names mix Han, Hiragana and Katakana).
 *
 * Everything else is allowed (`@`, `-`, `_`, `.` inside a name, `~`, `+`, `:`,
 * `?`, `#`, spaces inside, non-Latin letters): {@link quotePath} encodes it,
 * the way JupyterHub's `url_escape_path` does, and the per-server key
 * (lib/server-key.ts) encodes it again for names of files, cookies and OAuth
 * clients. User names are lower-cased ({@link normalizeUsername}).
 */

import { quoteName } from './quote-name.js';

/** Longest accepted name, in UTF-16 code units. */
export const NAME_MAX_LENGTH = 255;

/** User names are compared and stored lower-cased, as in JupyterHub. */
export function normalizeUsername(name: string): string {
  return name.toLowerCase();
}

const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const SEPARATOR = /[/\\]/;

/** Why `name` (already non-empty and short) breaks the path rules, or null. */
function pathSyntaxProblem(name: string): string | null {
  if (/\p{Cs}/u.test(name)) return 'it contains a lone surrogate (no UTF-8 form)';
  if (CONTROL.test(name)) return 'control characters, line separators and invisible format characters (bidirectional-text controls, zero-width spaces) are not allowed';
  if (/^\s|\s$/u.test(name)) return 'leading or trailing white space';
  for (const form of new Set([name, name.normalize('NFKC')])) {
    const raw = form === name ? '' : ` (its compatibility form is ${quoteName(form)})`;
    if (/^\.+$/.test(form)) return `a name made only of dots is refused ("." and ".." are path segments with special meaning)${raw}`;
    const sep = SEPARATOR.exec(form)?.[0];
    if (sep) return `${JSON.stringify(sep)} is not allowed: it is a path separator${raw}`;
    if (form.includes('%')) return `"%" is not allowed: percent-encoded forms of "." and "/" would be decoded into path syntax${raw}`;
  }
  return null;
}

function nameProblem(kind: 'user name' | 'server name' | 'group name', name: string): string | null {
  if (name.length > NAME_MAX_LENGTH) return `${kind} must be at most ${NAME_MAX_LENGTH} characters (got ${name.length})`;
  const p = pathSyntaxProblem(name);
  return p ? `invalid ${kind} ${quoteName(name)}: ${p}` : null;
}

/** Why a user name is invalid, or null when it is fine (see the module comment for the rules). */
export function usernameProblem(name: string): string | null {
  if (!name) return 'user name must not be empty';
  const p = nameProblem('user name', name);
  if (p) return p;
  const compat = name.normalize('NFKC');
  if (compat !== name) {
    return `invalid user name ${quoteName(name)}: it contains compatibility characters, a look-alike of ${quoteName(compat)} (write the name in its plain form)`;
  }
  const scripts = LOOKALIKE_SCRIPTS.filter(([, re]) => re.test(name)).map(([script]) => script);
  if (scripts.length > 1) {
    return `invalid user name ${quoteName(name)}: it mixes ${scripts.join(' and ')} letters, which look alike (e.g. Cyrillic "а" and Latin "a")`;
  }
  return null;
}

/** Scripts whose letters look like each other's: a user name may use one of them, not several. */
const LOOKALIKE_SCRIPTS: ReadonlyArray<[string, RegExp]> = [
  ['Latin', /\p{Script=Latin}/u],
  ['Cyrillic', /\p{Script=Cyrillic}/u],
  ['Greek', /\p{Script=Greek}/u],
];

/** Why a server name is invalid, or null. The default server's name is `''`, which is fine. */
export function serverNameProblem(name: string): string | null {
  if (!name) return null;
  return nameProblem('server name', name);
}

/** Why a group name is invalid, or null: the user-name rules (group names keep their case). */
export function groupNameProblem(name: string): string | null {
  if (!name) return 'group name must not be empty';
  return nameProblem('group name', name);
}

/**
 * URL path segment for a name, as JupyterHub's `url_escape_path` (Python's
 * `quote(s, safe="@~")`): every byte but ASCII letters, digits, `-._~@` is
 * percent-encoded, including the `!'()*` that encodeURIComponent leaves alone
 * (jupyter-server builds regular expressions from its base URL).
 */
export function quotePath(segment: string): string {
  return encodeURIComponent(segment)
    .replace(/%40/g, '@')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
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
