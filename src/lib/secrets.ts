import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

/**
 * A secret from the first of `fromEnvOrConfig` that is set, else from `file`,
 * which is created (mode 0600, 32 random bytes as hex) the first time.
 */
export function persistentSecret(file: string, ...fromEnvOrConfig: (string | undefined)[]): string {
  const given = fromEnvOrConfig.find((v) => v !== undefined && v !== '');
  if (given) return given;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const secret = randomBytes(32).toString('hex');
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  }
}
