/**
 * The host a batch job runs on, as the scheduler printed it (Slurm's `%B`),
 * checked before the hub connects to it, and optionally rewritten with
 * `state_exechost_exp` (e.g. nodes reached through another interface:
 * `int-\1.cluster.edu`).
 */
import { isIP } from 'node:net';
import { quoteName } from '../../lib/quote-name.js';

/** One DNS label; underscores are allowed because some clusters name nodes so. */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/;

/**
 * Whether `host` looks like a host name (dot-separated labels of letters,
 * digits, `-` and `_`, at most 253 characters, one trailing dot allowed) or
 * an IPv4/IPv6 address (without a zone id). False for what schedulers print when there is no
 * host (`n/a`, `(null)`, `None`, the empty string) and for anything holding
 * spaces, quotes, slashes or other shell characters.
 */
export function plausibleHost(host: string): boolean {
  // an IPv6 address with a zone id (`fe80::1%eth0`) is no host a URL can name
  if (isIP(host) !== 0) return !host.includes('%');
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name === '' || name.length > 253) return false;
  if (/^(?:none|null|n\/a)$/i.test(name)) return false;
  if (/^[0-9.]+$/.test(name)) return false; // digits and dots that are not an IPv4 address
  return name.split('.').every((label) => LABEL.test(label));
}

/**
 * The host to connect to: `host` itself when `exp` is empty, otherwise `exp`
 * with every `\1` and `$1` replaced by `host` (batchspawner's
 * `state_exechost_exp`, where `\1` is the host its regex matched), e.g.
 * `rewriteHost('nid001', 'int-\\1.cluster.edu') === 'int-nid001.cluster.edu'`.
 * `exp` without a placeholder names one fixed host.
 *
 * @throws Error quoting the value when `host` or the result is not a
 *   plausible host ({@link plausibleHost}).
 */
export function rewriteHost(host: string, exp: string): string {
  if (!plausibleHost(host)) {
    throw new Error(`the scheduler printed ${quoteName(host)} as the job's host, which is not a host name or IP address`);
  }
  if (exp === '') return host;
  const out = exp.replace(/\\1|\$1/g, () => host);
  if (!plausibleHost(out)) {
    throw new Error(`state_exechost_exp turned the host ${quoteName(host)} into ${quoteName(out)}, which is not a host name or IP address`);
  }
  return out;
}
