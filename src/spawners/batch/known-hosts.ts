/**
 * A parser for OpenSSH `known_hosts` files and the host key check the SSH
 * transport makes with it. Pure: text and key bytes in, answers out.
 *
 * Understood: plain entries (`login1,10.0.0.5 ssh-ed25519 AAAA…`), entries
 * for another port (`[login1]:2222 …`), host patterns with `*`, `?` and
 * negation `!`, hashed entries (`|1|salt|hash`, HMAC-SHA1 of the name), every
 * key type (compared byte for byte), and the `@revoked` marker (a key listed
 * there is refused). `@cert-authority` lines are skipped: host certificates
 * are not supported, and a host known only through one is refused with a
 * message saying so.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** One usable line of a known_hosts file. */
export interface KnownHostEntry {
  /** 1-based line number, for messages. */
  line: number;
  marker: 'revoked' | 'cert-authority' | undefined;
  /** The host field as written (comma-separated patterns, or one `|1|salt|hash`). */
  hosts: string;
  /** The key type written on the line, e.g. `ssh-ed25519`. */
  keyType: string;
  /** The public key blob (SSH wire format), base64-decoded. */
  key: Buffer;
}

/** A line that could not be understood (it is ignored). */
export interface KnownHostsProblem {
  line: number;
  message: string;
}

/** Parses a known_hosts file; lines that make no sense are reported and ignored. */
export function parseKnownHosts(text: string): { entries: KnownHostEntry[]; problems: KnownHostsProblem[] } {
  const entries: KnownHostEntry[] = [];
  const problems: KnownHostsProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const fields = trimmed.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return problems.push({ line, message: `unknown marker ${m}` });
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64) return problems.push({ line, message: 'expected: hosts key-type base64-key' });
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return problems.push({ line, message: 'the key is not base64' });
    const key = Buffer.from(b64, 'base64');
    if (blobKeyType(key) !== keyType) return problems.push({ line, message: `the key is not a ${keyType} key` });
    entries.push({ line, marker, hosts, keyType, key });
    return undefined;
  });
  return { entries, problems };
}

/** The key type written inside an SSH public key blob (its first string), or undefined. */
export function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || blob.length < 4 + len) return undefined;
  const type = blob.subarray(4, 4 + len).toString('latin1');
  return /^[\x21-\x7e]+$/.test(type) ? type : undefined;
}

/** The name a host is listed under: `host` for port 22, else `[host]:port`. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatches(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

function hashedMatches(field: string, name: string): boolean {
  const parts = field.split('|'); // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2] as string, 'base64');
  const want = Buffer.from(parts[3] as string, 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Whether an entry's host field names `host` on `port`. */
export function entryMatchesHost(hosts: string, host: string, port: number): boolean {
  // OpenSSH compares host names in lower case (and hashes them so)
  const name = knownHostsName(host.toLowerCase(), port);
  if (hosts.startsWith('|')) return hashedMatches(hosts, name);
  let matched = false;
  for (const pattern of hosts.split(',')) {
    if (pattern.startsWith('!')) {
      if (globMatches(pattern.slice(1), name)) return false;
    } else if (globMatches(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

/** The outcome of checking a presented host key. */
export type HostKeyVerdict =
  | { ok: true; line: number }
  | { ok: false; reason: 'unknown' | 'changed' | 'revoked' | 'cert-only'; message: string };

/**
 * Checks the key `host:port` presented against the entries. `file` only
 * names the file in messages. A key listed as `@revoked` is refused even if
 * another line accepts it.
 */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, key: Buffer, file: string): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const forHost = entries.filter((e) => entryMatchesHost(e.hosts, host, port));
  const presented = blobKeyType(key) ?? 'unknown type';
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) {
    return { ok: false, reason: 'revoked', message: `the ${presented} host key of ${name} is marked @revoked in ${file} (line ${revoked.line})` };
  }
  const plain = forHost.filter((e) => e.marker === undefined);
  const match = plain.find((e) => e.key.equals(key));
  if (match) return { ok: true, line: match.line };
  if (plain.length > 0) {
    return {
      ok: false,
      reason: 'changed',
      message: `the ${presented} host key of ${name} does not match ${file} (line ${plain.map((e) => e.line).join(', ')}): the key changed, or this is another machine`,
    };
  }
  if (forHost.some((e) => e.marker === 'cert-authority')) {
    return { ok: false, reason: 'cert-only', message: `${name} is known in ${file} only through @cert-authority; host certificates are not supported, list its key instead` };
  }
  return { ok: false, reason: 'unknown', message: `${name} is not in ${file}: add its host key (ssh-keyscan, checked out of band)` };
}

/** SSH host key algorithms (ssh2's names) to offer for the key types listed for a host, most preferred first. */
export function hostKeyAlgorithms(entries: KnownHostEntry[], host: string, port: number): string[] {
  const types = new Set(
    entries.filter((e) => e.marker === undefined && entryMatchesHost(e.hosts, host, port)).map((e) => e.keyType),
  );
  const order: [string, string[]][] = [
    ['ssh-ed25519', ['ssh-ed25519']],
    ['ecdsa-sha2-nistp256', ['ecdsa-sha2-nistp256']],
    ['ecdsa-sha2-nistp384', ['ecdsa-sha2-nistp384']],
    ['ecdsa-sha2-nistp521', ['ecdsa-sha2-nistp521']],
    ['ssh-rsa', ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']],
    ['ssh-dss', ['ssh-dss']],
  ];
  return order.filter(([t]) => types.has(t)).flatMap(([, algs]) => algs);
}
