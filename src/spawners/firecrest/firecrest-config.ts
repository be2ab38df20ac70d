/**
 * The options of the FirecREST spawner (`kind: firecrest`): one FirecREST
 * system per back-end (several systems are several entries of `spawners:`).
 * Names follow batchspawner and firecrestspawner where one exists.
 * docs/reference/config.md is generated from this schema.
 */
import { Type, type Static } from '@sinclair/typebox';
import { spawnerKindSchema } from '../common-options.js';

/** One choice of software environment in the spawn form (CSCS: uenv images, or a container image). */
export const FirecrestEnvironmentSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'The value the form posts (user option `environment`).' }),
    display_name: Type.String({ default: '', description: 'What the form shows (default: `name`).' }),
    description: Type.String({ default: '', description: 'One line under the choice.' }),
    uenv: Type.String({ default: '', description: 'A uenv image (e.g. `jupyterlab/4.3:v1`), mounted at `mount`: the script gets `uenv` = `<image>:<mount>`.' }),
    mount: Type.String({
      default: '/user-tools',
      pattern: '^/[A-Za-z0-9._/-]*$',
      description: 'Where the uenv is mounted: `/user-tools` for a JupyterLab uenv, `/user-environments` for a programming environment.',
    }),
    view: Type.String({ default: '', description: 'The uenv view to load (`uenv_view` in the script), e.g. `default`.' }),
    image: Type.String({ default: '', description: 'A container image (`container_image` in the script) instead of a uenv.' }),
    default: Type.Boolean({ default: false, description: 'Preselected in the form (else the first).' }),
  },
  { additionalProperties: false },
);

/** The spawn form of a FirecREST system: what users may choose, checked on the hub for the form and the API alike. */
export const FirecrestFormSchema = Type.Object(
  {
    max_nodes: Type.Integer({ default: 4, minimum: 1, description: 'The largest node count a user may ask for (user option `nnodes`, 1 to this).' }),
    max_runtime_hours: Type.Number({ default: 12, exclusiveMinimum: 0, description: 'The longest run time a user may ask for, in hours (user option `runtime`, in hours).' }),
    default_runtime_hours: Type.Number({ default: 1, exclusiveMinimum: 0, description: 'The run time the form proposes, in hours.' }),
    partitions: Type.Array(Type.String(), {
      default: [],
      description: "Partitions users may pick (user option `partition`). Empty: every partition FirecREST lists for the system (`/status/{system}/partitions`), fetched with the user's token when the form is shown.",
    }),
    environments: Type.Array(FirecrestEnvironmentSchema, {
      default: [],
      description: 'The software environments users pick from (user option `environment`). Empty: no choice; the script gets no `uenv`.',
    }),
    custom_environment: Type.Boolean({
      default: false,
      description: 'Offer a free-text uenv or container image (user option `custom_environment`), checked against `custom_environment_pattern`.',
    }),
    custom_environment_pattern: Type.String({
      default: '^[A-Za-z0-9][A-Za-z0-9._/+-]{0,127}(:[A-Za-z0-9._/+-]{1,128})?$',
      description: 'The regular expression a custom uenv or image name must match whole.',
    }),
    custom_environment_mount: Type.String({ default: '/user-environments', pattern: '^/[A-Za-z0-9._/-]*$', description: 'Where a custom uenv is mounted.' }),
  },
  { additionalProperties: false, default: {} },
);

/** Client credentials of a service account, used only to poll jobs of users whose login expired. */
export const ServiceAccountSchema = Type.Object(
  {
    client_id: Type.String({ minLength: 1, description: 'The service account client id.' }),
    client_secret: Type.String({ default: '', description: 'Its secret (prefer `client_secret_file`).' }),
    client_secret_file: Type.String({ default: '', description: 'A file holding the secret (surrounding whitespace ignored), read again for each new token, so a rotated secret is used without a restart.' }),
    token_url: Type.String({ minLength: 1, description: 'The token endpoint of the identity provider (client-credentials grant).' }),
    scope: Type.String({ default: '', description: 'Scopes to ask for, space-separated (empty: none).' }),
  },
  { additionalProperties: false },
);

/** The options of the FirecREST spawner. */
export const FirecrestSpawnerSchema = spawnerKindSchema(
  'firecrest',
  {
    firecrest_url: Type.String({ minLength: 1, description: 'The FirecREST v2 API root, e.g. `https://api.cscs.ch/hpc/firecrest/v2` (no trailing slash needed).' }),
    system: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'The FirecREST system (cluster) name, e.g. `daint`.' }),
    workdir: Type.String({
      default: '/home/{{ username }}',
      description: "The job's working directory (template): `username` is the user's account on the system (FirecREST's userinfo), `hub_username` the hub user. Its log goes there too.",
    }),
    batch_script: Type.String({
      default: '',
      description:
        "The job script (Jinja-compatible nunjucks template) sent inline to FirecREST. Variables: `nnodes`, `runtime` (`HH:MM:SS`), `partition`, `account`, `reservation`, `constraint`, `uenv` (`<image>:<mount>`), `uenv_view`, `container_image`, `environment`, `username`, `hub_username`, `server_name`, `workdir`, `cmd`, `prologue`, `epilogue`, `srun`. The server's environment is added after the `#SBATCH` header (values FirecREST would refuse, and secrets, encoded and decoded in the script). Empty: the built-in script.",
    }),
    req_partition: Type.String({ default: '', description: 'The partition when the user picks none.' }),
    req_account: Type.String({ default: '', description: "The account when the user picks none (empty: the user's default account from FirecREST)." }),
    req_reservation: Type.String({ default: '', description: 'The reservation when the user gives none.' }),
    req_constraint: Type.String({ default: '', description: 'Node constraints (`constraints` of the job).' }),
    req_nnodes: Type.Integer({ default: 1, minimum: 1, description: 'Nodes when the user picks none.' }),
    req_runtime: Type.String({ default: '01:00:00', description: 'The time limit when the user picks none (`HH:MM:SS`).' }),
    req_srun: Type.String({ default: '', description: 'What runs the server inside the job (e.g. `srun`; empty: directly).' }),
    req_prologue: Type.String({ default: '', description: 'Shell lines run in the job before the server.' }),
    req_epilogue: Type.String({ default: '', description: 'Shell lines run in the job after the server ends.' }),
    cmd: Type.Array(Type.String(), {
      default: ['ganymede-singleuser', 'jupyterhub-singleuser'],
      minItems: 1,
      description: 'The command the job runs: a launcher that reports its port to the hub (`ganymede-singleuser` or `firecrestspawner-singleuser`), then the server.',
    }),
    node_name_template: Type.String({
      default: '{}',
      description: "How the first node of the job becomes the host the hub connects to: `{}` is the node name, e.g. `{}.daint.cscs.ch`.",
    }),
    hub_connect_url: Type.String({ default: '', description: "How compute nodes reach the hub's API (`JUPYTERHUB_API_URL` in the job). Empty: the hub's own API URL." }),
    service_account: Type.Optional(ServiceAccountSchema),
    form: FirecrestFormSchema,
    startup_poll_interval: Type.Number({ default: 1, exclusiveMinimum: 0, description: 'Seconds between two questions to FirecREST while a server starts.' }),
    cancel_wait_timeout: Type.Number({ default: 10, minimum: 0, description: 'Seconds `stop` waits, after the DELETE, for the job to be gone.' }),
    request_timeout: Type.Number({ default: 30, exclusiveMinimum: 0, description: 'Seconds one FirecREST call may take.' }),
    request_retries: Type.Integer({ default: 2, minimum: 0, maximum: 10, description: 'Retries of an idempotent call (GET, DELETE) after a network error, a timeout or a 5xx; submit is never retried.' }),
  },
  "Runs each server as a Slurm job through FirecREST v2, with the user's own OIDC access token.",
);

/** The validated options of the FirecREST spawner. */
export type FirecrestSpawnerConfig = Static<typeof FirecrestSpawnerSchema>;
