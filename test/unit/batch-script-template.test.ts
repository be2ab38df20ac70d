/**
 * Issue 11, the batch scheduler part: the template renderer
 * (src/spawners/batch/script-template.ts), shell quoting (shell-quote.ts)
 * and the default Slurm script (slurm.ts), rendered with nunjucks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isJinjaTemplate, renderCommand, renderTemplate, TemplateError } from '../../src/spawners/batch/script-template.js';
import { shellQuote } from '../../src/spawners/batch/shell-quote.js';
import { SLURM_DEFAULT_SCRIPT } from '../../src/spawners/batch/slurm.js';

/** What `sh` makes of a command line: its arguments, one per line (NUL-free values only). */
function shWords(line: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `set -- ${line}; for a in "$@"; do printf '%s\\0' "$a"; done`], {
    encoding: 'utf8',
  });
  return out.split('\0').slice(0, -1);
}

/** The `#SBATCH` directives Slurm reads: those before the first line that is neither blank nor a comment. */
function sbatchDirectives(script: string): string[] {
  const out: string[] = [];
  for (const line of script.split('\n')) {
    if (line.startsWith('#SBATCH')) out.push(line.slice('#SBATCH'.length).trim());
    else if (line.trim() !== '' && !line.trimStart().startsWith('#')) break;
  }
  return out;
}

const HOSTILE = ["it's", '$(id)', '`id`', 'a b', 'a\nb', "'\\''", '"', '\\', '*', '~', ';rm -rf /', '', ' ', '$HOME', '!x', 'é✓'];

describe('shellQuote', () => {
  it('gives one shell word that sh reads back unchanged', () => {
    for (const value of HOSTILE) {
      assert.deepEqual(shWords(shellQuote(value)), [value], JSON.stringify(value));
    }
  });

  it('quotes as documented', () => {
    assert.equal(shellQuote('carol.proj1'), "'carol.proj1'");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
    assert.equal(shellQuote(''), "''");
  });

  it('refuses NUL', () => {
    assert.throws(() => shellQuote('a\0b'), /NUL/);
  });
});

describe('renderTemplate, str.format style', () => {
  const vars = { username: 'alice', job_id: '42', n: 3, flag: true, none: null, auth_state: { p1: { username: 'carol.proj1' } }, list: ['a'] };
  const TABLE: [string, string][] = [
    ['scancel {job_id}', 'scancel 42'],
    ['{username}-{n}-{flag}', 'alice-3-true'],
    ['[{none}]', '[]'],
    ['a }} b {username}', 'a } b alice'],
    ['{auth_state[p1][username]}', 'carol.proj1'],
    ['{auth_state.p1.username}', 'carol.proj1'],
    ['no fields at all', 'no fields at all'],
    ['', ''],
  ];
  for (const [template, expected] of TABLE) {
    it(`${JSON.stringify(template)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(isJinjaTemplate(template), false);
      assert.equal(renderTemplate(template, vars, 't'), expected);
    });
  }

  const REFUSED: [string, RegExp][] = [
    ['{nope}', /unknown variable "nope"/],
    ['line1\n  {nope}', /\[Line 2, Column 3\] unknown variable "nope"/],
    ['a } b', /single "}"/],
    ['a { b', /"\{" that is not closed/],
    ['{a{b}', /not closed/],
    ['{username!r}', /conversions and format specs/],
    ['{n:>5}', /conversions and format specs/],
    ['{}', /positional/],
    ['{0}', /positional/],
    ['{user name}', /not a variable name/],
    ['{auth_state[p2][username]}', /"auth_state\[p2\]"|has no "p2"/],
    ['{auth_state[p1]}', /not text/],
    ['{list}', /a list/],
    ['{username.__proto__}', /has no "__proto__"/],
    ['{constructor}', /unknown variable "constructor"/],
  ];
  for (const [template, message] of REFUSED) {
    it(`refuses ${JSON.stringify(template)}`, () => {
      assert.throws(
        () => renderTemplate(template, vars, 'batch_query_cmd'),
        (err: unknown) => err instanceof TemplateError && err.what === 'batch_query_cmd' && /^the batch_query_cmd template does not render: /.test(err.message) && message.test(err.message),
      );
    });
  }
});

describe('renderTemplate, Jinja (nunjucks)', () => {
  const vars = { username: 'carol.proj1', partition: '', ngpus: 2, project: 'proj1.brics', auth_state: { 'proj1.brics': { username: 'carol.proj1' } } };
  it('is chosen by {{ or {% anywhere (batchspawner\'s rule), so {{ is never a str.format escape', () => {
    assert.equal(isJinjaTemplate('a {{ b'), true);
    assert.equal(isJinjaTemplate('{% if x %}{% endif %}'), true);
    assert.equal(isJinjaTemplate('{username} }}'), false);
    assert.equal(renderTemplate('{username} {{ username }}', vars, 't'), '{username} carol.proj1');
  });

  const TABLE: [string, string][] = [
    ['{{ username }}', 'carol.proj1'],
    ["{{ username.split('.')[0] }}", 'carol'],
    ['{% if partition %}P{% else %}none{% endif %}', 'none'],
    ['{% if ngpus %}--gpus={{ ngpus }}{% endif %}', '--gpus=2'],
    ["{{ missing | default('x') }}", 'x'],
    ['[{{ missing }}]', '[]'],
    ['{{ auth_state[project].username }}', 'carol.proj1'],
    ['{{ "<&>" }}', '<&>'],
    ['{# a comment #}{{ 1 + 2 }}', '3'],
    ['{% for g in [1,2] %}{{ g }}{% endfor %}', '12'],
  ];
  for (const [template, expected] of TABLE) {
    it(`${JSON.stringify(template)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(renderTemplate(template, vars, 't'), expected);
    });
  }

  it('puts values in as data: a value holding template syntax is not rendered again', () => {
    const hostile = { v: '{{ 7 * 7 }}{% raw %}', w: '{username}' };
    assert.equal(renderTemplate('{{ v }}|{{ w }}', hostile, 't'), '{{ 7 * 7 }}{% raw %}|{username}');
    assert.equal(renderTemplate('{w}', { ...hostile, username: 'x' }, 't'), '{username}');
  });

  const REFUSED: [string, RegExp][] = [
    ['{{ username ', /expected variable end/],
    ['{% if x %}no end', /expected elif, else, or endif|endif/],
    ['{% for %}', /\[Line 1, Column \d+\]/],
    ["{{ missing.split('.') }}", /Unable to call/],
    ['{{ nofunc() }}', /Unable to call `nofunc`/],
    ['{% include "x" %}', /template not found/],
    ['{% extends "/etc/passwd" %}', /template not found/],
    ['{% import "/etc/passwd" as p %}', /template not found/],
  ];
  for (const [template, message] of REFUSED) {
    it(`refuses ${JSON.stringify(template)} with a clear message`, () => {
      assert.throws(
        () => renderTemplate(template, vars, 'batch_script'),
        (err: unknown) => {
          assert.ok(err instanceof TemplateError);
          assert.equal(err.what, 'batch_script');
          assert.match(err.message, /^the batch_script template does not render: /);
          assert.match(err.message, message);
          assert.doesNotMatch(err.message, /unknown path|\n/);
          return true;
        },
      );
    });
  }

  it('cannot read files from ./views (nunjucks would by default)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gany-views-'));
    const cwd = process.cwd();
    try {
      writeFileSync(path.join(dir, 'x'), 'SECRET');
      execFileSync('mkdir', ['-p', path.join(dir, 'views')]);
      writeFileSync(path.join(dir, 'views', 'x'), 'SECRET');
      process.chdir(dir);
      assert.throws(() => renderTemplate('{% include "x" %}', {}, 'batch_script'), /template not found/);
    } finally {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('renderCommand', () => {
  it("quotes the substituted value: sudo -E -u {username} with carol.proj1", () => {
    assert.equal(renderCommand('sudo -E -u {username}', { username: 'carol.proj1' }, 'exec_prefix'), "sudo -E -u 'carol.proj1'");
    assert.equal(renderCommand('sudo -E -u {{ username }}', { username: 'carol.proj1' }, 'exec_prefix'), "sudo -E -u 'carol.proj1'");
  });

  for (const value of HOSTILE) {
    it(`a hostile value ${JSON.stringify(value)} stays one argument (both syntaxes)`, () => {
      for (const template of ['printf %s {v}', 'printf %s {{ v }}']) {
        const line = renderCommand(template, { v: value }, 'batch_query_cmd');
        assert.deepEqual(shWords(line), ['printf', '%s', value]);
        const printed = execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8' });
        assert.equal(printed, value);
      }
    });
  }

  it('quotes numbers, leaves null/undefined out in Jinja, keeps literal text', () => {
    assert.equal(renderCommand('scancel {job_id}', { job_id: 17 }, 'c'), "scancel '17'");
    assert.equal(renderCommand('x{% if r %} --r={{ r }}{% endif %}', { r: null }, 'c'), 'x');
    assert.equal(renderCommand('x{% if r %} --r={{ r }}{% endif %}', { r: 'a b' }, 'c'), "x --r='a b'");
    assert.equal(renderCommand("squeue -h -j {job_id} -o '%T %B'", { job_id: '9' }, 'c'), "squeue -h -j '9' -o '%T %B'");
  });

  it('follows {a[b][c]} in str.format style and quotes the result', () => {
    assert.equal(renderCommand('sudo -u {auth_state[p][username]} x', { auth_state: { p: { username: "o'b" } } }, 'c'), "sudo -u 'o'\\''b' x");
  });

  it('refuses arrays and objects in a Jinja command template, and NUL anywhere', () => {
    assert.throws(() => renderCommand('{{ a }}', { a: ['x'] }, 'exec_prefix'), /exec_prefix.*"a" is a list/);
    assert.throws(() => renderCommand('{{ a }}', { a: { b: 1 } }, 'exec_prefix'), /"a" is not text/);
    assert.throws(() => renderCommand('{{ a }}', { a: 'x\0y' }, 'c'), (e: unknown) => e instanceof TemplateError && /NUL/.test(e.message));
    assert.throws(() => renderCommand('{a}', { a: 'x\0y' }, 'c'), (e: unknown) => e instanceof TemplateError && /NUL/.test(e.message));
    assert.throws(() => renderCommand('{a}', { a: ['x'] }, 'c'), /a list/);
  });
});

/** A BriCS-like script in our own words (the shape of research/brics.md §3), as a site would configure it. */
const BRICS_LIKE = `#!/bin/bash
#SBATCH --output={{ homedir }}/jupyterhub_slurmspawner_%j.log
#SBATCH --job-name=spawner-jupyterhub
#SBATCH --chdir={{ homedir }}
#SBATCH --export={{ keepvars }}
#SBATCH --get-user-env=L
{% if partition %}#SBATCH --partition={{ partition }}
{% endif %}{% if runtime %}#SBATCH --time={{ runtime }}
{% endif %}{% if memory %}#SBATCH --mem={{ memory }}
{% endif %}{% if gres %}#SBATCH --gres={{ gres }}
{% endif %}{% if ngpus %}#SBATCH --gpus={{ ngpus }}
{% endif %}{% if nprocs %}#SBATCH --cpus-per-task={{ nprocs }}
{% endif %}{% if reservation %}#SBATCH --reservation={{ reservation }}
{% endif %}{% if options %}#SBATCH {{ options }}
{% endif %}
set -euo pipefail
source /tools/conda/bin/activate jupyter-user-env
export JUPYTER_PATH="/tools/jupyter/share\${JUPYTER_PATH:+:$JUPYTER_PATH}"
{{ prologue }}
srun --export=ALL {{ cmd }}
{{ epilogue }}
`;

describe('a BriCS-like batch script', () => {
  const base = {
    homedir: '/home/proj1/carol.proj1',
    keepvars: 'JUPYTERHUB_API_URL,JUPYTERHUB_SERVICE_URL',
    partition: '',
    runtime: '02:00:00',
    memory: '',
    gres: '',
    ngpus: 2,
    nprocs: '',
    reservation: '',
    options: '--nodes=1',
    prologue: '',
    epilogue: '',
    cmd: "'batchspawner-singleuser' 'jupyterhub-singleuser'",
  };

  it('gives exactly the #SBATCH lines for the options that are set', () => {
    const script = renderTemplate(BRICS_LIKE, base, 'batch_script');
    assert.deepEqual(sbatchDirectives(script), [
      '--output=/home/proj1/carol.proj1/jupyterhub_slurmspawner_%j.log',
      '--job-name=spawner-jupyterhub',
      '--chdir=/home/proj1/carol.proj1',
      '--export=JUPYTERHUB_API_URL,JUPYTERHUB_SERVICE_URL',
      '--get-user-env=L',
      '--time=02:00:00',
      '--gpus=2',
      '--nodes=1',
    ]);
    assert.match(script, /^srun --export=ALL 'batchspawner-singleuser' 'jupyterhub-singleuser'$/m);
    assert.match(script, /^export JUPYTER_PATH="\/tools\/jupyter\/share\$\{JUPYTER_PATH:\+:\$JUPYTER_PATH\}"$/m);
  });

  it('adds --partition and --reservation when they are chosen', () => {
    const script = renderTemplate(BRICS_LIKE, { ...base, partition: 'workq', reservation: 'training', ngpus: '' }, 'batch_script');
    const directives = sbatchDirectives(script);
    assert.ok(directives.includes('--partition=workq'));
    assert.ok(directives.includes('--reservation=training'));
    assert.ok(!directives.some((d) => d.startsWith('--gpus')));
  });
});

describe('the default Slurm script', () => {
  const vars = {
    homedir: '/home/alice',
    keepvars: 'JUPYTERHUB_API_URL',
    partition: 'debug',
    runtime: '',
    memory: '1G',
    gres: '',
    ngpus: '',
    nprocs: 2,
    reservation: '',
    account: 'acct',
    qos: '',
    options: '',
    srun: 'srun',
    prologue: 'module load jupyter',
    epilogue: 'echo done',
    cmd: "'ganymede-singleuser' 'jupyterhub-singleuser'",
  };

  it('has batchspawner\'s directives and the options that are set', () => {
    const script = renderTemplate(SLURM_DEFAULT_SCRIPT, vars, 'batch_script');
    assert.ok(script.startsWith('#!/bin/bash\n'));
    assert.deepEqual(sbatchDirectives(script), [
      '--job-name=spawner-jupyterhub',
      '--output=/home/alice/jupyterhub_slurmspawner_%j.log',
      '--chdir=/home/alice',
      '--export=JUPYTERHUB_API_URL',
      '--get-user-env=L',
      '--partition=debug',
      '--mem=1G',
      '--cpus-per-task=2',
      '--account=acct',
    ]);
    const body = script.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    assert.deepEqual(body, [
      'set -euo pipefail',
      `trap 'echo "ganymede: the job was asked to stop (SIGTERM)" >&2' TERM`,
      'unset SLURM_EXPORT_ENV',
      'module load jupyter',
      "srun 'ganymede-singleuser' 'jupyterhub-singleuser'",
      'echo done',
    ]);
  });

  it('runs the command without srun when req_srun is empty, and is valid bash', () => {
    const script = renderTemplate(SLURM_DEFAULT_SCRIPT, { ...vars, srun: '', prologue: '', epilogue: '', cmd: "'echo' 'hi there'" }, 'batch_script');
    assert.match(script, /^'echo' 'hi there'$/m);
    assert.equal(execFileSync('/bin/bash', ['-c', script], { encoding: 'utf8' }), 'hi there\n');
  });
});
