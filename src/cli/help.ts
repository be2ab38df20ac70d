/**
 * Help of each `ganymede` command, printed by `ganymede help COMMAND`,
 * `ganymede COMMAND --help` and `-h`. The overview is USAGE in main.ts.
 */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  serve: `Usage: ganymede serve [--config FILE] [--ip IP] [--port N] [--data-dir DIR]

Starts the hub and, unless proxy.should_start is false, its proxy (or reuses the
proxy an earlier run left running). Ctrl-C or SIGTERM stops the hub only: the
proxy and the users' servers keep running, and the next 'ganymede serve'
re-attaches to them. 'ganymede stop' stops everything.

At first start, without auth.shared_password or GANYMEDE_SHARED_PASSWORD, a
login password is generated and printed once, after start-up; 'ganymede
password reset' makes a new one.
`,
  stop: `Usage: ganymede stop [--config FILE] [--data-dir DIR] [--keep-servers] [--keep-proxy]

Stops everything this data dir's hub started: every user's server (through the
spawner, as the hub does), the proxy the hub started (its pid file in the data
dir), and the hub itself if it runs (its pid file). Works whether or not the hub
is running: it reads the database and the pid files directly.

  --keep-servers        leave the users' servers running
  --keep-proxy          leave the proxy running

With a running hub, an admin may do the same through the REST API:
  POST /hub/api/shutdown  {"servers": true, "proxy": true}   (scope: shutdown)
`,
  reload: `Usage: ganymede reload [--config FILE] [--data-dir DIR]

Asks the running hub of this data dir to read its configuration again (sends
SIGHUP to the pid in <data_dir>/hub.pid; 'kill -HUP PID' does the same). The
hub also reloads by itself when the config file, or a file it names in a
'*_file' option, changes. Options that apply live take effect without
dropping a request or touching a running server; options that need a restart
are logged and keep their running value; a file that does not validate is
refused, its problems logged, and the running configuration kept. See
docs/operations.md, "Live configuration".
`,
  password: `Usage: ganymede password reset [--config FILE] [--data-dir DIR]

The shared-password login: makes a new generated login password, stores its
hash (replacing the old one) and prints it once. A running hub uses it from its
next start; restart the hub. Without this command, deleting the setting
'shared_password_hash' from the table hub_settings has the same effect at the
next start. Not needed when auth.shared_password or GANYMEDE_SHARED_PASSWORD is
set: change that instead.
`,
  db: `Usage: ganymede db upgrade [--config FILE] [--data-dir DIR]

Brings the database schema up to date (the hub also does it at start).
`,
  token: `Usage: ganymede token NAME [--scopes a,b] [--admin] [--note TEXT] [--config FILE]

Prints a new API token for user NAME (created if missing).

  --scopes a,b          scopes of the token (default: inherit, all of the user's permissions)
  --admin               make the user an admin
  --note TEXT           a note stored with the token
`,
  config: `Usage: ganymede config check|show|generate [--config FILE]

  check                 validate the configuration; lists every problem, each with its key
  show                  print the effective configuration (secrets hidden)
  generate              print a commented YAML configuration with every option at its default;
                        uncomment a line (and its section's line) to set an option
`,
  version: `Usage: ganymede version (or ganymede --version)

Prints Ganymede's version and the JupyterHub REST API version it implements.
`,
};
