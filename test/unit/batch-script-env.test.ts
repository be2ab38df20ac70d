/**
 * Issue 11: the job's environment travels inside the batch script as
 * `export` lines after the `#SBATCH` header (src/spawners/batch/script-env.ts).
 * Each produced script is run by a real shell to check what the job sees.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { withEnvExports } from '../../src/spawners/batch/script-env.js';

/** The `#SBATCH` directives Slurm reads: those before the first line that is neither blank nor a comment. */
function sbatchDirectives(script: string): string[] {
  const out: string[] = [];
  for (const line of script.split('\n')) {
    if (line.startsWith('#SBATCH')) out.push(line.slice('#SBATCH'.length).trim());
    else if (line.trim() !== '' && !line.trimStart().startsWith('#')) break;
  }
  return out;
}

/** Runs `script` with `shell` (the hub's own environment emptied) and returns what it printed. */
function run(shell: string, script: string): string {
  return execFileSync(shell, ['-c', script], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
}

const VALUES: [string, string][] = [
  ['plain', 'abc'],
  ['single quote', "it's"],
  ['quote escape sequence', "'\\''"],
  ['dollar', '$HOME ${PATH} $(id -u)'],
  ['backticks', '`id`'],
  ['newlines', 'line 1\nline 2\n\n'],
  ['directive in a value', 'x\n#SBATCH --partition=evil\ny'],
  ['double quotes and backslashes', '"a\\"b\\\\'],
  ['empty', ''],
  ['semicolon', 'a; echo pwned'],
  ['unicode', 'é✓😀'],
  ['a token', 'Zp9_-.x'],
];

const SCRIPT = `#!/bin/bash
#SBATCH --job-name=t
# a comment
#SBATCH --time=00:10:00

#SBATCH --mem=1G
printf '%s' "\${V}"
#SBATCH --after-the-first-command
`;

describe('withEnvExports', () => {
  for (const [label, value] of VALUES) {
    it(`the job sees the value exactly: ${label}`, () => {
      const script = withEnvExports(SCRIPT, { V: value, OTHER: 'o' });
      for (const shell of ['/bin/sh', '/bin/bash']) assert.equal(run(shell, script), value, shell);
      assert.deepEqual(sbatchDirectives(script), ['--job-name=t', '--time=00:10:00', '--mem=1G']);
    });
  }

  it('puts the exports right after the last header comment, in order', () => {
    const script = withEnvExports(SCRIPT, { A: '1', B: "x'y" });
    assert.deepEqual(script.split('\n').slice(0, 8), [
      '#!/bin/bash',
      '#SBATCH --job-name=t',
      '# a comment',
      '#SBATCH --time=00:10:00',
      '',
      '#SBATCH --mem=1G',
      "export A='1'",
      "export B='x'\\''y'",
    ]);
  });

  it('keeps blank lines after the header after the exports', () => {
    assert.equal(withEnvExports('#!/bin/sh\n#SBATCH -n 1\n\n\necho hi\n', { A: 'a' }), "#!/bin/sh\n#SBATCH -n 1\nexport A='a'\n\n\necho hi\n");
  });

  it('works for a script that is all header, or holds only a shebang', () => {
    assert.equal(withEnvExports('#!/bin/sh\n', { A: 'a' }), "#!/bin/sh\nexport A='a'\n");
    assert.equal(withEnvExports('#!/bin/sh', { A: 'a' }), "#!/bin/sh\nexport A='a'");
  });

  it('adds no shebang to a script without one (exports go first, after leading comments)', () => {
    assert.equal(withEnvExports('echo hi\n', { A: 'a' }), "export A='a'\necho hi\n");
    assert.equal(withEnvExports('# c\necho $A\n', { A: 'a' }), "# c\nexport A='a'\necho $A\n");
    assert.equal(withEnvExports('', { A: 'a' }), "export A='a'\n");
  });

  it('treats indented comments as header lines', () => {
    assert.equal(withEnvExports('#!/bin/sh\n  # indented\necho\n', { A: 'a' }), "#!/bin/sh\n  # indented\nexport A='a'\necho\n");
  });

  it('returns the script unchanged when there is nothing to export', () => {
    assert.equal(withEnvExports(SCRIPT, {}), SCRIPT);
  });

  const BAD_NAMES = ['', '1A', 'A-B', 'A B', 'A=B', 'A;B', '$A', 'Ä', 'A\nB'];
  for (const name of BAD_NAMES) {
    it(`refuses the variable name ${JSON.stringify(name)}`, () => {
      assert.throws(() => withEnvExports(SCRIPT, { [name]: 'v' }), /cannot export .* not a valid environment variable name/);
    });
  }

  it('refuses a value holding NUL, naming the variable', () => {
    assert.throws(() => withEnvExports(SCRIPT, { TOKEN: 'a\0b' }), /cannot export "TOKEN" in the batch script: its value holds a NUL/);
  });
});
