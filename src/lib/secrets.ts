import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';

/**
 * A secret from the first of `fromEnvOrConfig` that is set, else from `file`,
 * which is created (mode 0600, 32 random bytes as hex) the first time; an
 * existing file readable by others is narrowed to 0600.
 */
export function persistentSecret(file: string, ...fromEnvOrConfig: (string | undefined)[]): string {
  const given = fromEnvOrConfig.find((v) => v !== undefined && v !== '');
  if (given) return given;
  let secret: string | undefined;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch {
    secret = undefined;
  }
  if (secret !== undefined) {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return secret;
  }
  const created = randomBytes(32).toString('hex');
  writeFileSync(file, `${created}\n`, { mode: 0o600, flag: 'wx' });
  return created;
}
