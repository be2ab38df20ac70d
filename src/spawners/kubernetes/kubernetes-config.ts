/**
 * The options of the Kubernetes spawner (`kind: kubernetes`): one pod per
 * server, with KubeSpawner's option names wherever KubeSpawner has one, so a
 * Zero-to-JupyterHub site moves its values over. docs/reference/config.md is
 * generated from this schema.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { spawnerKindSchema } from '../common-options.js';

/** A Kubernetes object given as YAML/JSON in the config (a volume, a toleration, a lifecycle hook): checked against the Kubernetes schema when the manifest is built. */
const K8sObject = (description: string): TSchema => Type.Record(Type.String(), Type.Unknown(), { description });

/** The overrides a profile or a profile option's choice applies: any option of this schema by name (KubeSpawner's `kubespawner_override`). */
const Override = Type.Record(Type.String(), Type.Unknown(), {
  default: {},
  description: "Options of this back-end (by their names here, e.g. `image`, `cpu_limit`, `extra_resource_limits`) that this choice sets; objects are merged recursively, `null` removes a key (KubeSpawner's `kubespawner_override`). In an `unlisted_choice`, `{value}` is replaced by the user's text.",
});

/** One choice of a profile option. */
export const ProfileChoiceSchema = Type.Object(
  {
    display_name: Type.String({ minLength: 1 }),
    default: Type.Boolean({ default: false }),
    kubespawner_override: Override,
  },
  // `default: undefined`: TypeBox's Value.Default fills the entries of a map (Record) only when their schema has a `default` key
  { additionalProperties: false, default: undefined },
);

/** A profile option (a select on the profile's card): listed choices and an optional free-text value. */
export const ProfileOptionSchema = Type.Object(
  {
    display_name: Type.String({ minLength: 1 }),
    choices: Type.Record(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }), ProfileChoiceSchema, { default: {} }),
    unlisted_choice: Type.Optional(
      Type.Object(
        {
          enabled: Type.Boolean({ default: false }),
          display_name: Type.String({ default: 'Other' }),
          display_name_in_choices: Type.String({ default: 'Other...' }),
          validation_regex: Type.String({ default: '', description: 'The whole value must match (empty: any value; the hub still refuses control characters).' }),
          validation_message: Type.String({ default: '' }),
          kubespawner_override: Override,
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, default: undefined }, // see ProfileChoiceSchema
);

/** One profile of `profile_list` (KubeSpawner's semantics). */
export const ProfileSchema = Type.Object(
  {
    display_name: Type.String({ minLength: 1 }),
    slug: Type.String({ default: '', pattern: '^([a-z0-9]([a-z0-9._-]*[a-z0-9])?)?$', description: 'The value the form posts (user option `profile`); empty: made from `display_name`.' }),
    description: Type.String({ default: '' }),
    default: Type.Boolean({ default: false }),
    kubespawner_override: Override,
    profile_options: Type.Record(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]*$' }), ProfileOptionSchema, { default: {} }),
    allowed_groups: Type.Array(Type.String(), { default: [], description: 'Only members of these hub groups (and admins) see and may use this profile; empty: everyone.' }),
    enabled: Type.Boolean({
      default: true,
      description: 'Whether the profile is offered. The environment variable `JUPYTER_PROFILE_<SLUG>_ENABLED` (slug upper-cased, `-` and `.` as `_`), when set to true/false, 1/0 or yes/no, overrides it (the platform stack switches profiles on and off this way).',
    }),
  },
  { additionalProperties: false },
);

/** A resource quantity: `2`, `0.5`, `500m`, `2G`, `1Gi`, `10G` (KubeSpawner also takes bytes as a number). */
const Quantity = (description: string) => Type.Union([Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?([mkMGTPE]i?|[KMGTPE])?$' }), Type.Number({ minimum: 0 })], { description });
const OptionalQuantity = (description: string) => Type.Optional(Quantity(description));

/** The options of the Kubernetes spawner. */
export const KubernetesSpawnerSchema = spawnerKindSchema(
  'kubernetes',
  {
    kube_config: Type.Union([Type.Literal('in-cluster'), Type.Literal('default'), Type.String({ minLength: 1 })], {
      default: 'in-cluster',
      description:
        "Where the hub's credentials for the Kubernetes API come from: `in-cluster` (the pod's service account token and CA, as in a Helm deployment), `default` (`KUBECONFIG` or `~/.kube/config`), or the path of a kubeconfig file.",
    }),
    namespace: Type.String({ default: '', description: "The namespace of the servers' objects; empty: the hub's own (in-cluster: read from the service account; else `default`)." }),
    enable_user_namespaces: Type.Boolean({ default: false, description: 'One namespace per user (`user_namespace_template`), created when missing.' }),
    user_namespace_template: Type.String({ default: '{hubnamespace}-{username}', description: 'The namespace of a user, with `enable_user_namespaces`.' }),
    pod_name_template: Type.String({ default: 'jupyter-{user_server}', description: "The pod's name: `{username}`, `{servername}`, `{user_server}` (`{username}` or `{username}--{servername}`), each a DNS-1123 slug, with a hash suffix where the name had to be changed." }),
    pvc_name_template: Type.String({ default: 'claim-{user_server}', description: "The user's volume claim's name (same variables)." }),
    image: Type.String({ default: 'quay.io/jupyterhub/k8s-singleuser-sample:4.1.0', minLength: 1, description: 'The container image of the server.' }),
    image_pull_policy: Type.Union([Type.Literal(''), Type.Literal('Always'), Type.Literal('IfNotPresent'), Type.Literal('Never')], { default: '', description: 'Empty: the cluster default.' }),
    image_pull_secrets: Type.Array(Type.String(), { default: [], description: 'Names of secrets for pulling the image.' }),
    cmd: Type.Array(Type.String(), { default: ['jupyterhub-singleuser'], description: "The container's command; empty: the image's entrypoint (and `args` are dropped). Z2JH's `jupyter-labhub` works." }),
    args: Type.Array(Type.String(), { default: [], description: 'Arguments after `cmd`.' }),
    port: Type.Integer({ default: 8888, minimum: 1, maximum: 65535, description: "The server's port in the pod (the container port named `notebook-port`)." }),
    default_url: Type.String({ default: '', description: "Where users land in their server, e.g. `/lab` (`JUPYTERHUB_DEFAULT_URL`)." }),
    environment: Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String(), {
      default: {},
      description: 'More environment variables of the server; `{username}` and `{servername}` in a value are replaced.',
    }),
    cpu_limit: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'CPU cores the server may use at most (`resources.limits.cpu`).' })),
    cpu_guarantee: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'CPU cores reserved for the server (`resources.requests.cpu`).' })),
    mem_limit: OptionalQuantity('Memory the server may use at most, e.g. `2G` (KubeSpawner: `G` = 2^30 bytes).'),
    mem_guarantee: OptionalQuantity('Memory reserved for the server, e.g. `1G`.'),
    extra_resource_limits: Type.Record(Type.String(), Type.String(), { default: {}, description: 'More limits, e.g. `{"nvidia.com/gpu": "1"}` for a GPU.' }),
    extra_resource_guarantees: Type.Record(Type.String(), Type.String(), { default: {}, description: 'More requests.' }),
    node_selector: Type.Record(Type.String(), Type.String(), { default: {}, description: "The pod's `nodeSelector`." }),
    tolerations: Type.Array(K8sObject('A toleration.'), { default: [], description: "The pod's tolerations (Kubernetes `Toleration` objects)." }),
    volumes: Type.Array(K8sObject('A volume.'), { default: [], description: "More volumes of the pod (Kubernetes `Volume` objects: NFS, config maps, secrets); `{username}` in strings is replaced." }),
    volume_mounts: Type.Array(K8sObject('A volume mount.'), { default: [], description: 'Where they are mounted in the server (Kubernetes `VolumeMount` objects).' }),
    storage_pvc_ensure: Type.Boolean({ default: false, description: "Create the user's volume claim on first spawn when missing and mount it (Z2JH `singleuser.storage.type: dynamic`); it is kept across servers." }),
    storage_capacity: Type.String({ default: '10Gi', description: "The claim's size, e.g. `10G`." }),
    storage_class: Type.String({ default: '', description: "The claim's storage class; empty: the cluster default." }),
    storage_access_modes: Type.Array(Type.String(), { default: ['ReadWriteOnce'] }),
    storage_mount_path: Type.String({ default: '/home/jovyan', description: 'Where the claim is mounted in the server.' }),
    delete_pvc: Type.Boolean({ default: false, description: "Delete the user's claim when the user is deleted (never when a server only stops)." }),
    uid: Type.Optional(Type.Integer({ minimum: 0, description: 'The user id the server runs as (`runAsUser`).' })),
    gid: Type.Optional(Type.Integer({ minimum: 0, description: 'The group id (`runAsGroup`).' })),
    fs_gid: Type.Optional(Type.Integer({ minimum: 0, description: "The pod's `fsGroup` (owner group of mounted volumes)." })),
    supplemental_gids: Type.Array(Type.Integer({ minimum: 0 }), { default: [] }),
    service_account: Type.String({ default: '', description: "The pod's service account (empty: none mounted: `automountServiceAccountToken: false`)." }),
    lifecycle_hooks: Type.Optional(K8sObject("The container's `lifecycle` (postStart, preStop).")),
    extra_labels: Type.Record(Type.String(), Type.String(), { default: {}, description: 'More labels on every object of a server.' }),
    extra_annotations: Type.Record(Type.String(), Type.String(), { default: {}, description: 'More annotations on every object of a server.' }),
    profile_list: Type.Array(ProfileSchema, { default: [], description: 'Profiles users choose from on the spawn form (cards), as KubeSpawner has them. Empty: no choice.' }),
    request_timeout: Type.Number({ default: 30, exclusiveMinimum: 0, description: 'Seconds one call to the Kubernetes API may take.' }),
    watch_resync_seconds: Type.Number({ default: 300, exclusiveMinimum: 0, description: 'Seconds after which the shared watch of pods is re-listed even when nothing went wrong.' }),
  },
  'Runs each server as a pod on Kubernetes (one shared watch per namespace, KubeSpawner option names).',
);

/** The validated options of the Kubernetes spawner. */
export type KubernetesSpawnerConfig = Static<typeof KubernetesSpawnerSchema>;
