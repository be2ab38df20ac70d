import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isZombie, startTicks } from '../lib/proc-stat.js';
import { signalGroup } from '../lib/signal-group.js';
import type { Logger } from 'pino';

/**
 * `<data_dir>/services/<name>.pid`: the pid and start time of a managed
 * service's process, so that a hub killed with `kill -9` does not leave a
 * second copy running beside the one the next hub starts (it would hold the
 * port, with a token the next hub no longer accepts).
 */


export function writePidFile(file: string, pid: number): void {
  try {
    writeFileSync(file, `${pid} ${startTicks(pid) ?? ''}\n`, { mode: 0o600 });
  } catch {
    // best effort: only a later clean-up depends on it
  }
}

export function removePidFile(file: string): void {
  rmSync(file, { force: true });
}

/** Stops the process a pid file names if it is still the same process (same start time): SIGTERM to its group, then SIGKILL. */
export async function stopLeftover(file: string, name: string, timeoutMs: number, log: Logger): Promise<void> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return;
  }
  removePidFile(file);
  const [pidText, ticks] = text.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 1 || !ticks || startTicks(pid) !== ticks) return;
  log.warn({ service: name, servicePid: pid }, 'a managed service left by an earlier hub process still runs; stopping it');
  const signal = (s: NodeJS.Signals) => signalGroup(pid, s);
  signal('SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (startTicks(pid) !== ticks || isZombie(pid)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  signal('SIGKILL');
}

