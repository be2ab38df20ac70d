import { Type, type Static } from '@sinclair/typebox';

/**
 * How a batch back-end reaches its login host over SSH (`ssh:` in a
 * `kind: slurm` back-end; absent, commands run on the hub's machine). Read by
 * ssh-transport.ts; docs/reference/config.md is generated from it.
 */
export const SshOptionsSchema = Type.Object(
  {
    host: Type.String({
      minLength: 1,
      pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$',
      description: 'The login host that runs the scheduler commands (a host name or an IP address).',
    }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 22, description: 'Its SSH port.' }),
    user: Type.String({
      minLength: 1,
      pattern: '^[A-Za-z_][A-Za-z0-9_.-]*$',
      description: 'The account the hub logs in as, e.g. a service account `jupyterspawner` that may `sudo -u` to the users.',
    }),
    key_file: Type.String({
      minLength: 1,
      description: 'The private key (OpenSSH or PEM format, without a passphrase) the hub logs in with. Keep it readable by the hub only.',
    }),
    known_hosts: Type.String({
      minLength: 1,
      description:
        'A known_hosts file listing the login host\'s key (`[host]:port …` for a port other than 22; hashed entries are fine). A host missing from it, or presenting another key, is refused: the hub never connects without checking the key.',
    }),
    connect_timeout: Type.Number({
      exclusiveMinimum: 0,
      default: 10,
      description: 'Seconds to wait for the connection and the SSH handshake before the login host counts as unreachable.',
    }),
    command_timeout: Type.Number({
      exclusiveMinimum: 0,
      default: 30,
      description: 'Seconds a scheduler command may take before it is killed and the attempt fails.',
    }),
    max_sessions: Type.Integer({
      minimum: 1,
      default: 8,
      description:
        'Commands run at once over the one connection to this host; more wait their turn. Keep it at or below the server\'s `MaxSessions` (OpenSSH default 10).',
    }),
  },
  { additionalProperties: false, description: 'SSH access to the login host (one pooled connection, key login, checked host key).' },
);

/** The validated `ssh:` options of a batch back-end (times in seconds). */
export type SshOptions = Static<typeof SshOptionsSchema>;
