/**
 * One identifier per server, injective over (user name, server name) pairs.
 *
 * Every per-server name the hub hands out (the OAuth client id, which
 * jupyterhub-singleuser also uses as its cookie name; the working directory;
 * later a Slurm job name or a Kubernetes pod name) is built from
 * {@link serverKey} or {@link serverDnsLabel}, never by gluing names together:
 * `ka-b` + `` and `ka` + `b` must not both give `ka-b`.
 *
 * The encoding: each name is escaped on its own; a character outside the kept
 * set becomes `-` followed by two lower-case hex digits per UTF-8 byte
 * (`-` itself is `-2d`, `A` is `-41`, `é` is `-c3-a9`). So in an escaped name
 * every `-` is followed by a hex digit, `--` never occurs and the last
 * character is never `-`. The pair is `user` for the default server (`''`) and
 * `user--server` for a named one. Reading left to right, the first `--` ends
 * the user part, and each part decodes to exactly one name: the encoding has an
 * inverse, hence it is injective.
 *
 * Kept characters: {@link serverKey} keeps `a-z`, `0-9`, `_` and `.` (except as
 * the first character, so a key never starts with `.`), which are RFC 6265
 * token characters and POSIX portable file-name characters; upper-case letters
 * are escaped, so keys differ even on case-insensitive file systems.
 * {@link serverDnsLabel} keeps only `a-z` and `0-9` (RFC 1123 labels, as
 * Kubernetes pod names and many schedulers' job names need).
 *
 * Length: a key of {@link SERVER_KEY_MAX} characters or more is shortened to
 * exactly that length: its start, `-` and 32 hex digits of its SHA-256 hash.
 * Keys shorter than the limit are left alone, so a shortened key never equals
 * an unshortened one; two shortened keys are equal only on a 128-bit hash
 * collision. A pair of names of up to 118 kept characters each is never
 * shortened.
 */
import { createHash } from 'node:crypto';

/** Length at which {@link serverKey} shortens (a file name may have 255 bytes). */
export const SERVER_KEY_MAX = 240;

/** Length of a DNS label (RFC 1123), the default limit of {@link serverDnsLabel}. */
export const DNS_LABEL_MAX = 63;

const TOKEN_KEEP = /^[a-z0-9_]$/;
const DNS_KEEP = /^[a-z0-9]$/;
const HASH_HEX = 32;

/** `-xx` for each UTF-8 byte of `ch`. */
function escapeChar(ch: string): string {
  let out = '';
  for (const byte of Buffer.from(ch, 'utf8')) out += `-${byte.toString(16).padStart(2, '0')}`;
  return out;
}

/** Escapes one name: kept characters as they are, every other one as `-xx` per UTF-8 byte. */
function escapePart(name: string, keep: RegExp, keepInnerDot: boolean): string {
  let out = '';
  for (const ch of name) {
    out += keep.test(ch) || (keepInnerDot && ch === '.' && out !== '') ? ch : escapeChar(ch);
  }
  return out;
}

/** `key` when shorter than `max`, else exactly `max` characters: a prefix of it, `-`, and 32 hex digits of its SHA-256. */
function shorten(key: string, max: number): string {
  if (key.length < max) return key;
  const hash = createHash('sha256').update(key).digest('hex').slice(0, HASH_HEX);
  return `${key.slice(0, max - HASH_HEX - 1)}-${hash}`;
}

function joinParts(user: string, server: string, escape: (s: string) => string): string {
  return server ? `${escape(user)}--${escape(server)}` : escape(user);
}

/**
 * The key of a (user, server) pair, for names of files, cookies and OAuth
 * clients: only `a-z 0-9 _ . -` (RFC 6265 token characters), never starting
 * with `.`, never ending with `-`, at most {@link SERVER_KEY_MAX} characters.
 * Distinct pairs give distinct keys (see the module comment).
 *
 * @example serverKey('alice', '') === 'alice'
 * @example serverKey('ka-b', '') === 'ka-2db'
 * @example serverKey('ka', 'b') === 'ka--b'
 */
export function serverKey(user: string, server: string): string {
  return shorten(
    joinParts(user, server, (s) => escapePart(s, TOKEN_KEEP, true)),
    SERVER_KEY_MAX,
  );
}

/**
 * A DNS label (RFC 1123: `a-z 0-9 -`, starting with a letter, ending with a
 * letter or digit) for a (user, server) pair: `prefix` then the pair escaped
 * with only `a-z 0-9` kept, shortened to `max` characters as in the module
 * comment. Distinct pairs give distinct labels for the same prefix.
 *
 * @param prefix starts with a letter, only `a-z 0-9 -`, e.g. `jupyter-`.
 * @example serverDnsLabel('jupyter-', 'ka.b', '') === 'jupyter-ka-2eb'
 * @throws Error when `prefix` is not a valid start of a label or leaves no room in `max`.
 */
export function serverDnsLabel(prefix: string, user: string, server: string, max = DNS_LABEL_MAX): string {
  if (!/^[a-z][a-z0-9-]*$/.test(prefix) || prefix.length + HASH_HEX + 2 > max) {
    throw new Error(`serverDnsLabel: prefix ${JSON.stringify(prefix)} must start with a letter, hold only a-z, 0-9 and -, and leave room in ${max} characters`);
  }
  return shorten(prefix + joinParts(user, server, (s) => escapePart(s, DNS_KEEP, false)), max);
}
