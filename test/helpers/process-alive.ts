/**
 * Whether a process id still answers signal 0, for tests that check a process
 * was stopped. A zombie (exited, not yet reaped) still counts as alive, and a
 * process of another user (EPERM) as gone; e2e.ts's `pidAlive` is the stricter
 * check for processes the test does not own.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
