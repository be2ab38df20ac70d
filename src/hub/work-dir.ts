/**
 * The working directory of a server in the hub's data dir:
 * `<data_dir>/server-dirs/<key>`, where `<key>` is the pair's
 * {@link serverKey} (distinct for every (user, server) pair), checked with
 * {@link pathInside}.
 *
 * Hubs before issue 9 used `servers/<user>` and `servers/<user>--<server>`,
 * which two servers could share. The new directories live under another
 * parent, so a new key can never name an old directory (user `ka-b`'s key
 * `ka-2db` is also the old directory of a user called `ka-2db`). A default
 * server whose old directory could only have been its own (a user name without
 * `--`) gets that directory moved to its new place on its first start, so
 * nothing stored is left behind; any other old directory stays in `servers/`
 * for an administrator to move.
 */
import { lstat, mkdir, rename } from 'node:fs/promises';
import type { Logger } from 'pino';
import { pathInside } from '../lib/path-inside.js';
import { serverKey } from '../lib/server-key.js';

/** The directory under the data dir that holds every server's working directory. */
export const SERVER_DIRS = 'server-dirs';

/** Where hubs before issue 9 kept working directories (`servers/<user>[--<server>]`). */
const LEGACY_SERVER_DIRS = 'servers';

async function isDir(p: string): Promise<boolean | undefined> {
  try {
    return (await lstat(p)).isDirectory();
  } catch {
    return undefined;
  }
}

/** The old directory of a default server when it can only have been this user's, else undefined. */
function legacyDir(dataDir: string, user: string, server: string): string | undefined {
  if (server || user.includes('--') || /[/\\\0]|^\.+$/.test(user)) return undefined;
  return pathInside(dataDir, LEGACY_SERVER_DIRS, user);
}

/**
 * Creates (when missing) and returns the working directory of `user`'s server
 * `server` (`''`: the default server): `<dataDir>/server-dirs/<serverKey>`.
 *
 * @throws HubError (400) when the directory would not be inside `server-dirs/`.
 */
export async function serverWorkDir(dataDir: string, user: string, server: string, log?: Logger): Promise<string> {
  const dir = pathInside(dataDir, SERVER_DIRS, serverKey(user, server));
  const old = legacyDir(dataDir, user, server);
  if (old !== undefined && (await isDir(dir)) === undefined && (await isDir(old)) === true) {
    await mkdir(pathInside(dataDir, SERVER_DIRS), { recursive: true });
    await rename(old, dir);
    log?.info({ from: old, to: dir }, 'moved the working directory to its new place');
  }
  await mkdir(dir, { recursive: true });
  return dir;
}
