import { SpawnError } from '../lib/errors.js';
import { sleep } from '../lib/time.js';
import { httpStatus } from '../lib/http-status.js';

/**
 * Waits until `url` answers HTTP with any status below 500 (redirects are not
 * followed), as JupyterHub decides a server is up. Checks `stillRunning`
 * between tries so a server that dies fails the wait at once.
 */
export async function waitForHttp(
  url: string,
  opts: { timeoutMs: number; signal?: AbortSignal; stillRunning?: () => Promise<boolean>; label: string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let delay = 10;
  let lastError = 'no answer';
  let tries = 0;
  while (Date.now() < deadline) {
    if (opts.signal?.aborted) throw new SpawnError(`Spawn of ${opts.label} was cancelled`, 'cancelled');
    try {
      const status = await httpStatus(url, Math.min(5000, Math.max(100, deadline - Date.now())));
      if (status < 500) return;
      lastError = `HTTP ${status}`;
    } catch (err) {
      lastError = (err as Error & { code?: string }).code ?? (err as Error).message;
    }
    tries++;
    if (opts.stillRunning && tries % 5 === 0 && !(await opts.stillRunning())) {
      throw new SpawnError(`Server ${opts.label} exited before it answered HTTP; see its log file`, 'exited');
    }
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), opts.signal).catch(() => undefined);
    // short waits: a server that starts is noticed within ~50 ms
    delay = Math.min(delay * 1.5, 50);
  }
  throw new SpawnError(`Server ${opts.label} did not answer HTTP within ${Math.round(opts.timeoutMs / 1000)} seconds (last: ${lastError})`, 'http-timeout');
}
