/**
 * Issue 11: how Slurm's query output is read (src/spawners/batch/slurm.ts,
 * rules in scheduler-from-spec.ts). The first rows are the exact outputs of
 * `squeue -j ID -h -o '%T %B'` observed on Slurm 22.05 (shared recipe
 * slurm-ssh.md); on doubt the answer must be `unknown`, never `gone`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JobStatus } from '../../src/spawners/batch/job-status.js';
import { SLURM_SPEC, slurmScheduler } from '../../src/spawners/batch/slurm.js';
import { schedulerFromSpec } from '../../src/spawners/batch/scheduler-from-spec.js';
import type { CommandResult } from '../../src/spawners/batch/transport.js';

const ok = (stdout: string): CommandResult => ({ stdout, stderr: '', code: 0 });
const fail = (stderr: string, code: number | null = 1, stdout = ''): CommandResult => ({ stdout, stderr, code });

/** [what, command result, expected status (for `unknown`: a pattern its reason must match)] */
const TABLE: [string, CommandResult, JobStatus | RegExp][] = [
  // The recipe's table, verbatim.
  ['pending (held or waiting for resources)', ok('PENDING n/a\n'), { state: 'pending' }],
  ['running', ok('RUNNING vm\n'), { state: 'running', host: 'vm' }],
  ['just cancelled: COMPLETING', ok('COMPLETING vm\n'), { state: 'running', host: 'vm' }],
  ['ended, hidden by squeue -j (empty, rc 0)', ok(''), { state: 'gone' }],
  ['-t all: COMPLETED', ok('COMPLETED vm\n'), { state: 'gone', final: 'COMPLETED' }],
  ['-t all: CANCELLED', ok('CANCELLED vm\n'), { state: 'gone', final: 'CANCELLED' }],
  ['unknown id or purged', fail('slurm_load_jobs error: Invalid job id specified\n'), { state: 'gone' }],
  ['slurmctld down', fail('slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n'), /Slurm could not be asked: slurm_load_jobs error: Unable to contact slurm controller \(connect failure\)/],

  // Pending, with reasons from a third column (%r) or %R's parentheses.
  ['configuring', ok('CONFIGURING n/a\n'), { state: 'pending' }],
  ['pending with %r', ok('PENDING n/a Resources\n'), { state: 'pending', reason: 'Resources' }],
  ['pending with %R', ok('PENDING n/a (Resources)\n'), { state: 'pending', reason: 'Resources' }],
  ['pending, impossible request', ok('PENDING n/a (PartitionConfig)'), { state: 'pending', reason: 'PartitionConfig' }],
  ['pending, reason with spaces', ok('PENDING n/a (ReqNodeNotAvail, UnavailableNodes:vm)'), { state: 'pending', reason: 'ReqNodeNotAvail, UnavailableNodes:vm' }],
  ['pending, reason None', ok('PENDING n/a None'), { state: 'pending' }],
  ['pending, empty parentheses', ok('PENDING n/a ()'), { state: 'pending' }],
  ['pending, state only (%T)', ok('PENDING'), { state: 'pending' }],
  ['requeued', ok('REQUEUED n/a'), { state: 'pending' }],
  ['requeued and held', ok('REQUEUE_HOLD n/a (JobHeldAdmin)'), { state: 'pending', reason: 'JobHeldAdmin' }],
  ['special exit', ok('SPECIAL_EXIT n/a'), { state: 'pending' }],
  ['compact code PD (%t)', ok('PD n/a'), { state: 'pending' }],
  ['pending, reason with an escape sequence', ok('PENDING n/a \u001b[31mred'), { state: 'pending', reason: '\\x1b[31mred' }],

  // Running, and its host.
  ['running, whitespace around', ok('  RUNNING   node-01.cluster.edu  \n'), { state: 'running', host: 'node-01.cluster.edu' }],
  ['running on an IP', ok('RUNNING 10.0.0.7'), { state: 'running', host: '10.0.0.7' }],
  ['running with a tab', ok('RUNNING\tnid001234'), { state: 'running', host: 'nid001234' }],
  ['running, host n/a', ok('RUNNING n/a'), { state: 'running' }],
  ['running, host (null)', ok('RUNNING (null)'), { state: 'running' }],
  ['running, host with shell characters', ok('RUNNING vm;reboot'), { state: 'running' }],
  ['running, host with a dollar', ok('RUNNING $(id)'), { state: 'running' }],
  ['running, state only', ok('RUNNING'), { state: 'running' }],
  ['compact code R', ok('R vm'), { state: 'running', host: 'vm' }],
  ['compact code CG', ok('CG vm'), { state: 'running', host: 'vm' }],
  ['running, reason column ignored', ok('RUNNING vm None'), { state: 'running', host: 'vm' }],

  // Ended for good (seen with -t all, or sacct-like output).
  ['failed', ok('FAILED vm'), { state: 'gone', final: 'FAILED' }],
  ['timeout', ok('TIMEOUT vm'), { state: 'gone', final: 'TIMEOUT' }],
  ['preempted', ok('PREEMPTED vm'), { state: 'gone', final: 'PREEMPTED' }],
  ['node failure', ok('NODE_FAIL vm'), { state: 'gone', final: 'NODE_FAIL' }],
  ['out of memory', ok('OUT_OF_MEMORY vm'), { state: 'gone', final: 'OUT_OF_MEMORY' }],
  ['boot failure', ok('BOOT_FAIL n/a'), { state: 'gone', final: 'BOOT_FAIL' }],
  ['deadline', ok('DEADLINE n/a'), { state: 'gone', final: 'DEADLINE' }],
  ['cancelled by a uid (sacct style)', ok('CANCELLED by 1000'), { state: 'gone', final: 'CANCELLED' }],
  ['compact code CD', ok('CD vm'), { state: 'gone', final: 'CD' }],
  ['compact code CA', ok('CA vm'), { state: 'gone', final: 'CA' }],
  ['only whitespace (rc 0)', ok(' \n\n'), { state: 'gone' }],
  ['invalid id on stdout with rc 0', ok('slurm_load_jobs error: Invalid job id specified'), { state: 'gone' }],

  // The scheduler could not be asked: never gone.
  ['socket timeout', fail('slurm_load_jobs error: Socket timed out on send/recv operation\n'), /Socket timed out on send\/recv/],
  ['connection refused', fail('squeue: error: Connection refused\n'), /Connection refused/],
  ['zero bytes', fail('slurm_load_jobs error: Zero Bytes were transmitted or received\n'), /Zero Bytes/],
  ['controller down, rc 0', ok('slurm_load_jobs error: Unable to contact slurm controller (connect failure)'), /Unable to contact/],
  ['controller down although a line looks like a state', fail('Unable to contact slurm controller', 1, 'RUNNING vm'), /could not be asked/],
  ['controller down and invalid id together', fail('Invalid job id specified\nUnable to contact slurm controller'), /could not be asked/],
  ['other non-zero exit', fail('squeue: error: Invalid user: nobody\n', 1), /the query exited with status 1: squeue: error: Invalid user: nobody/],
  ['sudo refused', fail('sudo: a password is required\n', 1), /exited with status 1: sudo: a password is required/],
  ['command not found', fail('sh: 1: squeue: not found\n', 127), /status 127: sh: 1: squeue: not found/],
  ['non-zero exit, prints nothing', fail('', 2), /status 2: it printed nothing/],
  ['non-zero exit with stdout only', fail('', 1, 'RUNNING vm'), /status 1: RUNNING vm/],
  ['killed by a signal', fail('', null), /was killed by a signal/],
  ['killed by a signal, with state output', fail('', null, 'RUNNING vm'), /killed by a signal/],
  ['two lines', ok('RUNNING vm\nPENDING n/a\n'), /which is not a job state/],
  ['a banner before the state', ok('Welcome to login1\nRUNNING vm'), /not a job state/],
  ['lower-case state', ok('running vm'), /not a job state/],
  ['garbage', ok('<html>502 Bad Gateway</html>'), /not a job state/],
  ['suspended', ok('SUSPENDED vm'), /reports the state "SUSPENDED", which is not known as pending, running or ended/],
  ['stopped', ok('STOPPED vm'), /"STOPPED"/],
  ['signaling', ok('SIGNALING vm'), /"SIGNALING"/],
  ['stage out', ok('STAGE_OUT vm'), /"STAGE_OUT"/],
  ['resizing', ok('RESIZING vm'), /"RESIZING"/],
  ['an unknown state word', ok('FROBNICATED vm'), /"FROBNICATED"/],
];

describe('slurmScheduler.classify', () => {
  for (const [what, result, expected] of TABLE) {
    it(what, () => {
      const status = slurmScheduler.classify(result);
      if (expected instanceof RegExp) {
        assert.equal(status.state, 'unknown', JSON.stringify(status));
        assert.match((status as { reason: string }).reason, expected);
      } else {
        assert.deepEqual(status, expected);
      }
    });
  }

  it('clips and escapes hostile output in a reason', () => {
    const status = slurmScheduler.classify(fail(`evil\u001b]0;title\u0007 ${'x'.repeat(5000)}`, 3));
    assert.equal(status.state, 'unknown');
    const reason = (status as { reason: string }).reason;
    assert.ok(reason.length < 450, `${reason.length}`);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(reason, /[\u0000-\u001f]/);
    assert.match(reason, /\\x1b/);
    assert.match(reason, /clipped/);
  });

  it('never says gone for a non-zero exit other than an invalid job id', () => {
    for (const [, result] of TABLE) {
      const status = slurmScheduler.classify(result);
      if (status.state === 'gone' && result.code !== 0) assert.match(result.stderr, /Invalid job id specified/);
    }
  });
});

describe('slurmScheduler.classifyAll (squeue -h -t all -o "%i %T %B %r")', () => {
  const LISTING = [
    '101 RUNNING vm None',
    '102 PENDING n/a Resources',
    '103 PENDING n/a (Priority)',
    '104 COMPLETED vm None',
    '105 CANCELLED vm None',
    '106 COMPLETING vm None',
    '107_[1-3] PENDING n/a JobArrayTaskLimit',
    '108_1 RUNNING vm None',
    '109+0 RUNNING vm None',
    '110 SUSPENDED vm None',
    '',
  ].join('\n');

  it('classifies every job asked for, from one listing', () => {
    const statuses = slurmScheduler.classifyAll(ok(LISTING), ['101', '102', '103', '104', '105', '106', '110', '999']);
    assert.deepEqual(Object.fromEntries(statuses), {
      101: { state: 'running', host: 'vm' },
      102: { state: 'pending', reason: 'Resources' },
      103: { state: 'pending', reason: 'Priority' },
      104: { state: 'gone', final: 'COMPLETED' },
      105: { state: 'gone', final: 'CANCELLED' },
      106: { state: 'running', host: 'vm' },
      110: statuses.get('110'),
      999: { state: 'gone' },
    });
    assert.equal(statuses.get('110')!.state, 'unknown');
  });

  it('an empty listing with rc 0 means every job is gone', () => {
    assert.deepEqual(Object.fromEntries(slurmScheduler.classifyAll(ok(''), ['1', '2'])), { 1: { state: 'gone' }, 2: { state: 'gone' } });
  });

  it('the first line of a job listed twice wins', () => {
    assert.deepEqual(slurmScheduler.classifyAll(ok('5 RUNNING vm\n5 PENDING n/a\n'), ['5']).get('5'), { state: 'running', host: 'vm' });
  });

  it('every job is unknown when the controller cannot be reached', () => {
    const statuses = slurmScheduler.classifyAll(fail('squeue: error: Unable to contact slurm controller (connect failure)'), ['1', '2']);
    assert.equal(statuses.size, 2);
    for (const status of statuses.values()) {
      assert.equal(status.state, 'unknown');
      assert.match((status as { reason: string }).reason, /Unable to contact slurm controller/);
    }
  });

  it('every job is unknown when the command fails or is killed', () => {
    for (const result of [fail('Permission denied', 1), fail('', null, '1 RUNNING vm')]) {
      const statuses = slurmScheduler.classifyAll(result, ['1']);
      assert.equal(statuses.get('1')!.state, 'unknown');
    }
  });

  it('a job missing from a listing with unreadable lines is unknown, not gone', () => {
    const statuses = slurmScheduler.classifyAll(ok('1 RUNNING vm\nsqueue: warning: something odd\n'), ['1', '2']);
    assert.deepEqual(statuses.get('1'), { state: 'running', host: 'vm' });
    assert.equal(statuses.get('2')!.state, 'unknown');
    assert.match((statuses.get('2') as { reason: string }).reason, /1 line\(s\) of the query could not be read, e.g. "squeue: warning: something odd"/);
  });

  it('gives an empty map for no jobs', () => {
    assert.equal(slurmScheduler.classifyAll(ok(LISTING), []).size, 0);
  });
});

describe('Slurm as data', () => {
  it("keeps batchspawner's default commands, the query with the pending reason added", () => {
    assert.equal(slurmScheduler.name, 'Slurm');
    assert.equal(slurmScheduler.submitCmd, 'sbatch --parsable');
    assert.equal(slurmScheduler.queryCmd, "squeue -h -t all -j {job_id} -o '%T %B %r'");
    assert.equal(slurmScheduler.cancelCmd, 'scancel {job_id}');
    assert.equal(slurmScheduler.queryAllExample, "squeue -h -t all -o '%i %T %B %r'");
  });

  it('another scheduler is only other data (a made-up one with one-letter states)', () => {
    const toy = schedulerFromSpec({
      ...SLURM_SPEC,
      name: 'Toy',
      queryOutput: /^job_state = (?<state>[A-Z])(?:\s+exec_host = (?<host>[\w.-]+)\/\d+)?$/,
      pendingStates: /^[QH]$/,
      runningStates: /^R$/,
      finalStates: /^[CF]$/,
      emptyMeansGone: false,
      notFound: /Unknown Job Id/,
    });
    assert.deepEqual(toy.classify(ok('job_state = Q')), { state: 'pending' });
    assert.deepEqual(toy.classify(ok('job_state = R\n exec_host = n12/0')), { state: 'running', host: 'n12' });
    assert.deepEqual(toy.classify(ok('job_state = C')), { state: 'gone', final: 'C' });
    assert.deepEqual(toy.classify(fail('qstat: Unknown Job Id 5.srv', 153)), { state: 'gone' });
    assert.equal(toy.classify(ok('')).state, 'unknown');
  });
});
