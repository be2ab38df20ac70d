/**
 * Issue 9, item 1.2: every per-server identifier is injective over
 * (user, server) pairs (src/lib/server-key.ts, used by the OAuth client id and
 * the working directory).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DNS_LABEL_MAX, SERVER_KEY_MAX, serverDnsLabel, serverKey } from '../../src/lib/server-key.js';
import { oauthClientId } from '../../src/hub/spawn-env.js';

/** Names built to collide under naive joins: separators, the escape character, escapes spelled out, case, unicode forms. */
const PARTS = [
  'a', 'b', 'ka', 'ka-b', 'ka--b', 'ka---b', 'b-', '-b', '-', '--', '---', '-2d', 'ka-2db', 'ka-2d', '2d', '-2',
  '_', 'a_b', 'a__b', 'ka_b', '.', '..', '.a', 'a.', 'a.b', '%', '%2d', 'ka%2db', '@', 'a@b', '~', 'a~b', '+', ' ', 'a b',
  'A', 'GPU', 'gpu', 'Gpu', '-41', '-47pu', 'é', 'e\u0301', 'É', '-c3-a9', '用户', '😀', '-f0-9f-98-80', 'user', 'server',
  'jupyterhub', 'x'.repeat(118), 'x'.repeat(119), 'x'.repeat(120),
];
const SERVERS = ['', ...PARTS];

/** Pairs from PARTS, plus the pairs a naive `user-server` or `user--server` join confuses with them. */
function trickyPairs(): [string, string][] {
  const pairs = new Map<string, [string, string]>();
  const add = (u: string, s: string) => pairs.set(JSON.stringify([u, s]), [u, s]);
  for (const u of PARTS) {
    for (const s of SERVERS) {
      add(u, s);
      if (s) {
        add(`${u}-${s}`, '');
        add(`${u}--${s}`, '');
        add(`${u}_${s}`, '');
        add(`${u}.${s}`, '');
        add(u, `${s}-`);
      }
    }
  }
  return [...pairs.values()];
}

/** The inverse of serverKey for unshortened keys: the proof that distinct pairs get distinct keys. */
function decodeKey(key: string): [string, string] {
  const decodePart = (part: string): string => {
    const bytes: number[] = [];
    for (let i = 0; i < part.length; ) {
      if (part[i] === '-') {
        assert.match(part.slice(i + 1, i + 3), /^[0-9a-f]{2}$/, `escape in ${key}`);
        bytes.push(parseInt(part.slice(i + 1, i + 3), 16));
        i += 3;
      } else {
        bytes.push(...Buffer.from(part[i]!, 'utf8'));
        i += 1;
      }
    }
    return Buffer.from(bytes).toString('utf8');
  };
  const sep = key.indexOf('--');
  return sep === -1 ? [decodePart(key), ''] : [decodePart(key.slice(0, sep)), decodePart(key.slice(sep + 2))];
}

const RFC6265_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DNS_LABEL = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;

describe('per-server keys (issue 9, 1.2)', () => {
  const pairs = trickyPairs();

  it(`serverKey is injective over ${pairs.length} tricky (user, server) pairs and decodes back to each pair`, () => {
    const seen = new Map<string, [string, string]>();
    for (const [u, s] of pairs) {
      const key = serverKey(u, s);
      const other = seen.get(key);
      assert.equal(other, undefined, `${JSON.stringify([u, s])} and ${JSON.stringify(other)} both give ${key}`);
      seen.set(key, [u, s]);
      if (key.length < SERVER_KEY_MAX) assert.deepEqual(decodeKey(key), [u, s], key);
    }
  });

  it('serverKey gives RFC 6265 tokens and portable file names: a-z 0-9 _ . -, not starting with "." or ending with "-"', () => {
    for (const [u, s] of pairs) {
      const key = serverKey(u, s);
      assert.match(key, /^[a-z0-9_.-]+$/, key);
      assert.match(key, RFC6265_TOKEN);
      assert.ok(!key.startsWith('.') && !key.endsWith('-') && key.length <= SERVER_KEY_MAX, key);
      assert.notEqual(key, '..');
    }
  });

  it('keeps plain names readable and separates the issue example', () => {
    assert.equal(serverKey('alice', ''), 'alice');
    assert.equal(serverKey('alice', 'gpu'), 'alice--gpu');
    assert.equal(serverKey('ka-b', ''), 'ka-2db');
    assert.equal(serverKey('ka', 'b'), 'ka--b');
    assert.equal(serverKey('ka--b', ''), 'ka-2d-2db');
    assert.equal(serverKey('alice@example.com', ''), 'alice-40example.com');
    assert.equal(serverKey('..', ''), '-2e.');
    assert.equal(serverKey('a', 'GPU'), 'a---47-50-55');
  });

  it('shortens long keys to exactly the limit with a hash, so they never meet a short key or each other', () => {
    const long = [
      ['x'.repeat(255), ''],
      ['x'.repeat(255), 'y'],
      ['x'.repeat(254), 'y'],
      ['x'.repeat(200), 'x'.repeat(200)],
      ['x'.repeat(201), 'x'.repeat(199)],
      ['😀'.repeat(127), ''],
      ['😀'.repeat(126), ''],
      ['-'.repeat(255), '-'.repeat(255)],
    ] as const;
    const keys = long.map(([u, s]) => serverKey(u, s));
    for (const k of keys) assert.equal(k.length, SERVER_KEY_MAX, k);
    assert.equal(new Set(keys).size, keys.length);
    assert.equal(serverKey('x'.repeat(238), '').length, 238, 'shorter than the limit: left alone');
    assert.equal(serverKey('x'.repeat(239), ''), 'x'.repeat(239));
    assert.equal(serverKey('x'.repeat(240), '').length, 240);
    assert.notEqual(serverKey('x'.repeat(240), ''), 'x'.repeat(240));
  });

  it('the OAuth client id keeps the jupyterhub-user- prefix and is a cookie-name token', () => {
    assert.equal(oauthClientId('alice', ''), 'jupyterhub-user-alice');
    assert.notEqual(oauthClientId('ka-b', ''), oauthClientId('ka', 'b'));
    const ids = new Set<string>();
    for (const [u, s] of pairs) {
      const id = oauthClientId(u, s);
      assert.ok(id.startsWith('jupyterhub-user-'));
      assert.match(id, RFC6265_TOKEN);
      ids.add(id);
    }
    assert.equal(ids.size, pairs.length);
  });

  it(`serverDnsLabel is injective over the same pairs and gives RFC 1123 labels of at most ${DNS_LABEL_MAX} characters`, () => {
    const seen = new Map<string, [string, string]>();
    for (const [u, s] of pairs) {
      const label = serverDnsLabel('jupyter-', u, s);
      assert.match(label, DNS_LABEL, label);
      assert.ok(label.length <= DNS_LABEL_MAX, label);
      const other = seen.get(label);
      assert.equal(other, undefined, `${JSON.stringify([u, s])} and ${JSON.stringify(other)} both give ${label}`);
      seen.set(label, [u, s]);
    }
    assert.equal(serverDnsLabel('jupyter-', 'ka-b', ''), 'jupyter-ka-2db');
    assert.equal(serverDnsLabel('jupyter-', 'ka', 'b'), 'jupyter-ka--b');
    assert.equal(serverDnsLabel('jupyter-', 'a.b', 'X'), 'jupyter-a-2eb---58');
    assert.throws(() => serverDnsLabel('Jupyter-', 'a', ''), /prefix/);
    assert.throws(() => serverDnsLabel('-x', 'a', ''), /prefix/);
    assert.throws(() => serverDnsLabel('x'.repeat(40), 'a', ''), /prefix/);
  });
});
