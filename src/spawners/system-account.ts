import { execFile } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { SpawnError } from '../lib/errors.js';

const execFileP = promisify(execFile);

/** A system (POSIX) account, as the name service (`getent passwd`) has it. */
export interface SystemAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Longest account name useradd and utmp accept. */
const MAX_ACCOUNT_NAME = 32;

/**
 * Why `name` is not a usable POSIX account name, or undefined when it is: the
 * portable characters (letters, digits, `.`, `_`, `-`), at most 32 of them,
 * starting with a letter or `_` (so never `-`, `.`, `..` or all digits, which
 * tools would read as an option, a path or a uid).
 */
export function accountNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > MAX_ACCOUNT_NAME) return `it is longer than ${MAX_ACCOUNT_NAME} characters`;
  if (!/^[A-Za-z_]/.test(name)) return 'it must start with a letter or `_`';
  const bad = /[^A-Za-z0-9._-]/.exec(name);
  if (bad) return `it contains ${JSON.stringify(bad[0])} (allowed: letters, digits, '.', '_', '-')`;
  return undefined;
}

/**
 * The system account name of hub user `username` from the template
 * `spawner.system_user_name` (`{username}` replaced). Throws SpawnError when
 * the result is not a valid account name.
 */
export function systemAccountName(template: string, username: string): string {
  const name = template.replaceAll('{username}', username);
  const problem = accountNameProblem(name);
  if (problem !== undefined) {
    const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
    throw new SpawnError(
      `Cannot run the server of ${JSON.stringify(username.slice(0, 80))}: its system account name ${shown} (spawner.system_user_name ${JSON.stringify(template)}) is not a valid account name: ${problem}`,
      'bad-account-name',
    );
  }
  return name;
}

/** Parses one `name:x:uid:gid:gecos:home:shell` line of passwd(5). */
export function parsePasswdLine(line: string): SystemAccount | undefined {
  const f = line.trim().split(':');
  if (f.length < 7 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) return undefined;
  return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! };
}

/**
 * Looks `name` up with `getent passwd` (so LDAP and other NSS sources count);
 * undefined when there is no such account. `name` must have passed
 * {@link accountNameProblem}.
 */
export async function lookupAccount(name: string): Promise<SystemAccount | undefined> {
  try {
    const { stdout } = await execFileP('getent', ['passwd', name], { timeout: 10_000 });
    const account = parsePasswdLine(stdout.split('\n')[0] ?? '');
    return account?.name === name ? account : undefined;
  } catch (err) {
    // getent exits 2 for "no such key"
    if ((err as { code?: unknown }).code === 2) return undefined;
    throw new SpawnError(`Cannot look up the system account ${JSON.stringify(name)}: ${(err as Error).message}`, 'account-lookup-failed');
  }
}

const creating = new Map<string, Promise<SystemAccount>>();

/**
 * Creates the account `name` with `useradd --create-home` and makes its home
 * 0700 (as The Littlest JupyterHub does for `jupyter-{username}`). Two spawns
 * asking for the same account at once share one useradd; an account created
 * meanwhile by someone else is taken as it is.
 */
export function createAccount(name: string, log: Logger): Promise<SystemAccount> {
  let pending = creating.get(name);
  if (!pending) {
    pending = runUseradd(name, log).finally(() => creating.delete(name));
    creating.set(name, pending);
  }
  return pending;
}

async function runUseradd(name: string, log: Logger): Promise<SystemAccount> {
  try {
    await execFileP('useradd', ['--create-home', '--', name], { timeout: 30_000 });
    log.info({ account: name }, 'created system account (spawner.create_system_users)');
  } catch (err) {
    const already = await lookupAccount(name);
    if (already) return already;
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new SpawnError(`Cannot create the system account ${JSON.stringify(name)} with useradd: ${stderr || (err as Error).message}`, 'account-create-failed');
  }
  const account = await lookupAccount(name);
  if (!account) throw new SpawnError(`useradd created ${JSON.stringify(name)} but the account cannot be found`, 'account-create-failed');
  try {
    await chmod(account.home, 0o700);
  } catch (err) {
    log.warn({ account: name, home: account.home, err: (err as Error).message }, 'could not make the new home directory 0700');
  }
  return account;
}
