/**
 * The Slurm back-end end to end, through the hub (in-process, real proxy),
 * against the real Slurm, munge and sshd of scripts/slurm-test-env: the
 * BriCS deployment exactly (issue 11, "Tests"). carol logs in through the
 * dev-users mode, which gives her the projects auth state
 * `{proj1: {username: 'carol.proj1'}}`; the spawn form's project picks the
 * account the job runs as; the hub reaches the cluster over SSH as
 * `jupyterspawner` and runs the BriCS wrappers under `sudo -n -u carol.proj1`;
 * the job runs the real `jupyterhub-singleuser` through bin/ganymede-singleuser,
 * which reports its port to `POST /hub/api/batchspawner`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { freePort } from '../../src/lib/free-port.js';
import { BRICS_FORM_FIELDS } from '../../src/spawners/options-form/brics-form-fields.js';
import { Browser, login, openServerWithOAuth, parseForm, readProgress, waitFor } from '../helpers/e2e.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { serverRecord } from '../helpers/server-state.js';
import { ensureSlurmCluster, runAsRoot, squeueJob, type SlurmCluster } from '../helpers/slurm-cluster.js';
import { capturedLog, commandLineSampler, jobFiles, jobIdOf, processEnvOf, slurmOverSsh, type JobFiles } from '../helpers/slurm-hub.js';

const cluster = await ensureSlurmCluster();
const skip = 'unavailable' in cluster ? `NOTICE: the Slurm e2e tests are skipped: ${cluster.unavailable}` : false;
const PASSWORD = 'brics-dev-password';
const SINGLEUSER = '/usr/bin/jupyterhub-singleuser';

/**
 * A batch script written as BriCS writes theirs (brics.md §3): the job's log,
 * name and directory in the project user's home, the kept variables, the
 * user's login environment, each request only when set, and the server under
 * `srun --export=ALL`.
 */
const BRICS_LIKE_SCRIPT = `#!/bin/bash
#SBATCH --output={{ homedir }}/jupyterhub_slurmspawner_%j.log
#SBATCH --job-name=spawner-jupyterhub
#SBATCH --chdir={{ homedir }}
{% if keepvars %}#SBATCH --export={{ keepvars }}
{% endif %}#SBATCH --get-user-env=L
{% if partition %}#SBATCH --partition={{ partition }}
{% endif %}{% if runtime %}#SBATCH --time={{ runtime }}
{% endif %}{% if memory %}#SBATCH --mem={{ memory }}
{% endif %}{% if gres %}#SBATCH --gres={{ gres }}
{% endif %}{% if ngpus %}#SBATCH --gpus={{ ngpus }}
{% endif %}{% if nprocs %}#SBATCH --cpus-per-task={{ nprocs }}
{% endif %}{% if reservation %}#SBATCH --reservation={{ reservation }}
{% endif %}{% if options %}#SBATCH {{ options }}
{% endif %}
set -eu
echo "project {{ brics_project }} as {{ username }} on $(hostname)"
srun --export=ALL {{ cmd }}
`;

describe('e2e: the BriCS deployment on the real Slurm over SSH, through the hub', { skip, timeout: 240_000 }, () => {
  const c = cluster as SlurmCluster;
  let t: TestHub;
  let files: JobFiles;
  const hubLog = capturedLog();
  const jobs = new Set<string>();
  const savedKey = process.env['GANYMEDE_CRYPT_KEY'];

  before(async () => {
    process.env['GANYMEDE_CRYPT_KEY'] = randomBytes(32).toString('hex');
    files = await jobFiles(c);
    const hubPort = await freePort('127.0.0.1');
    t = await startTestHub(
      {
        auth: { kind: 'shared-password', shared_password: PASSWORD, dev_users: ['carol.proj1'] },
        start_timeout: 150,
        slow_spawn_timeout: 1,
        spawners: {
          brics: slurmOverSsh(c, {
            exec_prefix: 'sudo -n -u {username}',
            system_user_name: '{{ auth_state[brics_project].username }}',
            batch_submit_cmd: c.wrappers.sbatch,
            batch_query_cmd: c.wrappers.squeue,
            batch_cancel_cmd: c.wrappers.scancel,
            // The test node has no GPU: BriCS's GPU field (1–4, default 1) would ask for one in
            // every job, which this Slurm refuses; the rest of the form is BriCS's own.
            form_fields: BRICS_FORM_FIELDS.filter((f) => f.name !== 'ngpus'),
            batch_script: BRICS_LIKE_SCRIPT,
            req_homedir: '/home/{{ username }}',
            req_runtime: '',
            cmd: ['/bin/sh', files.launcher, SINGLEUSER],
            hub_connect_url: `http://${c.hubReachableAddress}:${hubPort}`,
          }),
        },
      },
      { hubPort, log: hubLog.log },
    );
  });

  after(async () => {
    await t?.stop().catch(() => undefined);
    if (jobs.size) await runAsRoot(`scancel ${[...jobs].join(' ')}; rm -f ${[...jobs].map((j) => `/home/carol.proj1/jupyterhub_slurmspawner_${j}.log`).join(' ')}`);
    files?.remove();
    if (savedKey === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
    else process.env['GANYMEDE_CRYPT_KEY'] = savedKey;
  });

  it('carol spawns from the BriCS form; the job runs as carol.proj1; she reaches JupyterLab through the proxy; the token is on no command line; stop cancels the job', async (ctx) => {
    const browser = new Browser(t.publicUrl);
    const home = await login(browser, 'carol', PASSWORD);
    assert.equal(home.status, 200);

    const form = await browser.navigate('/hub/spawn');
    assert.equal(form.status, 200, form.text.slice(0, 500));
    assert.match(form.text, /<select[^>]*name="brics_project"/);
    assert.match(form.text, /<option[^>]*value="proj1"/);
    assert.match(form.text, /name="runtime"/);
    assert.match(form.text, /name="partition"/);
    assert.doesNotMatch(form.text, /name="ngpus"/);
    const { fields } = parseForm(form.text);

    // a project that is not hers is refused on the hub, naming the field, and nothing is submitted
    const refused = await browser.request('/hub/spawn', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...fields, brics_project: 'proj2', runtime: '01:00:00' }).toString(),
    });
    const refusedText = await refused.text();
    assert.ok([200, 400].includes(refused.status), `POST /hub/spawn with another project: ${refused.status}`);
    assert.match(refusedText, /brics_project|Project/);
    assert.equal(await jobIdOf(t, 'carol'), undefined, 'a job was submitted for a project that is not hers');

    const sampler = commandLineSampler();
    let token = '';
    let jobId = '';
    try {
      const posted = await browser.request('/hub/spawn', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...fields, brics_project: 'proj1', runtime: '01:00:00', partition: '', reservation: '' }).toString(),
      });
      const postedText = await posted.text();
      assert.equal(posted.status, 302, `POST /hub/spawn: ${posted.status} ${postedText.slice(0, 500)}`);
      const events = await readProgress(browser, '/hub/api/users/carol/server/progress', 150_000);
      jobId = (await jobIdOf(t, 'carol')) ?? '';
      if (jobId) jobs.add(jobId);
      assert.ok(events.at(-1)?.ready, `the spawn did not become ready: ${JSON.stringify(events)}\n${hubLog.text().slice(-3000)}`);
      assert.match(jobId, /^\d+$/);
      assert.ok(events.some((e) => e.message?.includes(`Submitted job ${jobId}`) && e.message.includes('carol.proj1')), JSON.stringify(events));

      const job = await squeueJob(jobId);
      assert.equal(job?.state, 'RUNNING');
      assert.equal(job?.user, 'carol.proj1', 'the job runs as the project account');
      const env = await processEnvOf('carol.proj1', 'jupyterhub-singleuser');
      assert.ok(env, 'a jupyterhub-singleuser process of carol.proj1 runs');
      token = env['JUPYTERHUB_API_TOKEN'] ?? '';
      assert.match(token, /^\S{16,}$/, 'the server got its API token');
      assert.equal(env['JUPYTERHUB_USER'], 'carol');
      assert.equal(env['HOME'], '/home/carol.proj1');
      assert.equal(env['JUPYTERHUB_API_URL'], `http://${c.hubReachableAddress}:${t.hubPort}/hub/api`);

      await openServerWithOAuth(browser, 'carol');
    } finally {
      const lines = await sampler.stop();
      if (token) {
        assert.deepEqual(lines.filter((l) => l.includes(token)), [], 'the API token was on a command line');
        assert.ok(!readFileSync(c.sshdLogFile, 'utf8').includes(token), 'the API token is in the sshd log');
        assert.ok(!hubLog.text().includes(token), 'the API token is in the hub log');
        const jobLog = await runAsRoot(`cat /home/carol.proj1/jupyterhub_slurmspawner_${jobId}.log`);
        assert.match(jobLog.stdout, /project proj1 as carol\.proj1/, 'the BriCS-like script ran');
        assert.ok(!jobLog.stdout.includes(token), "the API token is in the job's log");
      }
      // the wrappers ran as carol.proj1 through sudo, over SSH (the job's owner above proves the sudo;
      // a wrapper lives ~50 ms, so the 100 ms ps sampling may miss every one of them: only noted)
      if (!lines.some((l) => l.includes('slurmspawner_'))) ctx.diagnostic('NOTICE: the ps sampling caught no wrapper process this time');
    }

    const stop = await t.api('DELETE', '/users/carol/server', { token: await t.tokenFor('carol') });
    assert.ok([202, 204].includes(stop.status), `stop: ${stop.status} ${stop.text}`);
    await waitFor('the server to be stopped', async () => (await serverRecord(t, 'carol')).row?.ready === 0 && (await serverRecord(t, 'carol')).row?.pending === null, { timeoutMs: 30_000 });
    assert.equal((await serverRecord(t, 'carol')).routed, false, 'the route is gone');
    const gone = await squeueJob(jobId);
    assert.ok(gone === null || !/^(PENDING|RUNNING|COMPLETING|CONFIGURING)$/.test(gone.state), `job ${jobId} is still ${gone?.state}`);
    assert.ok(hubLog.text().includes(`"jobId":"${jobId}"`), 'the hub log names the job');
  });
});
