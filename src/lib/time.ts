/** ISO-8601 timestamp with a `Z`, as JupyterHub writes them. */
export function isoNow(): string {
  return new Date().toISOString();
}

export function isoIn(seconds: number): string {
  return new Date(Date.now() + seconds * 1000).toISOString();
}

/** Parses an ISO timestamp; returns null when it is not one. */
export function parseIso(text: unknown): Date | null {
  if (typeof text !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(text)) return null;
  const d = new Date(/[zZ]|[+-]\d{2}:?\d{2}$/.test(text) || !text.includes('T') ? text : `${text}Z`);
  return Number.isNaN(d.getTime()) ? null : d;
}

/**
 * Waits `ms`; rejects when `signal` aborts first. The abort listener is removed
 * when the wait ends either way, so a long-lived signal shared by many waits
 * (a spawn's, polled every few ms) does not collect listeners.
 */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * True when `work` resolves within `ms`, false when it is still running then;
 * rejects when `work` rejects first. The timer is cleared as soon as `work`
 * settles, so a finished wait leaves no timer behind (a race with `sleep`
 * keeps one, and with it the process, for the whole `ms`).
 */
export async function resolvesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What `work` resolves to, or a rejection naming `what` when it has not
 * settled within `ms` (its later outcome is then ignored).
 */
export async function answerWithin<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  work.catch(() => undefined);
  if (!(await resolvesWithin(work, ms))) throw new Error(`${what} gave no answer within ${Math.round(ms / 1000)} s`);
  return work;
}
