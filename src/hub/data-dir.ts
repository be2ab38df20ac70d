import { chmodSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

/** Files of the data dir that hold secrets (or the database): mode 0600. */
export const SECRET_FILES: readonly string[] = [
  'cookie_secret',
  'proxy_token',
  'ganymede.sqlite',
  'ganymede.sqlite-wal',
  'ganymede.sqlite-shm',
  'ganymede.sqlite-journal',
  'proxy-routes.json',
];

/**
 * Creates the hub's data dir readable by the hub alone (0700), and narrows an
 * existing one, and the secrets in it ({@link SECRET_FILES}: 0600), when their
 * modes are wider, saying so in the log. Users' servers must never read it:
 * it holds the cookie secret, the proxy token and the database.
 */
export function prepareDataDir(dataDir: string, log?: Logger): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  narrow(dataDir, 0o700, log);
  for (const name of SECRET_FILES) narrow(path.join(dataDir, name), 0o600, log);
}

/** chmod `file` to `mode` when it grants more than `mode` does; nothing when it is missing. */
function narrow(file: string, mode: number, log?: Logger): void {
  let current: number;
  try {
    current = statSync(file).mode & 0o7777;
  } catch {
    return;
  }
  if ((current & ~mode) === 0) return;
  chmodSync(file, mode);
  log?.warn({ file, was: `0${current.toString(8)}`, now: `0${mode.toString(8)}` }, 'narrowed the mode of a data dir entry: only the hub may read it');
}
