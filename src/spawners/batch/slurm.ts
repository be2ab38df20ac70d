/**
 * Slurm, as data for the batch spawner: the default script and commands
 * (batchspawner's `SlurmSpawner` defaults, so sites move their values over)
 * and the patterns its output is read by. The rules that use these patterns
 * are in scheduler-from-spec.ts.
 *
 * How `squeue -h -j <id> -o '%T %B'` (state, batch host) and its failures are
 * read (observed on Slurm 22.05, see the tests in test/unit/slurm-status.test.ts):
 *
 * | output (rc)                                                        | status                               |
 * |--------------------------------------------------------------------|--------------------------------------|
 * | `PENDING n/a` (0), also `CONFIGURING`, requeued and held states    | pending                              |
 * | `PENDING n/a Resources` / `PENDING n/a (Resources)` (with `%r`/`%R`)| pending, reason `Resources`          |
 * | `RUNNING vm` (0), also `COMPLETING vm`                             | running, host `vm`                   |
 * | `RUNNING n/a` or a host with shell characters                      | running, no host                     |
 * | empty (0): ended, cancelled or failed (squeue hides ended jobs)    | gone                                 |
 * | `COMPLETED`/`CANCELLED`/`FAILED`/`TIMEOUT`/`PREEMPTED`/`NODE_FAIL`/`OUT_OF_MEMORY`/`BOOT_FAIL`/`DEADLINE`/`REVOKED` (with `-t all`) | gone, final = that state |
 * | `slurm_load_jobs error: Invalid job id specified` (1): unknown or purged id | gone                        |
 * | `Unable to contact slurm controller`, `Socket timed out on send/recv`, `Connection refused`, … (any rc) | unknown |
 * | any other non-zero exit, killed by a signal                         | unknown, quoting stderr              |
 * | `SUSPENDED`, `STOPPED`, `SIGNALING`, `STAGE_OUT`, `RESIZING`, an unknown word, two lines, garbage | unknown |
 *
 * The compact state codes of `%t` (`PD`, `R`, `CG`, `CD`, `CA`, …) are read too.
 * The query's columns must be the state, then the host, then the reason.
 */
import { schedulerFromSpec } from './scheduler-from-spec.js';
import type { Scheduler, SchedulerSpec } from './scheduler.js';

/**
 * The default Slurm batch script, a Jinja template (variables: see
 * template-vars.ts). The job writes its log to
 * `<homedir>/jupyterhub_slurmspawner_<job id>.log`, runs in the home
 * directory with the user's login environment plus the kept variables, and
 * asks only for what is set (partition, time, memory, GPUs, CPUs,
 * reservation, account, QOS, extra `#SBATCH` options). It unsets
 * `SLURM_EXPORT_ENV` before `srun`: otherwise srun inherits sbatch's
 * `--export` list and the server starts without `PATH` (observed on Slurm
 * 22.05: `execve(): sh: No such file or directory`). Empty lines left by
 * the `{% if %}`s are harmless: Slurm reads directives up to the first
 * command.
 */
export const SLURM_DEFAULT_SCRIPT = `#!/bin/bash
#SBATCH --job-name=spawner-jupyterhub
#SBATCH --output={{ homedir }}/jupyterhub_slurmspawner_%j.log
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
{% endif %}{% if account %}#SBATCH --account={{ account }}
{% endif %}{% if qos %}#SBATCH --qos={{ qos }}
{% endif %}{% if options %}#SBATCH {{ options }}
{% endif %}
set -euo pipefail

# Say in the log when Slurm stops the job (scancel, time limit).
trap 'echo "ganymede: the job was asked to stop (SIGTERM)" >&2' TERM

# sbatch hands its --export list on to srun, which would then start the server
# without PATH and the variables exported above: let srun pass everything.
unset SLURM_EXPORT_ENV

{{ prologue }}
{% if srun %}{{ srun }} {% endif %}{{ cmd }}
{{ epilogue }}
`;

/** Slurm's scheduler spec (see the module comment for how output is read). */
export const SLURM_SPEC: SchedulerSpec = {
  name: 'Slurm',
  defaultScript: SLURM_DEFAULT_SCRIPT,
  submitCmd: 'sbatch --parsable',
  queryCmd: "squeue -h -t all -j {job_id} -o '%T %B %r'",
  cancelCmd: 'scancel {job_id}',
  queryAllExample: "squeue -h -t all -o '%i %T %B %r'",
  queryOutput: /^(?<state>[A-Z_]+)(?:[ \t]+(?<host>\S+))?(?:[ \t]+(?<reason>[^\n]*))?$/,
  queryAllLine: /^(?<id>\S+)[ \t]+(?<state>[A-Z_]+)(?:[ \t]+(?<host>\S+))?(?:[ \t]+(?<reason>[^\n]*))?$/,
  pendingStates: /^(?:PENDING|CONFIGURING|REQUEUED|REQUEUE_HOLD|REQUEUE_FED|RESV_DEL_HOLD|SPECIAL_EXIT|PD|CF|RQ|RH|RF|RD|SE)$/,
  runningStates: /^(?:RUNNING|COMPLETING|R|CG)$/,
  finalStates:
    /^(?:COMPLETED|CANCELLED|FAILED|TIMEOUT|PREEMPTED|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|REVOKED|CD|CA|F|TO|PR|NF|OOM|BF|DL|RV)$/,
  noHost: /^(?:n\/a|\(null\)|None)$/i,
  noReason: /^(?:None|n\/a)$/i,
  emptyMeansGone: true,
  notFound: /Invalid job id specified/,
  unreachable:
    /Unable to contact slurm controller|Socket timed out on send\/recv|Connection refused|Connection timed out|Zero Bytes were transmitted or received|Communication connection failure|Transport endpoint is not connected/i,
  jobId: /^\d{1,20}$/,
  jobIdSuffix: ';',
  submitError: /^(?:sbatch: )?(?:error|fatal)\b/i,
};

/** Slurm as a Scheduler. */
export const slurmScheduler: Scheduler = schedulerFromSpec(SLURM_SPEC);
