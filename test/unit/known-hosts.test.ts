import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import {
  checkHostKey,
  entryMatchesHost,
  hostKeyAlgorithms,
  knownHostsName,
  parseKnownHosts,
} from '../../src/spawners/batch/known-hosts.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-kh-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A real public key line made by ssh-keygen: [type, base64]. */
function newKey(type: 'ed25519' | 'ecdsa' | 'rsa'): [string, string] {
  const f = path.join(dir, `k-${type}-${Math.random().toString(36).slice(2)}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-f', f]);
  const [t, b64] = readFileSync(`${f}.pub`, 'utf8').split(' ');
  return [t as string, b64 as string];
}
const blob = (k: [string, string]) => Buffer.from(k[1], 'base64');

const ed = newKey('ed25519');
const ec = newKey('ecdsa');
const rsa = newKey('rsa');
const other = newKey('ed25519');

test('names: port 22 plain, other ports bracketed', () => {
  assert.equal(knownHostsName('login1', 22), 'login1');
  assert.equal(knownHostsName('127.0.0.1', 2222), '[127.0.0.1]:2222');
});

test('plain, bracketed, several key types: the right key is accepted, another refused as changed', () => {
  const text = [
    '# comment',
    '',
    `login1,10.0.0.5 ${ed.join(' ')}`,
    `[127.0.0.1]:2222 ${ec.join(' ')} a comment`,
    `[127.0.0.1]:2222 ${rsa.join(' ')}`,
  ].join('\n');
  const { entries, problems } = parseKnownHosts(text);
  assert.deepEqual(problems, []);
  assert.equal(entries.length, 3);
  assert.deepEqual(checkHostKey(entries, 'login1', 22, blob(ed), 'kh'), { ok: true, line: 3 });
  assert.deepEqual(checkHostKey(entries, '10.0.0.5', 22, blob(ed), 'kh'), { ok: true, line: 3 });
  assert.deepEqual(checkHostKey(entries, '127.0.0.1', 2222, blob(rsa), 'kh'), { ok: true, line: 5 });
  const changed = checkHostKey(entries, 'login1', 22, blob(other), '/etc/kh');
  assert.equal(changed.ok, false);
  assert.ok(!changed.ok && changed.reason === 'changed' && /login1.*\/etc\/kh/.test(changed.message));
  // the plain entry does not cover another port
  const port = checkHostKey(entries, 'login1', 2222, blob(ed), 'kh');
  assert.ok(!port.ok && port.reason === 'unknown' && port.message.includes('[login1]:2222'));
  assert.deepEqual(hostKeyAlgorithms(entries, '127.0.0.1', 2222), ['ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  assert.deepEqual(hostKeyAlgorithms(entries, 'login1', 22), ['ssh-ed25519']);
});

test('hashed entries (made by ssh-keygen -H) match their host only', () => {
  const f = path.join(dir, 'hashed');
  writeFileSync(f, `[login2.example.org]:2200 ${ed.join(' ')}\nlogin3 ${ec.join(' ')}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', f], { stdio: 'ignore' });
  const text = readFileSync(f, 'utf8');
  assert.ok(text.startsWith('|1|'));
  const { entries, problems } = parseKnownHosts(text);
  assert.deepEqual(problems, []);
  assert.ok(checkHostKey(entries, 'login2.example.org', 2200, blob(ed), f).ok);
  assert.ok(checkHostKey(entries, 'login3', 22, blob(ec), f).ok);
  assert.ok(checkHostKey(entries, 'LOGIN3', 22, blob(ec), f).ok, 'names are compared in lower case');
  assert.equal(checkHostKey(entries, 'login2.example.org', 22, blob(ed), f).ok, false);
  assert.equal(checkHostKey(entries, 'login4', 22, blob(ec), f).ok, false);
});

test('patterns: wildcards and negation', () => {
  assert.ok(entryMatchesHost('*.cluster.edu', 'login1.cluster.edu', 22));
  assert.ok(entryMatchesHost('login?', 'login7', 22));
  assert.ok(!entryMatchesHost('*.cluster.edu,!bad.cluster.edu', 'bad.cluster.edu', 22));
  assert.ok(entryMatchesHost('LOGIN1', 'login1', 22));
  assert.ok(!entryMatchesHost('login1', 'login1x', 22));
  assert.ok(!entryMatchesHost('a.b', 'aXb', 22), 'a dot is not a wildcard');
});

test('@revoked refuses a key even when another line accepts it; @cert-authority alone is refused clearly', () => {
  const text = [`login1 ${ed.join(' ')}`, `@revoked * ${ed.join(' ')}`, `@cert-authority *.edu ${ec.join(' ')}`].join('\n');
  const { entries } = parseKnownHosts(text);
  const r = checkHostKey(entries, 'login1', 22, blob(ed), 'kh');
  assert.ok(!r.ok && r.reason === 'revoked');
  const ca = checkHostKey(entries, 'x.edu', 22, blob(ec), 'kh');
  assert.ok(!ca.ok && ca.reason === 'cert-only' && /certificates are not supported/.test(ca.message));
  assert.deepEqual(hostKeyAlgorithms(entries, 'x.edu', 22), []);
});

test('lines that make no sense are reported and ignored', () => {
  const { entries, problems } = parseKnownHosts(
    ['onlyhost', `h ssh-ed25519 not*base64`, `h ssh-rsa ${ed[1]}`, `@weird h ${ed.join(' ')}`, `h ${ed.join(' ')}`].join('\n'),
  );
  assert.equal(entries.length, 1);
  assert.deepEqual(
    problems.map((p) => p.line),
    [1, 2, 3, 4],
  );
});
