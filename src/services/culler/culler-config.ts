import { Type, type Static } from '@sinclair/typebox';

const Seconds = (def: number, description: string) => Type.Number({ minimum: 0, default: def, description });

/**
 * The built-in idle culler's options (`cull:`). The names are Z2JH's `cull.*`
 * values; each maps to a jupyterhub-idle-culler flag (`--timeout`, `--every`,
 * `--max-age`, `--cull-users`, `--remove-named-servers`, `--cull-admin-users`,
 * `--concurrency`), which `ganymede cull` takes too. Read at every round: a
 * live configuration change applies from the next one.
 */
export const CullConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description:
        'Run the built-in idle culler in the hub. It uses only the REST API, with a token of its own service (`cull-idle`, made at its first round, scopes `list:users`, `read:users:activity`, `read:servers`, `delete:servers`, and `delete:users` with `users`).',
    }),
    timeout: Type.Number({ minimum: 1, default: 3600, description: 'Seconds a server may stay without activity before it is stopped (`--timeout`).' }),
    every: Type.Number({ minimum: 1, default: 600, description: 'Seconds between two culling rounds (`--cull-every`).' }),
    max_age: Seconds(0, 'Seconds after its start at which a server is stopped whatever its activity (`--max-age`); 0: no limit.'),
    users: Type.Boolean({
      default: false,
      description: 'Also delete users idle longer than `timeout` who have no server running (`--cull-users`). Deleting a user deletes their tokens and named servers.',
    }),
    remove_named_servers: Type.Boolean({ default: false, description: 'Delete culled named servers instead of only stopping them (`--remove-named-servers`).' }),
    admin_users: Type.Boolean({ default: true, description: "Cull admin users' servers too; false: admins are exempt (`--cull-admin-users`). The built-in culler never deletes an admin user (with `users`): only admins may delete admins, and its service is none." }),
    concurrency: Type.Integer({ minimum: 1, default: 10, description: 'Most API requests a round has in flight at once (`--concurrency`).' }),
  },
  { additionalProperties: false, default: {}, description: "The built-in idle culler (Z2JH's `cull.*`; jupyterhub-idle-culler's flags)." },
);

export type CullConfig = Static<typeof CullConfigSchema>;
