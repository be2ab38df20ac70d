/**
 * Issue 11: the host a job runs on, as the scheduler printed it, checked and
 * optionally rewritten by `state_exechost_exp` (src/spawners/batch/exechost.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { plausibleHost, rewriteHost } from '../../src/spawners/batch/exechost.js';

const HOSTS = ['vm', 'nid001234', 'node-01', 'node_01', 'n1.cluster.edu', 'n1.cluster.edu.', 'x', '10.0.0.7', '::1', 'fe80::1', 'a'.repeat(63), `${'a'.repeat(63)}.${'b'.repeat(63)}`];
const NOT_HOSTS = [
  '',
  'n/a',
  'N/A',
  '(null)',
  'None',
  'null',
  'a b',
  'vm;reboot',
  '$(id)',
  '`id`',
  "vm'",
  'vm"',
  'vm\n',
  'vm/0',
  '-vm',
  'vm-',
  'a..b',
  '.vm',
  'a'.repeat(64),
  `${'a.'.repeat(127)}ab`,
  '999.1.1.1',
  '1.2.3',
  '123',
  'vm:22',
  '[::1]',
  'ünï',
  'vm\u202e',
  'fe80::1%eth0', // an IPv6 zone id: no URL can hold it (review)
  'fe80::1%25eth0',
];

describe('plausibleHost', () => {
  for (const host of HOSTS) it(`accepts ${JSON.stringify(host.length > 40 ? `${host.slice(0, 20)}…` : host)}`, () => assert.equal(plausibleHost(host), true));
  for (const host of NOT_HOSTS) it(`refuses ${JSON.stringify(host.length > 40 ? `${host.slice(0, 20)}…` : host)}`, () => assert.equal(plausibleHost(host), false));
});

describe('rewriteHost', () => {
  const TABLE: [string, string, string][] = [
    ['vm', '', 'vm'],
    ['nid001', 'int-\\1.cluster.edu', 'int-nid001.cluster.edu'],
    ['nid001', 'int-$1.cluster.edu', 'int-nid001.cluster.edu'],
    ['nid001', '\\1-ib', 'nid001-ib'],
    ['nid001', '\\1.\\1', 'nid001.nid001'],
    ['nid001', 'gateway.cluster.edu', 'gateway.cluster.edu'],
    ['10.0.0.7', '', '10.0.0.7'],
  ];
  for (const [host, exp, expected] of TABLE) {
    it(`${JSON.stringify(host)} with ${JSON.stringify(exp)} → ${expected}`, () => assert.equal(rewriteHost(host, exp), expected));
  }

  it('uses the host literally (no $& or $` replacement patterns)', () => {
    assert.throws(() => rewriteHost('n1', '$&-\\1'), /not a host name/);
    assert.equal(rewriteHost('n1', 'a\\1b'), 'an1b');
  });

  it('refuses a host that is not plausible, quoting it', () => {
    assert.throws(() => rewriteHost('n/a', ''), /^Error: the scheduler printed "n\/a" as the job's host, which is not a host name or IP address$/);
    assert.throws(() => rewriteHost('(null)', 'int-\\1'), /"\(null\)"/);
    assert.throws(() => rewriteHost('vm;reboot', ''), /"vm;reboot"/);
    assert.throws(() => rewriteHost('a\nb', ''), /"a\\u\{a\}b"/);
  });

  it('refuses a rewrite that gives no plausible host', () => {
    assert.throws(() => rewriteHost('nid001', 'int \\1'), /state_exechost_exp turned the host "nid001" into "int nid001", which is not a host name/);
    assert.throws(() => rewriteHost('nid001', '\\1;x'), /state_exechost_exp/);
    assert.throws(() => rewriteHost('nid001', 'http://\\1/'), /state_exechost_exp/);
  });
});
