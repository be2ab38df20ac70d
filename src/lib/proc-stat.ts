import { readFileSync } from 'node:fs';

/** The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses), or null when the process is gone. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * Field 22 of /proc/PID/stat: when the process started, in clock ticks since
 * boot, or null when it is gone. With the pid it tells one process from a
 * later one that got the same pid.
 */
export function startTicks(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

/** Whether the process has exited and waits for its parent to reap it (state `Z`). */
export function isZombie(pid: number): boolean {
  return statFields(pid)?.[0] === 'Z';
}
