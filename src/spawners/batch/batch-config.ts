import { FormFieldSchema } from '../options-form/form-config.js';
import { SshOptionsSchema } from './ssh-config.js';
import { Type, type Static, type TString } from '@sinclair/typebox';
import { spawnerKindSchema } from '../common-options.js';

/** A `req_*` value: a string, as batchspawner's (quote a number in YAML: `req_nprocs: '4'`). */
function req(def: string, description: string): TString {
  return Type.String({ default: def, description });
}

/**
 * The `req_*` options a user's `user_options` (API or spawn form) may
 * override, by their short name (`partition` overrides `req_partition`).
 * The others (`srun`, `prologue`, `epilogue`, `homedir`, `keepvars_extra`)
 * are the operator's alone.
 */
export const USER_REQ_OPTIONS = ['partition', 'account', 'qos', 'runtime', 'nprocs', 'memory', 'ngpus', 'gres', 'reservation', 'options'] as const;

/**
 * The options of the Slurm batch spawner (`kind: slurm`), with defaults and
 * help text; names follow batchspawner's so a site moves its values over.
 * docs/reference/config.md is generated from this schema.
 */
export const SlurmSpawnerSchema = spawnerKindSchema(
  'slurm',
  {
    ssh: Type.Optional(SshOptionsSchema),
    system_user_name: Type.String({
      default: '{username}',
      minLength: 1,
      description:
        "Template of the system account jobs run as (Jinja/nunjucks, or `{username}` alone). Its variables: `username` (the hub user), `auth_state` (the user's auth state, e.g. `{{ auth_state[brics_project].username }}`) and the user's options by name. The result must be a POSIX account name (letters, digits, `.`, `_`, `-`, starting with a letter or `_`); otherwise the spawn fails naming it.",
    }),
    exec_prefix: Type.String({
      default: 'sudo -E -u {username}',
      description:
        'Put in front of the submit, query and cancel commands to run them as the system user; `{username}` is that account (shell-quoted). Empty: the commands run as the hub (or the SSH account). With `sudo`, use `-n` so a missing sudoers rule fails at once instead of prompting. The hub also runs `tail -c <bytes> -- <job log>` through it to show the end of a failed job\'s log on the spawn page: allow `tail` in the sudoers rule for that (without it the page shows the message alone).',
    }),
    batch_script: Type.String({
      default: '',
      description:
        "The job script: a Jinja-compatible (nunjucks) template sent on the submit command's standard input. Its variables: every `req_*` option by its short name (`partition`, `runtime`, …) overridden by the user's options, `username` (the system user), `hub_username`, `server_name`, `homedir`, `keepvars`, `cmd` and the user's options. A user's value is one word (no spaces, except `options`); a script using `hub_username` or `server_name` refuses names with spaces, which would add options to an `#SBATCH` line. The server's environment is added as `export` lines after the `#SBATCH` header (secrets never appear on a command line). Empty: the built-in Slurm script (like batchspawner's: output to `{{homedir}}/jupyterhub_slurmspawner_%j.log`, optional `--partition`, `--time`, `--mem`, `--gres`, `--cpus-per-task`, `--reservation`).",
    }),
    batch_submit_cmd: Type.String({
      default: 'sbatch --parsable',
      minLength: 1,
      description: 'Submits the job (after `exec_prefix`), the script on its standard input; must print the job id (its last line, before any `;`).',
    }),
    batch_query_cmd: Type.String({
      default: "squeue -h -t all -j {job_id} -o '%T %B %r'",
      minLength: 1,
      description:
        'Asks for one job (after `exec_prefix`); `{job_id}` is the job id, also exported as `SLURMSPAWNER_JOB_ID`. Prints `<STATE> <host> [<reason>]` (batchspawner\'s `%T %B` works too; the reason, when printed, shows on the pending page): `PENDING`/`CONFIGURING` wait, `RUNNING`/`COMPLETING` run, nothing or "Invalid job id" is gone, an ended state (`COMPLETED`, `FAILED`, `CANCELLED`, … which `-t all` shows for a few minutes after the end) is gone and named in the message of a spawn it ends; "Unable to contact slurm controller" keeps the server as it is (unknown).',
    }),
    batch_cancel_cmd: Type.String({
      default: 'scancel {job_id}',
      minLength: 1,
      description: 'Cancels one job (after `exec_prefix`); `{job_id}` is the job id, also exported as `SLURMSPAWNER_JOB_ID`.',
    }),
    batch_query_all_cmd: Type.String({
      default: '',
      description:
        "Service-account mode: one command, run WITHOUT `exec_prefix`, that lists every job the hub may have on this host, one line each starting with the job id, e.g. `squeue -h -t all -o '%i %T %B %r'`. The hub's poll then runs it once per host for all servers instead of once per server; a job it does not list is asked once more with `batch_query_cmd` before its server counts as stopped. Empty: one `batch_query_cmd` per job, spread over the poll interval.",
    }),
    state_exechost_exp: Type.String({
      default: '',
      description:
        'Rewrites the host the scheduler names before the hub connects to it; `\\1` is that host, e.g. `int-\\1.cluster.edu`. Empty: the host as printed.',
    }),
    req_partition: req('', 'The Slurm partition (`--partition`); a user option `partition` overrides it. Empty: the default partition.'),
    req_account: req('', 'The account to charge (`--account`); user option `account`.'),
    req_qos: req('', 'The quality of service (`--qos`); user option `qos`.'),
    req_runtime: req('', 'The time limit (`--time`, e.g. `01:00:00`); user option `runtime`. Empty: the partition default.'),
    req_nprocs: req('', 'CPUs per task (`--cpus-per-task`); user option `nprocs`.'),
    req_memory: req('', 'Memory (`--mem`, e.g. `4G`); user option `memory`.'),
    req_ngpus: req('', 'GPUs (`--gpus`); user option `ngpus`.'),
    req_gres: req('', 'Generic resources (`--gres`); user option `gres`.'),
    req_reservation: req('', 'The reservation (`--reservation`); user option `reservation`.'),
    req_options: req('', 'Extra `#SBATCH` options, e.g. `--nodes=1`; user option `options`.'),
    req_srun: Type.String({ default: 'srun', description: 'What runs the server inside the job (`srun`, or empty to run it directly).' }),
    req_prologue: Type.String({ default: '', description: 'Shell lines run in the job before the server (e.g. `module load jupyter`).' }),
    req_epilogue: Type.String({ default: '', description: 'Shell lines run in the job after the server ends.' }),
    req_homedir: Type.String({
      default: '/home/{{username}}',
      description: "The system user's home on the cluster (template; `username` is the system user): the job's working directory and where its log goes.",
    }),
    req_keepvars_extra: Type.String({ default: '', description: 'More variable names (comma-separated) added to `keepvars`, the list the script passes to `--export`.' }),
    cmd: Type.Array(Type.String(), {
      default: ['batchspawner-singleuser', 'jupyterhub-singleuser'],
      minItems: 1,
      description:
        'The command the job runs: a launcher that reports its port to the hub (`batchspawner-singleuser`, or `ganymede-singleuser`, which needs only `sh` and `curl` or `python3`), then the single-user server.',
    }),
    startup_poll_interval: Type.Number({
      default: 0.5,
      exclusiveMinimum: 0,
      description: 'Seconds between two questions to the scheduler while a server starts (queued, then waiting for its port).',
    }),
    cancel_wait_timeout: Type.Number({
      default: 10,
      minimum: 0,
      description:
        'Seconds `stop` waits, after cancelling a job, for the scheduler to say it is gone (asking at once, then after pauses growing from 0.1 s to 1 s); past it the stop fails with a message in the log.',
    }),
    command_timeout: Type.Number({
      default: 30,
      exclusiveMinimum: 0,
      description: 'Seconds one scheduler command may take before it is killed (then the answer is "unknown" for a query, an error for a submit).',
    }),
    hub_connect_url: Type.String({
      default: '',
      description:
        "How compute nodes reach the hub's API, e.g. `http://hub.cluster.edu:8081`: `JUPYTERHUB_API_URL` and `JUPYTERHUB_ACTIVITY_URL` in the job start with it. Empty: the hub's own API URL.",
    }),
    form_fields: Type.Array(FormFieldSchema, {
      default: [],
      description:
        'The spawn form of this back-end (see docs/spawn-form.md): its fields and allowed values, checked on the hub for the form and the REST API alike. Each field becomes a user option and a script variable of its name; a field named like a `req_*` option without the prefix (`partition`, `runtime`, `ngpus`, ...) overrides that option. Users can set nothing that is not a field here.',
    }),
  },
  'Runs each server as a Slurm batch job, on the hub\'s machine or on a login host over SSH.',
);

/** The validated options of the Slurm spawner. */
export type SlurmSpawnerConfig = Static<typeof SlurmSpawnerSchema>;
