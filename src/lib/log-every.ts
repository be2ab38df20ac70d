/**
 * A log line written at most once per `ms` (per process), for warnings that
 * a client can cause on every request: the first one is written, the ones in
 * the next `ms` are counted, and the next line written says how many were not.
 */
export class LogEvery {
  private last = -Infinity;
  private skipped = 0;

  constructor(private readonly ms: number) {}

  /** Undefined while this line is quiet; otherwise how many were skipped since the last one written. */
  due(now = Date.now()): number | undefined {
    if (now - this.last < this.ms) {
      this.skipped++;
      return undefined;
    }
    this.last = now;
    const skipped = this.skipped;
    this.skipped = 0;
    return skipped;
  }
}
