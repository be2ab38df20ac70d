/** The first node of a Slurm host list (FirecREST's job `nodes`), and the job status built on it. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { firstHost } from '../../src/spawners/firecrest/firecrest-hostlist.js';
import { firecrestJobStatus } from '../../src/spawners/firecrest/firecrest-job-status.js';
import type { FirecrestJob } from '../../src/spawners/firecrest/firecrest-api.js';

describe('firstHost', () => {
  it('takes the first host of a list, keeping zero padding', () => {
    const cases: [string, string][] = [
      ['nid001', 'nid001'],
      ['nid[001-003],x1', 'nid001'],
      ['nid[007,009-010]', 'nid007'],
      ['nid[12]', 'nid12'],
      ['node-a,node-b', 'node-a'],
      ['c[02-04]-ib', 'c02-ib'],
      ['login1.cluster.org', 'login1.cluster.org'],
    ];
    for (const [list, host] of cases) assert.equal(firstHost(list), host, list);
  });

  it('refuses what names no host or is not a host list', () => {
    for (const bad of ['', 'None assigned', '(null)', 'None', 'n/a', 'nid[001', 'nid001]', 'a[1-2]b[3-4]', 'a[[1]]', 'nid 001', "nid'001", 'a;rm -rf', 'a\nb', '$(id)', 'nid[a-b]', 'x'.repeat(5000), ',nid001']) {
      assert.equal(firstHost(bad), undefined, JSON.stringify(bad.slice(0, 40)));
    }
  });
});

describe('firecrestJobStatus', () => {
  const job = (state: string, more: Partial<FirecrestJob> = {}): FirecrestJob => ({
    jobId: '7', name: 'j', status: { state }, nodes: '', partition: 'debug', user: 'alice', workingDirectory: '/home/alice', ...more,
  });
  it('maps Slurm states: pending with reason, running with the first node, ended as gone with the final state, unknown words as unknown', () => {
    assert.deepEqual(firecrestJobStatus(job('PENDING', { status: { state: 'PENDING', stateReason: 'Priority' } })), { state: 'pending', reason: 'Priority' });
    assert.deepEqual(firecrestJobStatus(job('CONFIGURING', { status: { state: 'CONFIGURING', stateReason: 'None' } })), { state: 'pending' });
    assert.deepEqual(firecrestJobStatus(job('RUNNING', { nodes: 'nid[001-003],x1' })), { state: 'running', host: 'nid001' });
    assert.deepEqual(firecrestJobStatus(job('COMPLETING', { nodes: 'None assigned' })), { state: 'running' });
    assert.deepEqual(firecrestJobStatus(job('CANCELLED by 1000')), { state: 'gone', final: 'CANCELLED' });
    assert.deepEqual(firecrestJobStatus(job('TIMEOUT')), { state: 'gone', final: 'TIMEOUT' });
    assert.deepEqual(firecrestJobStatus(undefined), { state: 'gone' });
    assert.equal(firecrestJobStatus(job('WEIRD')).state, 'unknown');
  });
  it('cleans a hostile pending reason to one printable line', () => {
    const s = firecrestJobStatus(job('PENDING', { status: { state: 'PENDING', stateReason: 'a\nb\u001b[31m' + 'x'.repeat(500) } }));
    assert.equal(s.state, 'pending');
    assert.ok(s.state === 'pending' && s.reason && s.reason.length <= 120 && !s.reason.includes('\n') && !s.reason.includes('\u001b'));
  });
});
