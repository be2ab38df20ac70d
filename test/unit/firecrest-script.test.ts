/** The FirecREST spawner's built-in script and job description helpers. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderTemplate } from '../../src/spawners/batch/script-template.js';
import { checkOneLineValues, commandLine, DEFAULT_FIRECREST_SCRIPT, jobLogPattern, jobName, workdirProblem } from '../../src/spawners/firecrest/firecrest-script.js';

const base = { nnodes: 2, runtime: '02:00:00', cmd: commandLine(['ganymede-singleuser', 'jupyterhub-singleuser']), prologue: 'module load x', epilogue: 'echo done', srun: '' };

describe('DEFAULT_FIRECREST_SCRIPT', () => {
  it('has nodes and time, and a uenv with its view only when one is chosen', () => {
    const plain = renderTemplate(DEFAULT_FIRECREST_SCRIPT, base, 'batch_script');
    assert.equal(plain, "#!/bin/bash\n#SBATCH --nodes=2\n#SBATCH --time=02:00:00\n\nmodule load x\n'ganymede-singleuser' 'jupyterhub-singleuser'\necho done\n");
    const uenv = renderTemplate(DEFAULT_FIRECREST_SCRIPT, { ...base, uenv: 'jupyterlab/4.3:v1:/user-tools', uenv_view: 'default', srun: 'srun' }, 'batch_script');
    assert.match(uenv, /#SBATCH --uenv=jupyterlab\/4.3:v1:\/user-tools\n#SBATCH --view=default\n/);
    assert.match(uenv, /\nsrun 'ganymede-singleuser'/);
    const image = renderTemplate(DEFAULT_FIRECREST_SCRIPT, { ...base, container_image: 'nvcr.io/x:1' }, 'batch_script');
    assert.match(image, /#SBATCH --container-image=nvcr.io\/x:1\n/);
    assert.ok(!image.includes('--uenv'));
  });
});

describe('job description helpers', () => {
  it('names jobs safely, puts the log in the workdir, checks the workdir and one-line values', () => {
    assert.equal(jobName('alice', ''), 'jupyterhub-alice');
    assert.equal(jobName('a b/"c', 'gpu 1'), 'jupyterhub-a_b__c-gpu_1');
    assert.ok(jobName('x'.repeat(200), '').length <= 64);
    assert.equal(jobLogPattern('/home/alice/'), '/home/alice/jupyterhub-firecrest-%j.log');
    assert.equal(workdirProblem('/scratch/alice'), undefined);
    for (const bad of ['relative', '/home/../etc', '/home/a\nb', '']) assert.ok(workdirProblem(bad), bad);
    assert.throws(() => checkOneLineValues({ uenv: 'a\n#SBATCH --x' }, []), /uenv.*control character/);
    checkOneLineValues({ prologue: 'a\nb', nnodes: 1 }, ['prologue']);
    assert.equal(commandLine(["it's", 'a b']), `'it'\\''s' 'a b'`);
  });
});
