/**
 * The names of a server's Kubernetes objects (pure): KubeSpawner 7's "safe"
 * slugs for user and server names, and the expansion of `pod_name_template`,
 * `pvc_name_template` and `user_namespace_template`.
 *
 * Every name this file returns is a DNS-1123 label (lower-case letters, digits
 * and `-`, at most 63 characters, starting and ending with a letter or digit),
 * whatever the user or server name holds (dots, slashes, upper case, unicode,
 * lone surrogates, 300 characters, `--`). Distinct (user, server) pairs get
 * distinct names with the default templates: a slug is either the name kept as
 * it is (then it holds no `--`) or a cleaned prefix + `---` + 8 hex digits of
 * the name's sha256, so `{username}--{servername}` reads back unambiguously;
 * only a collision of 32-bit hash prefixes could merge two names, as in
 * KubeSpawner.
 */
import { createHash } from 'node:crypto';
import type { KubernetesSpawnerConfig } from './kubernetes-config.js';

/** The longest DNS-1123 label. */
export const DNS_LABEL_MAX = 63;

/** How long a user or server name's slug may be inside a template (KubeSpawner's 48). */
export const NAME_PART_MAX = 48;

/** `---` and 8 hex digits. */
const HASH_SUFFIX_LENGTH = 11;

/** A name kept as its own slug: starts with a letter, ends with a letter or digit, no `--`. */
const SAFE_AS_IS = /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/;

/** A DNS-1123 label (length checked apart). */
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/** A UTF-16 surrogate not in a pair (a `u` regex reads a pair as one code point). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * 8 hex digits of the sha256 of `name`: of its UTF-8 bytes (as KubeSpawner, so
 * a site moving over keeps its names), or of its UTF-16 code units when it holds
 * a lone surrogate (UTF-8 would turn every lone surrogate into U+FFFD and merge
 * distinct names).
 */
function hash8(name: string): string {
  const bytes = !LONE_SURROGATE.test(name) ? Buffer.from(name, 'utf8') : Buffer.concat([Buffer.from('utf16:'), Buffer.from(name, 'utf16le')]);
  return createHash('sha256').update(bytes).digest('hex').slice(0, 8);
}

/** `text` lower-cased with every run of characters other than `[a-z0-9]` made one `-`. */
function dashed(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

/** `stem` cut to `max` characters without a `-` at its end, or `fallback` when nothing is left. */
function cut(stem: string, max: number, fallback: string): string {
  const s = stem.slice(0, max).replace(/-+$/, '');
  return s === '' ? fallback : s;
}

/**
 * KubeSpawner 7's "safe" slug of a user or server name: the name itself when it
 * already is a safe label (lower-case letters, digits, single `-`, starting
 * with a letter, at most `maxLength`); otherwise the name lower-cased, every run
 * of other characters made `-`, leading characters up to the first letter
 * dropped, cut to fit, then `---` and 8 hex digits of its sha256. The empty
 * name stays empty (the default server).
 *
 * @param maxLength at most this many characters (12 to 63; default 63).
 */
export function safeSlug(name: string, maxLength: number = DNS_LABEL_MAX): string {
  const max = Math.min(DNS_LABEL_MAX, Math.max(HASH_SUFFIX_LENGTH + 1, Math.floor(maxLength)));
  if (name === '') return '';
  if (name.length <= max && SAFE_AS_IS.test(name) && !name.includes('--')) return name;
  const stem = dashed(name).replace(/^[^a-z]+/, '');
  return `${cut(stem, max - HASH_SUFFIX_LENGTH, 'x')}---${hash8(name)}`;
}

/**
 * `name` as a DNS-1123 label: kept when it is one (at most 63 characters),
 * else cleaned, cut and suffixed with `---` and the hash of the whole `name`
 * (a template's expansion that grew too long or holds other characters).
 */
export function dnsLabel(name: string): string {
  if (name.length <= DNS_LABEL_MAX && DNS_LABEL.test(name)) return name;
  const stem = dashed(name).replace(/^-+/, '');
  return `${cut(stem, DNS_LABEL_MAX - HASH_SUFFIX_LENGTH, 'x')}---${hash8(name)}`;
}

/** The values a name template may use. */
export interface NameVariables {
  /** The user's slug. */
  username: string;
  /** The server's slug (empty for the default server). */
  servername: string;
  /** `{username}`, or `{username}--{servername}` for a named server. */
  user_server: string;
  /** The hub's namespace. */
  hubnamespace: string;
}

/** The slugs of a (user, server) pair and the hub's namespace, as templates use them. */
export function nameVariables(user: string, server: string, hubNamespace: string): NameVariables {
  const username = safeSlug(user, NAME_PART_MAX);
  const servername = safeSlug(server, NAME_PART_MAX);
  return {
    username,
    servername,
    user_server: servername === '' ? username : `${username}--${servername}`,
    hubnamespace: dnsLabel(hubNamespace),
  };
}

/**
 * `template` with `{username}`, `{servername}`, `{user_server}` and
 * `{hubnamespace}` replaced by their values; other text, unknown `{...}`
 * included, is left as it is.
 */
export function expandNameTemplate(template: string, vars: NameVariables): string {
  return template.replace(/\{(username|servername|user_server|hubnamespace)\}/g, (_m, key: keyof NameVariables) => vars[key]);
}

/** The names of a server's objects. */
export interface ServerObjectNames {
  /** Where the pod, claim and secret live. */
  namespace: string;
  pod: string;
  pvc: string;
  /** The Secret holding the server's secret environment (the API token...): named as the pod. */
  secret: string;
}

/**
 * The names of the objects of `user`'s server `server` (empty: the default
 * server): `pod_name_template` and `pvc_name_template` expanded and made DNS
 * labels; the namespace is `user_namespace_template`'s expansion with
 * `enable_user_namespaces`, else `namespace`, else the hub's own.
 */
export function serverObjectNames(config: KubernetesSpawnerConfig, user: string, server: string, hubNamespace: string): ServerObjectNames {
  const vars = nameVariables(user, server, hubNamespace);
  const namespace = config.enable_user_namespaces
    ? dnsLabel(expandNameTemplate(config.user_namespace_template, vars))
    : dnsLabel(config.namespace !== '' ? config.namespace : hubNamespace);
  const pod = dnsLabel(expandNameTemplate(config.pod_name_template, vars));
  return { namespace, pod, pvc: dnsLabel(expandNameTemplate(config.pvc_name_template, vars)), secret: pod };
}
