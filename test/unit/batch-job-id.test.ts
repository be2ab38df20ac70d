/**
 * Issue 11: the job id in the submit command's output (Slurm's
 * `sbatch --parsable`), batchspawner's rule: the last line, cut at `;`
 * (the cluster), all digits; anything else a clear error quoting the output.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { slurmScheduler } from '../../src/spawners/batch/slurm.js';

const ACCEPTED: [string, string][] = [
  ['1', '1'],
  ['1\n', '1'],
  ['4242;cluster-a\n', '4242'],
  ['  17  \n', '17'],
  ['Submitted with a note\n99\n', '99'],
  ['\n\n123\n\n', '123'],
  ['123\r\n', '123'],
  ['12345678901234567890', '12345678901234567890'],
];

const REFUSED: [string, string, RegExp][] = [
  ['empty', '', /^Error: the submit command printed nothing where a job id was expected$/],
  ['blank lines', '\n \n', /printed nothing/],
  ['sbatch error', 'sbatch: error: Batch job submission failed: Invalid partition name specified\n', /^Error: Slurm refused the job: sbatch: error: Batch job submission failed: Invalid partition name specified$/],
  [
    'error before a number',
    'sbatch: error: invalid partition specified: nope\nsbatch: error: Batch job submission failed: Invalid partition name specified\n',
    /^Error: Slurm refused the job: sbatch: error: invalid partition specified: nope$/,
  ],
  ['fatal', 'sbatch: fatal: Invalid --export specification\n', /Slurm refused the job: sbatch: fatal: Invalid --export/],
  ['not a script', 'sbatch: error: This does not look like a batch script.  The first\n', /refused the job: sbatch: error: This does not look like a batch script/],
  ['non-parsable sbatch', 'Submitted batch job 42\n', /^Error: the submit command printed "Submitted batch job 42" where a job id was expected$/],
  ['negative', '-1', /"-1" where a job id/],
  ['hex', '0x1f', /where a job id/],
  ['decimal', '1.5', /where a job id/],
  ['too long', '1'.repeat(21), /where a job id/],
  ['id then garbage', '42 extra', /"42 extra"/],
  ['cluster only', ';cluster', /where a job id/],
  ['shell characters', '42;$(reboot)\nx`id`', /where a job id/],
];

describe('slurmScheduler.parseJobId', () => {
  for (const [stdout, id] of ACCEPTED) {
    it(`${JSON.stringify(stdout)} → ${id}`, () => assert.equal(slurmScheduler.parseJobId(stdout), id));
  }
  for (const [what, stdout, message] of REFUSED) {
    it(`refuses: ${what}`, () => assert.throws(() => slurmScheduler.parseJobId(stdout), message));
  }

  it('quotes hostile output clipped and escaped', () => {
    assert.throws(
      () => slurmScheduler.parseJobId(`\u001b[2J${'A'.repeat(10_000)}\nline2`),
      (err: Error) => {
        assert.ok(err.message.length < 450, `${err.message.length}`);
        assert.match(err.message, /\\x1b\[2J/);
        assert.match(err.message, /\\nline2|clipped/);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      },
    );
  });
});
