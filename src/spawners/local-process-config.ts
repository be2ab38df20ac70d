import { Type, type Static } from '@sinclair/typebox';
import { spawnerKindSchema } from './common-options.js';

/**
 * The options of the local-process spawner (`spawner: {kind: local-process}`),
 * with their defaults and help text. src/config/schema.ts puts this schema in
 * the union of spawners; docs/reference/config.md is generated from it.
 */
export const LocalProcessSpawnerSchema = spawnerKindSchema(
  'local-process',
  {
    cmd: Type.Array(Type.String(), {
      default: ['jupyterhub-singleuser'],
      minItems: 1,
      description: 'The command that starts a single-user server (program and leading arguments).',
    }),
    args: Type.Array(Type.String(), { default: [], description: 'Extra arguments appended to `cmd`.' }),
    run_as: Type.Union([Type.Literal('auto'), Type.Literal('user'), Type.Literal('hub')], {
      default: 'auto',
      description:
        "Which system account each server runs as. `user`: the account named by `system_user_name` (its uid and gid, HOME, USER, LOGNAME and SHELL; the hub must run as root). `hub`: the hub's own account, for a one-person setup; when the hub runs as root this gives every user root (logged as a warning at start). `auto`: `user` when the hub runs as root, `hub` otherwise. See docs/security.md.",
    }),
    system_user_name: Type.String({
      default: '{username}',
      minLength: 1,
      description:
        'With `run_as: user`: the system account of a hub user; `{username}` is replaced by the hub user name (e.g. `jupyter-{username}`, as The Littlest JupyterHub names them). The result must be a valid POSIX account name; an account that is root (uid or gid 0) is refused.',
    }),
    system_user_min_uid: Type.Integer({
      minimum: 1,
      default: 1000,
      description:
        "With `run_as: user`: the lowest uid a server may run as. System and service accounts below it (`daemon`, `www-data`, `postgres`) are refused, so that a hub user named like one cannot run code as it; so is `nobody` (65534). Root (uid or gid 0) is always refused.",
    }),
    create_system_users: Type.Boolean({
      default: false,
      description:
        'With `run_as: user`: create a missing system account with `useradd --create-home` (its home made 0700). When false, a missing account fails the spawn with a message naming it.',
    }),
    allow_root: Type.Union([Type.Literal('auto'), Type.Boolean()], {
      default: 'auto',
      description:
        'Pass `--allow-root` to a server that really runs as root (only with `run_as: hub` when the hub is root; Jupyter refuses to start as root without it). `auto` and `true`: pass it then; `false`: never.',
    }),
    ip: Type.String({ default: '127.0.0.1', description: 'The address single-user servers bind to.' }),
    notebook_dir: Type.Optional(
      Type.String({
        description:
          "The working directory of single-user servers; `{username}` is replaced by the hub user name and a leading `~` by the home of the account the server runs as. Default: that account's home.",
      }),
    ),
  },
  'Runs each server as a process on the hub\'s machine.',
);

/** The validated options of the local-process spawner. */
export type LocalProcessConfig = Static<typeof LocalProcessSpawnerSchema>;
