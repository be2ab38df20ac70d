import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import { KubernetesSpawnerSchema, type KubernetesSpawnerConfig } from '../../src/spawners/kubernetes/kubernetes-config.js';
import { dnsLabel, safeSlug, serverObjectNames } from '../../src/spawners/kubernetes/kube-names.js';

function config(over: Partial<KubernetesSpawnerConfig> = {}): KubernetesSpawnerConfig {
  const c = Value.Default(KubernetesSpawnerSchema, Value.Clone({ kind: 'kubernetes', ...over })) as KubernetesSpawnerConfig;
  assert.ok(Value.Check(KubernetesSpawnerSchema, c));
  return c;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
function assertLabel(name: string, what: string): void {
  assert.ok(name.length <= 63, `${what}: ${name} is ${name.length} characters`);
  assert.match(name, LABEL, what);
}

/** Names a hostile or careless user base brings. */
const HOSTILE = [
  'alice',
  'Alice',
  'ALICE',
  'a',
  'b',
  'a-b',
  'a--b',
  'a---b',
  'a-',
  '-a',
  'a.b',
  'a/b',
  'a/../b',
  '../etc',
  'user@example.org',
  'User@Example.org',
  '1abc',
  '123',
  'ünïcödé',
  'unicode',
  'дмитрий',
  '名前',
  '😀',
  'a\uD800',
  'a\uDC00',
  'a\uFFFD',
  'x'.repeat(48),
  'x'.repeat(49),
  'x'.repeat(63),
  'x'.repeat(64),
  'x'.repeat(300),
  'x'.repeat(299) + 'y',
  'jupyter-alice',
  'alice---3bc51062',
  'a b',
  'a\nb',
  'a_b',
  '-',
  '.',
  '...',
  '{username}',
];

test('safeSlug keeps a name that is already a safe label', () => {
  for (const n of ['alice', 'a', 'a-b', 'jovyan2', 'x'.repeat(63)]) assert.equal(safeSlug(n), n);
  assert.equal(safeSlug(''), '', 'the default server has no name');
});

test('safeSlug: KubeSpawner 7 "safe" scheme: lower-cased, runs of other characters as one dash, --- and 8 hex of sha256(UTF-8)', () => {
  // sha256("Alice") = 3bc51062973c458d5a6f2d8d64a023246354ad7e064b1e4e009ec8a0699a3043
  assert.equal(safeSlug('Alice'), 'alice---3bc51062');
  assert.match(safeSlug('user@example.org'), /^user-example-org---[0-9a-f]{8}$/);
  assert.match(safeSlug('a--b'), /^a-b---[0-9a-f]{8}$/, '`--` is reserved for {username}--{servername}');
  assert.match(safeSlug('1abc'), /^abc---[0-9a-f]{8}$/, 'a slug starts with a letter');
  assert.match(safeSlug('名前'), /^x---[0-9a-f]{8}$/, 'nothing left: x');
  assert.match(safeSlug('a-'), /^a---[0-9a-f]{8}$/);
});

test('safeSlug is valid, within the length and injective on hostile names', () => {
  for (const max of [63, 48, 20, 12]) {
    const seen = new Map<string, string>();
    for (const n of HOSTILE) {
      const s = safeSlug(n, max);
      if (n === '') continue;
      assert.ok(s.length <= max, `${JSON.stringify(n)} → ${s} longer than ${max}`);
      assert.match(s, /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/, `${JSON.stringify(n)} → ${s}`);
      const before = seen.get(s);
      assert.equal(before, undefined, `${JSON.stringify(n)} and ${JSON.stringify(before)} share ${s}`);
      seen.set(s, n);
    }
  }
});

test('lone surrogates do not merge names (UTF-8 would make both U+FFFD)', () => {
  const all = new Set(['a\uD800', 'a\uDC00', 'a\uFFFD'].map((n) => safeSlug(n)));
  assert.equal(all.size, 3);
});

test('dnsLabel keeps a label and repairs anything else within 63 characters', () => {
  assert.equal(dnsLabel('jupyter-alice'), 'jupyter-alice');
  assert.equal(dnsLabel('0abc'), '0abc');
  for (const n of ['jupyter-' + 'x'.repeat(60), 'Jupyter', 'a..b', '-a', 'a-', '']) assertLabel(dnsLabel(n), JSON.stringify(n));
});

test('default templates: jupyter-{user_server}, claim-{user_server}; the secret is named as the pod', () => {
  const c = config();
  assert.deepEqual(serverObjectNames(c, 'alice', '', 'jhub'), { namespace: 'jhub', pod: 'jupyter-alice', pvc: 'claim-alice', secret: 'jupyter-alice' });
  assert.deepEqual(serverObjectNames(c, 'alice', 'gpu', 'jhub'), { namespace: 'jhub', pod: 'jupyter-alice--gpu', pvc: 'claim-alice--gpu', secret: 'jupyter-alice--gpu' });
  assert.equal(serverObjectNames(c, 'Alice', '', 'jhub').pod, 'jupyter-alice---3bc51062');
});

test('templates: {username}, {servername}, {hubnamespace}; the namespace option; user namespaces', () => {
  const c = config({ pod_name_template: '{hubnamespace}-nb-{username}-{servername}', pvc_name_template: 'home-{username}', namespace: 'notebooks' });
  assert.deepEqual(serverObjectNames(c, 'alice', 'gpu', 'jhub'), { namespace: 'notebooks', pod: 'jhub-nb-alice-gpu', pvc: 'home-alice', secret: 'jhub-nb-alice-gpu' });
  const u = config({ enable_user_namespaces: true });
  assert.equal(serverObjectNames(u, 'alice', '', 'jhub').namespace, 'jhub-alice');
  assert.equal(serverObjectNames(u, 'bob', 'x', 'jhub').namespace, 'jhub-bob');
  const custom = config({ enable_user_namespaces: true, user_namespace_template: 'u-{username}' });
  assert.equal(serverObjectNames(custom, 'Alice', '', 'jhub').namespace, 'u-alice---3bc51062');
  const unknown = config({ pod_name_template: 'jupyter-{user}' });
  assertLabel(serverObjectNames(unknown, 'alice', '', 'jhub').pod, 'an unknown variable still gives a label');
});

test('every (user, server) pair of hostile names gets valid, distinct names', () => {
  const configs = [config(), config({ enable_user_namespaces: true }), config({ pod_name_template: 'a-very-long-prefix-for-pods-{user_server}' })];
  const servers = ['', 'gpu', 'a', 'b', 'a-b', 'Gpu', 'x'.repeat(300), 'ünïcödé', 'a--b', '-'];
  for (const c of configs) {
    const pods = new Map<string, string>();
    const pvcs = new Map<string, string>();
    for (const user of HOSTILE.filter((n) => n !== '')) {
      for (const server of servers) {
        const names = serverObjectNames(c, user, server, 'jhub');
        const pair = JSON.stringify([user, server]);
        for (const [what, n] of Object.entries(names)) assertLabel(n, `${what} of ${pair}`);
        const key = `${names.namespace}/${names.pod}`;
        assert.equal(pods.get(key), undefined, `${pair} and ${pods.get(key)} share pod ${key}`);
        pods.set(key, pair);
        const pvcKey = `${names.namespace}/${names.pvc}`;
        assert.equal(pvcs.get(pvcKey), undefined, `${pair} and ${pvcs.get(pvcKey)} share claim ${pvcKey}`);
        pvcs.set(pvcKey, pair);
      }
    }
  }
});

test('a-b with the default server and a with server b stay apart', () => {
  const c = config();
  assert.notEqual(serverObjectNames(c, 'a-b', '', 'jhub').pod, serverObjectNames(c, 'a', 'b', 'jhub').pod);
  assert.notEqual(serverObjectNames(c, 'a--b', '', 'jhub').pod, serverObjectNames(c, 'a', 'b', 'jhub').pod);
  assert.notEqual(serverObjectNames(c, 'a', '-b', 'jhub').pod, serverObjectNames(c, 'a-', 'b', 'jhub').pod);
  assert.notEqual(serverObjectNames(c, 'A', '', 'jhub').pod, serverObjectNames(c, 'a', '', 'jhub').pod);
});

test('exhaustively: every name of up to 4 characters from {a, b, -, A, ., ü} gets its own slug and pod name', () => {
  const alphabet = ['a', 'b', '-', 'A', '.', 'ü'];
  let names = [''];
  const all: string[] = [];
  for (let len = 1; len <= 4; len++) {
    names = names.flatMap((n) => alphabet.map((ch) => n + ch));
    all.push(...names);
  }
  const slugs = new Map<string, string>();
  for (const n of all) {
    const s = safeSlug(n, 48);
    assert.equal(slugs.get(s), undefined, `${JSON.stringify(n)} and ${JSON.stringify(slugs.get(s))} share ${s}`);
    slugs.set(s, n);
  }
  const c = config();
  const pods = new Map<string, string>();
  const servers = ['', ...all.filter((n) => n.length <= 2)];
  for (const user of all.filter((n) => n.length <= 3)) {
    for (const server of servers) {
      const pod = serverObjectNames(c, user, server, 'jhub').pod;
      const pair = JSON.stringify([user, server]);
      assert.equal(pods.get(pod), undefined, `${pair} and ${pods.get(pod)} share ${pod}`);
      pods.set(pod, pair);
    }
  }
  assert.ok(pods.size > 10_000);
});
