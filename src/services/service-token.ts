import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../lib/errors.js';
import type { ServiceConfig } from './service-config.js';

/** The shortest API token the hub accepts from config or from a file. */
export const MIN_SERVICE_TOKEN_LENGTH = 16;
/** Larger token files are refused (a token is a line, not a document). */
const MAX_TOKEN_FILE_BYTES = 4096;

/**
 * The API token a service's entry gives: `api_token`, or the first line of
 * `api_token_file` (read now: at start and at every reload), or undefined.
 * Throws a ConfigError naming the service for both keys, a missing or
 * unreadable file, or a token that is empty or too short. A file others may
 * read is accepted with a warning (Kubernetes mounts secrets 0644 by default).
 */
export function serviceToken(s: Pick<ServiceConfig, 'name' | 'api_token' | 'api_token_file'>, log: Logger): string | undefined {
  const where = `config: services: ${JSON.stringify(s.name)}`;
  if (s.api_token !== undefined && s.api_token_file !== undefined) {
    throw new ConfigError(`${where}: give api_token or api_token_file, not both`);
  }
  if (s.api_token_file === undefined) return s.api_token;
  const file = path.resolve(s.api_token_file);
  let text: string;
  try {
    // one open file, checked and read with a bound: a file that grows after a check, or one whose size the
    // kernel reports as 0 (/proc, /sys), is never read whole; O_NONBLOCK: opening a FIFO does not wait for a writer
    const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new ConfigError(`${where}: api_token_file ${file} is not a file`);
      const buf = Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1);
      let n = 0;
      for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
      if (n > MAX_TOKEN_FILE_BYTES) throw new ConfigError(`${where}: api_token_file ${file} is larger than ${MAX_TOKEN_FILE_BYTES} bytes; it should hold only the token`);
      if (st.mode & 0o004) log.warn({ service: s.name, file }, 'services: api_token_file is readable by every local account; make it 0600 or 0640');
      text = buf.subarray(0, n).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read by the hub (permission denied)' : `cannot be read (${code ?? String(err)})`;
    throw new ConfigError(`${where}: api_token_file ${file} ${why}`);
  }
  const token = (text.split(/\r?\n/, 1)[0] ?? '').trim();
  if (!token) throw new ConfigError(`${where}: api_token_file ${file} is empty`);
  if (token.length < MIN_SERVICE_TOKEN_LENGTH) {
    throw new ConfigError(`${where}: the token in api_token_file ${file} is shorter than ${MIN_SERVICE_TOKEN_LENGTH} characters`);
  }
  if (/\s/.test(token)) throw new ConfigError(`${where}: the token in api_token_file ${file} contains white space`);
  if (token.length > 256) throw new ConfigError(`${where}: the token in api_token_file ${file} is longer than 256 characters`);
  return token;
}
