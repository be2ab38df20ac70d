/**
 * Coalesces questions about single jobs into one scheduler command
 * (service-account mode, `batch_query_all_cmd`): the start loops of 200
 * pending servers each ask every `startup_poll_interval`, and all questions
 * that arrive within one short window share one `squeue`.
 */

/** Answers for many jobs at once: one status per job id asked (a missing id means the command said nothing of it). */
export type QueryMany<T> = (jobIds: string[]) => Promise<Map<string, T>>;

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

/**
 * Gathers {@link query} calls for `windowMs`, then runs `queryMany` once for
 * every job id asked; while that command runs, new questions gather for the
 * next one (at most one command at a time).
 */
export class QueryBatcher<T> {
  private waiting = new Map<string, Waiter<T>[]>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  /**
   * @param queryMany runs the command and classifies its output per job id.
   * @param missing the answer for a job the command did not mention.
   * @param windowMs how long questions gather before the command runs.
   */
  constructor(
    private readonly queryMany: QueryMany<T>,
    private readonly missing: (jobId: string) => T,
    private readonly windowMs = 50,
  ) {}

  /** The status of one job, from the next shared command. Rejects when that command could not be run. */
  query(jobId: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const list = this.waiting.get(jobId) ?? [];
      list.push({ resolve, reject });
      this.waiting.set(jobId, list);
      this.schedule();
    });
  }

  /** Commands run so far (tests and benchmarks count them). */
  commands = 0;

  private schedule(): void {
    if (this.timer || this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.flush().finally(() => {
        this.running = undefined;
        if (this.waiting.size > 0) this.schedule();
      });
    }, this.windowMs);
  }

  private async flush(): Promise<void> {
    const batch = this.waiting;
    this.waiting = new Map();
    this.commands++;
    try {
      const answers = await this.queryMany([...batch.keys()]);
      for (const [id, waiters] of batch) {
        const answer = answers.has(id) ? answers.get(id)! : this.missing(id);
        for (const w of waiters) w.resolve(answer);
      }
    } catch (err) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
    }
  }
}
