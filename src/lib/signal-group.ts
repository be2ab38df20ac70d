/**
 * Signals the process group led by `pid` (a server or managed service
 * started as a group leader, with what it started), else the process alone;
 * a process already gone is no error.
 */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}
